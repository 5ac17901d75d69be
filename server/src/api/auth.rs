use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use portico_tenants::acts::staff::{IssuedSession, StaffLogin};
use portico_tenants::auth::SecretToken;
use portico_tenants::domain::{EmailAddress, NewPassword, PlainPassword};
use portico_tenants::factors::{SecondFactorAnswer, TotpCode};
use portico_tenants::staff::SessionKind;

use super::ApiTags;
use super::views::{StaffView, TenantView};
use portico_web::AppState;
use portico_web::auth::{StaffSession, VisitorCaller, session_cookie_header, tenant_of};
use portico_web::client_info::is_secure;
use portico_web::error::{ApiError, ApiResult};
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
    /// The password was right and the staff member has a second factor:
    /// send a code with `pending_token` to `/v1/auth/login/second-step`.
    #[oai(status = 202)]
    SecondStep(Json<SecondStepView>),
}

#[derive(ApiResponse)]
pub enum TokenResponse {
    /// The token, shown once.
    #[oai(status = 200)]
    Ok(Json<TokenView>),
    /// The password was right and the staff member has a second factor:
    /// send a code with `pending_token` to `/v1/auth/tokens/second-step`.
    #[oai(status = 202)]
    SecondStep(Json<SecondStepView>),
}

/// A login waiting for its second step.
#[derive(Object)]
pub struct SecondStepView {
    /// Send this back with the code, within `expires_at`. Used once.
    pub pending_token: String,
    pub expires_at: String,
    /// What the second step accepts from this person: `totp` (the 6
    /// digits of an authenticator app), `passkey` (in a browser, through
    /// `/v1/auth/passkey-login`) and `recovery_code`.
    pub methods: Vec<String>,
}

impl From<portico_tenants::factors::PendingLogin> for SecondStepView {
    fn from(p: portico_tenants::factors::PendingLogin) -> Self {
        Self {
            pending_token: p.token.expose().to_owned(),
            expires_at: p.expires_at.to_rfc3339(),
            methods: p.methods.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct SecondStepRequest {
    /// From the answer to the password.
    #[oai(validator(max_length = 128))]
    pub pending_token: Text,
    /// The 6 digits your authenticator app shows, or one of your recovery
    /// codes.
    #[oai(validator(max_length = 64))]
    pub code: Text,
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

/// Either your password or a code from your authenticator app.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct StepUpRequest {
    #[oai(validator(max_length = 256))]
    pub password: Option<Text>,
    /// The 6 digits your authenticator app shows.
    #[oai(validator(max_length = 64))]
    pub code: Option<Text>,
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
) -> ApiResult<StaffLogin> {
    let email = EmailAddress::parse(&body.email)?;
    let password = PlainPassword::new(body.password.into_inner())?;
    Ok(state
        .services
        .staff_login(&visitor.0, &email, &password, kind)
        .await?)
}

fn cookie_session(
    state: &AppState,
    req: &Request,
    issued: IssuedSession,
) -> ApiResult<LoginResponse> {
    let cookie = session_cookie_header(
        issued.token.expose(),
        tenant_of(req)?.cookie_path(),
        state.settings.cookie_session_secs,
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

fn token_view(issued: IssuedSession) -> TokenView {
    TokenView {
        staff: StaffView::from(&issued.staff),
        token: issued.token.expose().to_owned(),
        expires_at: issued.expires_at.to_rfc3339(),
    }
}

async fn second_step(
    state: &AppState,
    visitor: &VisitorCaller,
    body: SecondStepRequest,
    kind: SessionKind,
) -> ApiResult<IssuedSession> {
    let pending = SecretToken::presented(&body.pending_token).ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_field",
            "pending_token must be the token the password step gave",
        )
        .with_field("pending_token")
    })?;
    let answer = SecondFactorAnswer::parse(&body.code)?;
    Ok(state
        .services
        .staff_login_second_step(&visitor.0, &pending, &answer, kind)
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
        match login(&state, &visitor, body.0, SessionKind::Cookie).await? {
            StaffLogin::Signed(issued) => cookie_session(&state, req, issued),
            StaffLogin::SecondStep(pending) => Ok(LoginResponse::SecondStep(Json(pending.into()))),
        }
    }

    /// The second step of a login with a session cookie: a code from your
    /// authenticator app, or one of your recovery codes.
    ///
    /// A wrong code answers `401 wrong_code` and counts against the same
    /// limits as a wrong password; `401 login_expired` means the pending
    /// login is spent or older than five minutes: log in again.
    #[oai(path = "/login/second-step", method = "post")]
    async fn login_second_step(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        req: &Request,
        body: JsonBody<SecondStepRequest>,
    ) -> ApiResult<LoginResponse> {
        let issued = second_step(&state, &visitor, body.0, SessionKind::Cookie).await?;
        cookie_session(&state, req, issued)
    }

    /// Get a bearer token for API clients.
    ///
    /// A staff member with a second factor gets `202` and a
    /// `pending_token` instead: send it with a code to
    /// `/v1/auth/tokens/second-step`.
    #[oai(path = "/tokens", method = "post")]
    async fn token(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        body: JsonBody<LoginRequest>,
    ) -> ApiResult<TokenResponse> {
        Ok(
            match login(&state, &visitor, body.0, SessionKind::Bearer).await? {
                StaffLogin::Signed(issued) => TokenResponse::Ok(Json(token_view(issued))),
                StaffLogin::SecondStep(pending) => TokenResponse::SecondStep(Json(pending.into())),
            },
        )
    }

    /// The second step of getting a bearer token: a code from your
    /// authenticator app, or one of your recovery codes.
    #[oai(path = "/tokens/second-step", method = "post")]
    async fn token_second_step(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        body: JsonBody<SecondStepRequest>,
    ) -> ApiResult<Json<TokenView>> {
        let issued = second_step(&state, &visitor, body.0, SessionKind::Bearer).await?;
        Ok(Json(token_view(issued)))
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

    /// Confirm who you are again before a sensitive act ("step-up"), with
    /// your password or a code from your authenticator app.
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
        let services = &state.services;
        let until = match (body.0.password, body.0.code) {
            (Some(password), None) => {
                let password = PlainPassword::new(password.into_inner())?;
                services.staff_step_up(&session.caller, &password).await?
            }
            (None, Some(code)) => {
                let code = TotpCode::parse(&code)?;
                services
                    .staff_step_up_with_code(&session.caller, &code)
                    .await?
            }
            _ => {
                return Err(ApiError::unprocessable(
                    "invalid_field",
                    "send either password or code (the 6 digits of your authenticator app), not both",
                )
                .with_field("password"));
            }
        };
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
