use std::sync::Arc;

use portico_tenants::Services;

use crate::links::Links;
use crate::tenancy::TenantDirectory;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub settings: Arc<WebSettings>,
    pub tenants: TenantDirectory,
    /// Every address the product hands out.
    pub links: Links,
}

/// What the web layer needs of the server's configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Take the client's address from `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// Our own proxies in front of the server (see `client_info`).
    pub trusted_proxy_hops: u32,
    /// Served over TLS (directly or behind a proxy that says so): cookies
    /// are `Secure` and links `https`.
    pub tls: bool,
    pub cookie_session_secs: u64,
    pub portal_session_secs: u64,
    pub max_body_bytes: usize,
    /// The largest plugin component an upload may carry.
    pub max_upload_bytes: usize,
}
