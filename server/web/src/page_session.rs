//! Sessions of the server-rendered pages, the console's and the portal's,
//! written once: which cookie carries them, how a page finds its signed-in
//! caller, how a form proves it came from that session's page (its CSRF
//! token, compared in constant time), and the cookies a login sets and a
//! logout clears.

use poem::http::StatusCode;
use poem::{Request, Response};
use portico_tenants::Caller;
use portico_tenants::auth::SecretToken;
use portico_tenants::staff::SessionKind;

use crate::AppState;
use crate::client_info::{client_info, is_secure};
pub use crate::cookies::csrf_matches;
use crate::cookies::{PORTAL_COOKIE, SESSION_COOKIE, cookie_header, named_cookie};
use crate::error::ApiError;
use crate::tenancy::ResolvedTenant;
use crate::tenancy::tenant_of;

/// The two trees of pages, each with a cookie of its own, so that a person
/// who is both staff and patient never mixes the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    Console,
    Portal,
}

impl Pages {
    fn cookie(self) -> &'static str {
        match self {
            Self::Console => SESSION_COOKIE,
            Self::Portal => PORTAL_COOKIE,
        }
    }

    /// The tree's root for `tenant`, as the browser reaches it.
    pub fn root(self, tenant: &ResolvedTenant) -> String {
        let prefix = tenant.path_prefix.as_deref().unwrap_or("");
        match self {
            Self::Console => format!("{prefix}/console"),
            Self::Portal => format!("{prefix}/portal"),
        }
    }

    /// The cookie that carries a login waiting for its second step, from
    /// the password page to the code page.
    fn pending_cookie(self) -> &'static str {
        match self {
            Self::Console => "portico_console_pending",
            Self::Portal => "portico_portal_pending",
        }
    }

    fn session_secs(self, state: &AppState) -> u64 {
        match self {
            Self::Console => state.settings.cookie_session_secs,
            Self::Portal => state.settings.portal_session_secs,
        }
    }
}

/// A signed-in caller on a page.
pub struct PageSession {
    pub pages: Pages,
    pub tenant: ResolvedTenant,
    pub caller: Caller,
}

impl PageSession {
    /// The caller behind the tree's cookie, if its session is live. A
    /// staff bearer token is not a page session.
    pub async fn current(
        pages: Pages,
        state: &AppState,
        req: &Request,
    ) -> poem::Result<Option<Self>> {
        let tenant = tenant_of(req)?.clone();
        let Some(token) = named_cookie(req, pages.cookie()) else {
            return Ok(None);
        };
        let found = match pages {
            Pages::Console => state
                .services
                .staff_caller(tenant.tenant.clone(), &token, client_info(req))
                .await
                .ok()
                .filter(|c| {
                    c.staff()
                        .is_some_and(|s| s.session.kind == SessionKind::Cookie)
                }),
            Pages::Portal => state
                .services
                .patient_caller(tenant.tenant.clone(), &token, client_info(req))
                .await
                .ok(),
        };
        if let Some(caller) = &found {
            crate::refusals::attempted_by(req, caller);
        }
        Ok(found.map(|caller| Self {
            pages,
            tenant,
            caller,
        }))
    }

    /// As [`PageSession::current`], for a page that needs one: otherwise
    /// the tree's login page.
    pub async fn required(pages: Pages, state: &AppState, req: &Request) -> poem::Result<Self> {
        match Self::current(pages, state, req).await? {
            Some(session) => Ok(session),
            None => {
                let login = format!("{}/login", pages.root(tenant_of(req)?));
                Err(poem::Error::from_response(redirect(&login)))
            }
        }
    }

    /// For a form post: a live session whose CSRF token the form carries.
    /// That the form came from our own origin is checked around both page
    /// trees (`same_origin`).
    pub async fn posting(
        pages: Pages,
        state: &AppState,
        req: &Request,
        csrf_token: &str,
    ) -> poem::Result<Self> {
        let session = Self::required(pages, state, req).await?;
        if !csrf_matches(csrf_token, session.csrf_token()) {
            return Err(ApiError::forbidden(
                "csrf_token_invalid",
                "this form does not belong to your session; reload the page and try again",
            )
            .into());
        }
        Ok(session)
    }

