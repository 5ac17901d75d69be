//! Who is on the other end: the client's address and user agent, for the
//! audit trail and the login throttle.

use poem::{FromRequest, Request, RequestBody};
use portico_tenants::audit::ClientInfo;

use crate::AppState;

/// The request's [`ClientInfo`], as an extractor.
pub struct Client(pub ClientInfo);

impl<'a> FromRequest<'a> for Client {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Client(client_info(req)))
    }
}

pub fn client_info(req: &Request) -> ClientInfo {
    let trust_proxy = req
        .data::<AppState>()
        .is_some_and(|s| s.settings.trust_proxy);
    let forwarded = trust_proxy
        .then(|| req.header("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
    let ip = forwarded.or_else(|| {
        req.remote_addr()
            .as_socket_addr()
            .map(|a| a.ip().to_string())
    });
    ClientInfo::new(ip, req.header("user-agent").map(str::to_owned))
}

/// True when the client reached us over TLS (directly or via a trusted
/// proxy), so cookies get the `Secure` attribute.
pub fn is_secure(req: &Request) -> bool {
    let Some(state) = req.data::<AppState>() else {
        return false;
    };
    state.settings.tls
        || (state.settings.trust_proxy && req.header("x-forwarded-proto") == Some("https"))
        || req.uri().scheme_str() == Some("https")
}
