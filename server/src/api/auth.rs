use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use portico_tenants::domain::{EmailAddress, NewPassword, PlainPassword};
use portico_tenants::staff::SessionKind;

use super::ApiTags;
use super::views::{StaffView, TenantView};
use portico_web::AppState;
use portico_web::auth::{StaffSession, VisitorCaller, session_cookie_header, tenant_of};
use portico_web::client_info::is_secure;
use portico_web::error::ApiResult;
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct AuthApi;

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct LoginRequest {
    #[oai(validator(max_length = 254))]
    pub email: Text,
    #[oai(validator(max_length = 256))]
    pub password: Text,
}

#[derive(Object)]
pub struct SessionView {
    pub staff: StaffView,
    /// Send this back as `X-CSRF-Token` on every request that changes
    /// something while using the session cookie.
    pub csrf_token: String,
    pub expires_at: String,
}

#[derive(Object)]
pub struct TokenView {
    pub staff: StaffView,
    /// Send as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    pub expires_at: String,
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Logged in; the session cookie is set.
    #[oai(status = 200)]
    Ok(Json<SessionView>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// Logged out; the session cookie is cleared.
    #[oai(status = 204)]
    Done(#[oai(header = "Set-Cookie")] String),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MeView {
    pub staff: StaffView,
    pub tenant: TenantView,
    pub roles: Vec<String>,
    /// Until when sensitive acts are allowed without confirming the password
    /// again; absent when there is no fresh confirmation.
    pub step_up_valid_until: Option<String>,
    /// `cookie` or `bearer`.
    pub session_kind: String,
    /// The CSRF token of a cookie session.
    pub csrf_token: Option<String>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct StepUpRequest {
    #[oai(validator(max_length = 256))]
    pub password: Text,
}

#[derive(Object)]
pub struct StepUpView {
    pub valid_until: String,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    #[oai(validator(max_length = 256))]
    pub current_password: Text,
    #[oai(validator(max_length = 256))]
    pub new_password: Text,
}

async fn login(
    state: &AppState,
    visitor: &VisitorCaller,
    body: LoginRequest,
    kind: SessionKind,
) -> ApiResult<portico_tenants::acts::staff::IssuedSession> {
    let email = EmailAddress::parse(&body.email)?;
    let password = PlainPassword::new(body.password.into_inner())?;
    Ok(state
        .services
        .staff_login(&visitor.0, &email, &password, kind)
        .await?)
}

#[OpenApi(prefix_path = "/v1/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Log in with a session cookie (for pages).
    ///
    /// An unknown email and a wrong password get the same answer, after the
    /// same time. Repeated failures lock the account and the address for a
    /// while (`429 too_many_attempts`, with `Retry-After`).
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        req: &Request,
        body: JsonBody<LoginRequest>,
    ) -> ApiResult<LoginResponse> {
        let issued = login(&state, &visitor, body.0, SessionKind::Cookie).await?;
        let max_age = state.settings.cookie_session_secs;
        let cookie = session_cookie_header(
            issued.token.expose(),
            tenant_of(req)?.cookie_path(),
            max_age,
            is_secure(req),
        );
        Ok(LoginResponse::Ok(
            Json(SessionView {
                staff: StaffView::from(&issued.staff),
                csrf_token: issued.csrf_token,
                expires_at: issued.expires_at.to_rfc3339(),
            }),
            cookie,
        ))
    }

    /// Get a bearer token for API clients.
    #[oai(path = "/tokens", method = "post")]
    async fn token(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        body: JsonBody<LoginRequest>,
    ) -> ApiResult<Json<TokenView>> {
        let issued = login(&state, &visitor, body.0, SessionKind::Bearer).await?;
        Ok(Json(TokenView {
            staff: StaffView::from(&issued.staff),
            token: issued.token.expose().to_owned(),
            expires_at: issued.expires_at.to_rfc3339(),
        }))
    }

    /// End this session (cookie or token).
    #[oai(path = "/logout", method = "post")]
    async fn logout(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        req: &Request,
    ) -> ApiResult<LogoutResponse> {
        state.services.staff_logout(&session.caller).await?;
        let path = portico_web::auth::tenant_of(req)
            .map(|t| t.cookie_path().to_owned())
            .unwrap_or_else(|_| "/".into());
        Ok(LogoutResponse::Done(session_cookie_header(
            "",
            &path,
            0,
            is_secure(req),
        )))
    }

    /// Who am I: the staff member, their roles, and the state of the session.
    #[oai(path = "/me", method = "get")]
    async fn me(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<MeView>> {
        let services = &state.services;
        let who = session.who();
        let member = services.staff_get(&session.caller, who.staff_id()).await?;
        let roles = services.authz.roles_of(session.tenant(), member.id).await?;
        let cookie = who.session.kind == SessionKind::Cookie;
        Ok(Json(MeView {
            staff: StaffView::from(&member),
            tenant: TenantView::from(session.tenant()),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            step_up_valid_until: services
                .step_up_valid_until(&session.caller)
                .map(|t| t.to_rfc3339()),
            session_kind: who.session.kind.as_str().into(),
            csrf_token: cookie.then(|| who.session.csrf_token.clone()),
        }))
    }

    /// Confirm your password again before a sensitive act ("step-up").
    ///
    /// Sensitive acts answer `403 step_up_required` until this succeeds; it
    /// then counts for a few minutes in this session.
    #[oai(path = "/step-up", method = "post")]
    async fn step_up(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<StepUpRequest>,
    ) -> ApiResult<Json<StepUpView>> {
        let password = PlainPassword::new(body.0.password.into_inner())?;
        let until = state
            .services
            .staff_step_up(&session.caller, &password)
            .await?;
        Ok(Json(StepUpView {
            valid_until: until.to_rfc3339(),
        }))
    }

    /// Change your password. Your other sessions end.
    #[oai(path = "/password", method = "post")]
    async fn change_password(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<PasswordChangeRequest>,
    ) -> ApiResult<()> {
        let body = body.0;
        let current = PlainPassword::new(body.current_password.into_inner())?;
        let new = NewPassword::parse(body.new_password.into_inner())?;
        state
            .services
            .staff_change_password(&session.caller, &current, &new)
            .await?;
        Ok(())
    }
}