    /// The session's CSRF token, for the forms a page draws.
    pub fn csrf_token(&self) -> &str {
        match (self.caller.staff(), self.caller.patient()) {
            (Some(staff), _) => &staff.session.csrf_token,
            (_, Some(patient)) => &patient.session.csrf_token,
            _ => "",
        }
    }

    /// A page of this tree, `rest` starting with `/`.
    pub fn path(&self, rest: &str) -> String {
        format!("{}{rest}", self.pages.root(&self.tenant))
    }
}

/// The answer to a login on a page: the tree's cookie, and a redirect to
/// `to` within the tree.
pub fn signed_in(
    pages: Pages,
    state: &AppState,
    req: &Request,
    tenant: &ResolvedTenant,
    token: &SecretToken,
    to: &str,
) -> poem::Result<Response> {
    let cookie = cookie_header(
        pages.cookie(),
        token.expose(),
        tenant.cookie_path(),
        pages.session_secs(state),
        is_secure(req),
    );
    let done = cookie_header(
        pages.pending_cookie(),
        "",
        tenant.cookie_path(),
        0,
        is_secure(req),
    );
    let resp = with_cookie(redirect(&format!("{}{to}", pages.root(tenant))), &cookie)?;
    with_cookie(resp, &done)
}

/// The answer to a sign-in made by a page's script (a passkey): the
/// tree's cookie, and where to go as JSON (`{"to": …}`).
pub fn signed_in_json(
    pages: Pages,
    state: &AppState,
    req: &Request,
    tenant: &ResolvedTenant,
    token: &SecretToken,
    to: &str,
) -> poem::Result<Response> {
    let cookie = cookie_header(
        pages.cookie(),
        token.expose(),
        tenant.cookie_path(),
        pages.session_secs(state),
        is_secure(req),
    );
    let done = cookie_header(
        pages.pending_cookie(),
        "",
        tenant.cookie_path(),
        0,
        is_secure(req),
    );
    let body = serde_json::json!({ "to": format!("{}{to}", pages.root(tenant)) });
    let resp = Response::builder()
        .content_type("application/json")
        .header("cache-control", "no-store")
        .body(body.to_string());
    with_cookie(with_cookie(resp, &cookie)?, &done)
}

/// The answer to a right password when a second step follows: the
/// pending login in a short-lived cookie of its own, and a redirect to the
/// step's page `to`.
pub fn second_step(
    pages: Pages,
    req: &Request,
    tenant: &ResolvedTenant,
    pending: &portico_tenants::factors::PendingLogin,
    to: &str,
) -> poem::Result<Response> {
    let cookie = cookie_header(
        pages.pending_cookie(),
        pending.token.expose(),
        tenant.cookie_path(),
        portico_tenants::factors::PENDING_LOGIN_TTL.as_secs(),
        is_secure(req),
    );
    with_cookie(redirect(&format!("{}{to}", pages.root(tenant))), &cookie)
}

/// The login waiting for its second step in this tree, if any.
pub fn pending_login(pages: Pages, req: &Request) -> Option<SecretToken> {
    named_cookie(req, pages.pending_cookie())
}

/// The answer to a logout: the tree's cookie cleared, and a redirect.
pub fn signed_out(
    pages: Pages,
    req: &Request,
    tenant: &ResolvedTenant,
    to: &str,
) -> poem::Result<Response> {
    let cookie = cookie_header(pages.cookie(), "", tenant.cookie_path(), 0, is_secure(req));
    with_cookie(redirect(to), &cookie)
}

fn with_cookie(mut resp: Response, cookie: &str) -> poem::Result<Response> {
    resp.headers_mut().append(
        "set-cookie",
        cookie.parse().map_err(|_| ApiError::internal())?,
    );
    Ok(resp)
}

/// A `303 See Other` to `to`: after a form post, so reloading never
/// repeats it.
pub fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", to)
        .finish()
}
