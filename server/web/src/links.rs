//! Every address the product hands out, named once: a clinic's portal and
//! console, the registration page an access link opens, and the pages the
//! emailed reset and verification links open. Mail, the API and the pages
//! all build their links here.

use std::sync::Arc;

use portico_tenants::registry::Tenant;

/// How clinics are reached from outside.
#[derive(Debug, Clone)]
pub struct Links {
    /// Where people reach this server, without a trailing slash.
    public_base: Arc<str>,
    /// The base domain clinics get subdomains of (`localhost` for none).
    base_domain: Arc<str>,
    /// Whether the server was given a public address (so subdomains work).
    public: bool,
    tls: bool,
}

impl Links {
    pub fn new(public_base: &str, base_domain: &str, public: bool, tls: bool) -> Self {
        Self {
            public_base: public_base.trim_end_matches('/').into(),
            base_domain: base_domain.into(),
            public,
            tls,
        }
    }

    /// The root of a clinic's pages: its custom domain, its subdomain of
    /// the base domain, or `/t/{slug}` on this server.
    pub fn tenant_base(&self, tenant: &Tenant) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        if let Some(domain) = &tenant.custom_domain {
            return format!("{scheme}://{domain}");
        }
        if &*self.base_domain != "localhost" && self.public {
            return format!("{scheme}://{}.{}", tenant.slug, self.base_domain);
        }
        format!("{}/t/{}", self.public_base, tenant.slug)
    }

    /// The clinic as a passkeys' relying party: the host its pages are
    /// reached on, from this configuration, never from a request's headers.
    pub fn relying_party(
        &self,
        tenant: &Tenant,
    ) -> Result<portico_tenants::factors::passkey::RelyingParty, crate::error::ApiError> {
        portico_tenants::factors::passkey::RelyingParty::for_base(
            &self.tenant_base(tenant),
            tenant.display_name.as_str(),
        )
        .map_err(|e| portico_tenants::DomainError::from(e).into())
    }

    /// A page of the clinic's portal, `rest` starting with `/`.
    pub fn portal(&self, tenant: &Tenant, rest: &str) -> String {
        format!("{}/portal{rest}", self.tenant_base(tenant))
    }

    /// The registration page with `code` in its fragment: browsers never
    /// send a fragment to a server or in a Referer header, so the code
    /// cannot reach a log or a third party.
    pub fn access_link(&self, tenant: &Tenant, code: &str) -> String {
        self.portal(tenant, &format!("/register#code={code}"))
    }

    /// The access link as mailed to `to`: the address rides in the
    /// fragment too, so the page fills in the email field (the patient
    /// may change it), and it reaches no server either.
    pub fn access_link_to(&self, tenant: &Tenant, code: &str, to: &str) -> String {
        let to = percent_encoding::utf8_percent_encode(to, percent_encoding::NON_ALPHANUMERIC);
        self.portal(tenant, &format!("/register#code={code}&email={to}"))
    }

    /// The registration page itself, as printed on a handout.
    pub fn registration(&self, tenant: &Tenant) -> String {
        self.portal(tenant, "/register")
    }

    /// The portal's login page, where notices send people.
    pub fn portal_login(&self, tenant: &Tenant) -> String {
        self.portal(tenant, "/login")
    }

    /// The page a password-reset mail opens, the token in its fragment.
    pub fn password_reset(&self, tenant: &Tenant, token: &str) -> String {
        self.portal(tenant, &format!("/reset-password#token={token}"))
    }

    /// The page an address-confirmation mail opens.
    pub fn email_verification(&self, tenant: &Tenant, token: &str) -> String {
        self.portal(tenant, &format!("/verify-email#token={token}"))
    }

    /// A page of the clinic's console.
    pub fn console(&self, tenant: &Tenant, rest: &str) -> String {
        format!("{}/console{rest}", self.tenant_base(tenant))
    }

    /// The name a clinic's own host must point at (its CNAME).
    pub fn dns_target(&self, tenant: &Tenant) -> String {
        format!("{}.{}", tenant.slug, self.base_domain)
    }

    /// A SmartForm's page in the portal.
    pub fn form(&self, tenant: &Tenant, assignment: &str) -> String {
        self.portal(tenant, &format!("/forms/{assignment}"))
    }
}
