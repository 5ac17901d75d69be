//! Who is calling: a staff member (session cookie for pages, bearer token for
//! API clients) or a platform operator (operator token). Each is an
//! extractor, so a handler that takes one cannot run unauthenticated.

use poem::http::Method;
use poem::{Request, RequestBody};
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};
use portico_tenants::Caller;
use portico_tenants::auth::SecretToken;
use portico_tenants::operators::Operator;
use portico_tenants::portal::PortalAuthenticated;
use portico_tenants::registry::Tenant;
use portico_tenants::staff::{SessionKind, StaffAuthenticated};

use crate::AppState;
use crate::client_info::client_info;
use crate::cookies::csrf_matches;
pub use crate::cookies::{
    CSRF_HEADER, PORTAL_COOKIE, SESSION_COOKIE, cookie_header, named_cookie, session_cookie,
};
use crate::error::ApiError;
use crate::tenancy::ResolvedTenant;
pub use crate::tenancy::tenant_of;

/// For the OpenAPI document only: how staff authenticate.
#[allow(dead_code)]
#[derive(SecurityScheme)]
#[oai(rename = "BearerToken", ty = "bearer", bearer_format = "opaque")]
struct BearerDoc(Bearer);

#[allow(dead_code)]
#[derive(SecurityScheme)]
#[oai(
    rename = "SessionCookie",
    ty = "api_key",
    key_name = "portico_session",
    key_in = "cookie"
)]
struct CookieDoc(ApiKey);

#[allow(dead_code)]
#[derive(SecurityScheme)]
#[oai(rename = "OperatorToken", ty = "bearer", bearer_format = "opaque")]
struct OperatorDoc(Bearer);

fn state_of(req: &Request) -> &AppState {
    req.data::<AppState>()
        .expect("AppState is installed on every route")
}

fn bearer_token(req: &Request) -> Result<Option<SecretToken>, ApiError> {
    let Some(value) = req.header("authorization") else {
        return Ok(None);
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .and_then(SecretToken::presented)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "invalid_authorization",
                "the Authorization header must be `Bearer <token>`",
            )
        })?;
    Ok(Some(token))
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cookie rides along with any cross-site request; on unsafe requests
/// the CSRF token proves the request came from our own page.
pub fn check_csrf(req: &Request, expected: &str) -> Result<(), ApiError> {
    if !is_unsafe(req.method()) {
        return Ok(());
    }
    let presented = req.header(CSRF_HEADER).ok_or_else(|| {
        ApiError::forbidden(
            "csrf_token_missing",
            "this request needs the X-CSRF-Token header",
        )
    })?;
    if !csrf_matches(presented, expected) {
        return Err(ApiError::forbidden(
            "csrf_token_invalid",
            "the X-CSRF-Token header does not match this session",
        ));
    }
    Ok(())
}

/// An authenticated staff member of the request's tenant, as the caller
/// every act of theirs goes through the door with.
pub struct StaffSession {
    pub caller: Caller,
}

impl StaffSession {
    async fn extract(req: &Request) -> Result<Self, ApiError> {
        let resolved = tenant_of(req)?;
        let state = state_of(req);
        let (token, kind) = match bearer_token(req)? {
            Some(t) => (t, SessionKind::Bearer),
            None => match session_cookie(req) {
                Some(t) => (t, SessionKind::Cookie),
                None => return Err(ApiError::unauthorized("unauthenticated", "log in first")),
            },
        };
        let caller = state
            .services
            .staff_caller(resolved.tenant.clone(), &token, client_info(req))
            .await?;
        crate::refusals::attempted_by(req, &caller);
        let who = caller.staff().expect("a staff caller");
        if who.session.kind != kind {
            return Err(ApiError::unauthorized(
                "invalid_session",
                "the session or token is not valid",
            ));
        }
        if kind == SessionKind::Cookie {
            check_csrf(req, &who.session.csrf_token)?;
        }
        Ok(Self { caller })
    }

    pub fn tenant(&self) -> &Tenant {
        &self.caller.tenant
    }

    pub fn who(&self) -> &StaffAuthenticated {
        self.caller.staff().expect("a staff caller")
    }
}

impl<'a> ApiExtractor<'a> for StaffSession {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <BearerDoc as ApiExtractor>::register(registry);
        <CookieDoc as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        vec!["BearerToken", "SessionCookie"]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self::extract(req).await?)
    }
}

/// An authenticated platform operator.
pub struct OperatorSession(pub Operator);

impl<'a> ApiExtractor<'a> for OperatorSession {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <OperatorDoc as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        vec!["OperatorToken"]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let token = bearer_token(req)?.ok_or_else(|| {
            ApiError::unauthorized(
                "unauthenticated",
                "send an operator token as `Authorization: Bearer <token>`",
            )
        })?;
        let operator = state_of(req)
            .services
            .authenticate_operator(&token)
            .await
            .map_err(|_| {
                ApiError::unauthorized("invalid_operator_token", "the operator token is not valid")
            })?;
        Ok(Self(operator))
    }
}

/// The tenant of a request, for what is not an act (a public page).
pub struct TenantOnly(pub ResolvedTenant);

impl<'a> poem::FromRequest<'a> for TenantOnly {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(tenant_of(req)?.clone()))
    }
}

/// Someone who needs no login (logging in, for one), as a caller.
pub struct VisitorCaller(pub Caller);

impl<'a> poem::FromRequest<'a> for VisitorCaller {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let tenant = tenant_of(req)?.tenant.clone();
        let caller = Caller::visitor(tenant, client_info(req));
        crate::refusals::attempted_by(req, &caller);
        Ok(Self(caller))
    }
}

/// A `Set-Cookie` value for the staff session cookie.
pub fn session_cookie_header(token: &str, path: &str, max_age_secs: u64, secure: bool) -> String {
    cookie_header(SESSION_COOKIE, token, path, max_age_secs, secure)
}

/// The portal session of a request, if it carries one (cookie or bearer).
/// A token that is present but dead is an error, so the patient learns their
/// session ended rather than silently acting as someone new.
pub async fn portal_session(req: &Request) -> Result<Option<Caller>, ApiError> {
    let resolved = tenant_of(req)?;
    let state = state_of(req);
    let (token, cookie) = match bearer_token(req)? {
        Some(t) => (t, false),
        None => match named_cookie(req, PORTAL_COOKIE) {
            Some(t) => (t, true),
            None => return Ok(None),
        },
    };
    let caller = state
        .services
        .patient_caller(resolved.tenant.clone(), &token, client_info(req))
        .await?;
    crate::refusals::attempted_by(req, &caller);
    let who = caller.patient().expect("a patient caller");
    if cookie {
        check_csrf(req, &who.session.csrf_token)?;
    }
    Ok(Some(caller))
}

/// A logged-in patient, as a caller.
pub struct PatientSession {
    pub caller: Caller,
}

impl PatientSession {
    pub fn tenant(&self) -> &Tenant {
        &self.caller.tenant
    }

    pub fn who(&self) -> &PortalAuthenticated {
        self.caller.patient().expect("a patient caller")
    }
}

impl<'a> ApiExtractor<'a> for PatientSession {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <PortalCookieDoc as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        vec!["PortalCookie"]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match portal_session(req).await? {
            Some(caller) => Ok(Self { caller }),
            None => Err(ApiError::unauthorized("unauthenticated", "log in first").into()),
        }
    }
}

/// A patient who may or may not be logged in (redeeming a code works both
/// ways): a patient caller, or a visitor.
pub struct MaybePatient(pub Caller);

impl<'a> poem::FromRequest<'a> for MaybePatient {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(match portal_session(req).await? {
            Some(caller) => caller,
            None => {
                let caller = Caller::visitor(tenant_of(req)?.tenant.clone(), client_info(req));
                crate::refusals::attempted_by(req, &caller);
                caller
            }
        }))
    }
}

#[allow(dead_code)]
#[derive(SecurityScheme)]
#[oai(
    rename = "PortalCookie",
    ty = "api_key",
    key_name = "portico_portal",
    key_in = "cookie"
)]
struct PortalCookieDoc(ApiKey);
