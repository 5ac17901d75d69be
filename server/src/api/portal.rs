//! The patient portal's account: logging in and out, the account and the
//! records it holds (and which one the portal shows), registering without a
//! code, confirming an email address, resetting the password and changing
//! the email. Redeeming an access code is in `redeem`, which answers with
//! the views and sets the cookie defined here.

use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use portico_tenants::acts::portal_account::Registration;
use portico_tenants::acts::portal_factors::PortalSignIn;
use portico_tenants::acts::portal_login::PortalLogin;
use portico_tenants::auth::SecretToken;
use portico_tenants::domain::{
    DateOfBirth, DisplayName, EmailAddress, NewPassword, PhoneNumber, PlainPassword, Username,
    ZipCode,
};
use portico_tenants::portal::NewPatientForm;
use portico_tenants::portal::{GrantView, PortalAccount};

use super::ApiTags;
use super::patients::parse_patient_id;
use portico_web::AppState;
use portico_web::auth::{PORTAL_COOKIE, PatientSession, VisitorCaller, cookie_header, tenant_of};
use portico_web::client_info::is_secure;
use portico_web::error::{ApiError, ApiResult};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct PortalApi;

#[derive(Object)]
pub struct AccountView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
}

impl From<&PortalAccount> for AccountView {
    fn from(a: &PortalAccount) -> Self {
        Self {
            id: a.id.to_string(),
            username: a.username.to_string(),
            email: a.email.to_string(),
            email_verified: a.email_verified_at.is_some(),
        }
    }
}

#[derive(Object)]
pub struct RecordView {
    pub patient_id: String,
    pub full_name: String,
    pub date_of_birth: String,
    /// What this account is to the patient: `self`, `parent` or
    /// `caregiver`.
    pub relation: String,
    /// Whether the account sees less than the whole record (a teenager's
    /// parent, or a caregiver not allowed confidential items).
    pub limited: bool,
}

impl From<&GrantView> for RecordView {
    fn from(g: &GrantView) -> Self {
        Self {
            patient_id: g.patient_id.to_string(),
            full_name: g.patient_name.clone(),
            date_of_birth: g.date_of_birth.to_string(),
            relation: g.relation.as_str().into(),
            limited: g.is_limited(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PortalSessionView {
    pub account: AccountView,
    pub records: Vec<RecordView>,
    /// The record the portal is showing; switch with `/records/{id}/select`.
    pub active_record: Option<String>,
    /// Send as `X-CSRF-Token` on requests that change something.
    pub csrf_token: String,
    /// After a second step with `trust_device`: send it as
    /// `trusted_device_token` with later logins to skip the second step
    /// for 30 days. Shown once.
    pub trusted_device_token: Option<String>,
}

#[derive(ApiResponse)]
pub enum SessionResponse {
    /// Logged in; the portal cookie is set.
    #[oai(status = 200)]
    Ok(
        Json<PortalSessionView>,
        #[oai(header = "Set-Cookie")] String,
    ),
}

#[derive(ApiResponse)]
pub enum PortalLoginResponse {
    /// Logged in; the portal cookie is set.
    #[oai(status = 200)]
    Ok(
        Json<PortalSessionView>,
        #[oai(header = "Set-Cookie")] String,
    ),
    /// The password was right and the account has a second step: finish
    /// with `/v1/portal/login/second-step` (or `/v1/portal/passkey-login`).
    #[oai(status = 202)]
    SecondStep(Json<super::portal_factors::PortalSecondStepView>),
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PortalLoginRequest {
    /// Your username, or your email address.
    #[oai(validator(max_length = 254))]
    pub login: Text,
    #[oai(validator(max_length = 256))]
    pub password: Text,
    /// From an earlier second step with `trust_device`: skips the second
    /// step while the device is trusted.
    #[oai(validator(max_length = 128))]
    pub trusted_device_token: Option<Text>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct NewPatientRequest {
    #[oai(validator(max_length = 120))]
    pub full_name: Text,
    #[oai(validator(max_length = 10))]
    pub date_of_birth: Text,
    #[oai(validator(max_length = 32))]
    pub phone: Option<Text>,
    #[oai(validator(max_length = 10))]
    pub home_zip: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct RegisterRequest {
    #[oai(validator(max_length = 64))]
    pub username: Option<Text>,
    #[oai(validator(max_length = 254))]
    pub email: Text,
    #[oai(validator(max_length = 256))]
    pub password: Text,
    /// The clinic's registration form, for a new patient.
    pub new_patient: Option<NewPatientRequest>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct TokenRequest {
    #[oai(validator(max_length = 128))]
    pub token: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct ResetRequest {
    #[oai(validator(max_length = 254))]
    pub login: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct ResetConfirmRequest {
    #[oai(validator(max_length = 128))]
    pub token: Text,
    #[oai(validator(max_length = 256))]
    pub new_password: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct EmailChangeRequest {
    #[oai(validator(max_length = 254))]
    pub new_email: Text,
    #[oai(validator(max_length = 256))]
    pub password: Text,
}

#[derive(ApiResponse)]
pub enum Accepted {
    /// Accepted; if it applies, a mail is on its way.
    #[oai(status = 202)]
    Accepted,
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    #[oai(status = 204)]
    Done(#[oai(header = "Set-Cookie")] String),
}

fn link_token(raw: &str) -> Result<SecretToken, ApiError> {
    SecretToken::presented(raw.trim()).ok_or_else(|| {
        ApiError::new(
            poem::http::StatusCode::GONE,
            "link_invalid",
            "This link has expired or was already used. Ask for a new one.",
        )
    })
}

pub(super) fn portal_cookie(
    state: &AppState,
    req: &Request,
    token: &str,
    max_age: u64,
) -> Result<String, ApiError> {
    let path = tenant_of(req)?.cookie_path().to_owned();
    let _ = state;
    Ok(cookie_header(
        PORTAL_COOKIE,
        token,
        &path,
        max_age,
        is_secure(req),
    ))
}

#[OpenApi(prefix_path = "/v1/portal", tag = "ApiTags::Portal")]
impl PortalApi {
    /// Log in with a username or email and your password.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        req: &Request,
        body: JsonBody<PortalLoginRequest>,
    ) -> ApiResult<PortalLoginResponse> {
        let login = PortalLogin {
            login: body.0.login.into_inner(),
            password: PlainPassword::new(body.0.password.into_inner())?,
        };
        // A token that is not one is as good as none: the second step asks.
        let device = body
            .0
            .trusted_device_token
            .as_deref()
            .and_then(|raw| SecretToken::presented(raw.trim()));
        match state
            .services
            .portal_login(&visitor.0, &login, device.as_ref())
            .await?
        {
            PortalSignIn::Signed(issued) => {
                let SessionResponse::Ok(view, cookie) =
                    super::portal_factors::signed_in(&state, req, &visitor, issued, None).await?;
                Ok(PortalLoginResponse::Ok(view, cookie))
            }
            PortalSignIn::SecondStep(step) => {
                Ok(PortalLoginResponse::SecondStep(Json(step.into())))
            }
        }
    }

    /// End this portal session.
    #[oai(path = "/logout", method = "post")]
    async fn logout(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        req: &Request,
    ) -> ApiResult<LogoutResponse> {
        state.services.portal_logout(&session.caller).await?;
        Ok(LogoutResponse::Done(portal_cookie(&state, req, "", 0)?))
    }

    /// The account and the records it holds now.
    #[oai(path = "/me", method = "get")]
    async fn me(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
    ) -> ApiResult<Json<PortalSessionView>> {
        let (account, records) = state.services.portal_me(&session.caller).await?;
        let active = session
            .who()
            .session
            .active_patient
            .filter(|p| records.iter().any(|r| r.patient_id == *p))
            .or_else(|| records.first().map(|r| r.patient_id));
        Ok(Json(PortalSessionView {
            account: AccountView::from(&account),
            records: records.iter().map(RecordView::from).collect(),
            active_record: active.map(|p| p.to_string()),
            csrf_token: session.who().session.csrf_token.clone(),
            trusted_device_token: None,
        }))
    }

    /// One record the account holds. Answers 404 as soon as the clinic
    /// revokes the grant or turns the record's portal access off.
    #[oai(path = "/records/:id", method = "get")]
    async fn record(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
    ) -> ApiResult<Json<RecordView>> {
        let patient = parse_patient_id(&id.0)
            .map_err(|_| ApiError::not_found("not_found", "record not found"))?;
        let grant = state
            .services
            .portal_record(&session.caller, patient)
            .await?;
        Ok(Json(RecordView::from(&grant)))
    }

    /// Show another record the account holds (family members).
    #[oai(path = "/records/:id/select", method = "post")]
    async fn select(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
    ) -> ApiResult<Json<RecordView>> {
        let patient = parse_patient_id(&id.0)
            .map_err(|_| ApiError::not_found("not_found", "record not found"))?;
        let grant = state
            .services
            .portal_switch(&session.caller, patient)
            .await?;
        Ok(Json(RecordView::from(&grant)))
    }

    /// Register without a code (as when booking online), optionally as a
    /// new patient through the clinic's registration form. A confirmation
    /// link is mailed; nothing is created until it is followed, and then
    /// the account opens (and a new patient's record with it). The answer
    /// is the same whether or not the address already has an account: if
    /// it has, its owner is mailed a way to log in instead.
    #[oai(path = "/register", method = "post")]
    async fn register(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        body: JsonBody<RegisterRequest>,
    ) -> ApiResult<Accepted> {
        let b = body.0;
        let new_patient = b
            .new_patient
            .map(|p| -> Result<NewPatientForm, ApiError> {
                Ok(NewPatientForm {
                    full_name: DisplayName::parse("full_name", &p.full_name)?,
                    date_of_birth: DateOfBirth::parse(&p.date_of_birth)?,
                    phone: p
                        .phone
                        .filter(|x| !x.trim().is_empty())
                        .map(|x| PhoneNumber::parse(&x))
                        .transpose()?,
                    home_zip: ZipCode::parse(&p.home_zip)?,
                })
            })
            .transpose()?;
        let registration = Registration {
            username: b
                .username
                .filter(|u| !u.trim().is_empty())
                .map(|u| Username::parse(&u))
                .transpose()?,
            email: EmailAddress::parse(&b.email)?,
            password: NewPassword::parse(b.password.into_inner()).map_err(|e| e.at("password"))?,
            new_patient,
        };
        state
            .services
            .portal_register(&visitor.0, registration)
            .await?;
        Ok(Accepted::Accepted)
    }

    /// Follow a mailed confirmation link: verifies the address (or a new
    /// address), and opens a self-registered record.
    #[oai(path = "/verify-email", method = "post")]
    async fn verify_email(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        body: JsonBody<TokenRequest>,
    ) -> ApiResult<Json<AccountView>> {
        let token = link_token(&body.0.token)?;
        let account = state
            .services
            .portal_confirm_email(&visitor.0, &token)
            .await?;
        Ok(Json(AccountView::from(&account)))
    }

    /// Forgot your password: a reset link is mailed if an account matches.
    /// The answer is the same either way.
    #[oai(path = "/password-reset", method = "post")]
    async fn request_reset(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        body: JsonBody<ResetRequest>,
    ) -> ApiResult<Accepted> {
        state
            .services
            .portal_request_password_reset(&visitor.0, body.0.login.trim())
            .await?;
        Ok(Accepted::Accepted)
    }

    /// Set a new password from a reset link. Every session of the account
    /// ends.
    #[oai(path = "/password-reset/confirm", method = "post")]
    async fn confirm_reset(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        body: JsonBody<ResetConfirmRequest>,
    ) -> ApiResult<Json<AccountView>> {
        let token = link_token(&body.0.token)?;
        let password = NewPassword::parse(body.0.new_password.into_inner())?;
        let account = state
            .services
            .portal_reset_password(&visitor.0, &token, &password)
            .await?;
        Ok(Json(AccountView::from(&account)))
    }

    /// Change your email address. The new address must confirm by its
    /// link before it takes effect; the old address is told.
    #[oai(path = "/email", method = "post")]
    async fn change_email(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        body: JsonBody<EmailChangeRequest>,
    ) -> ApiResult<Accepted> {
        let email = EmailAddress::parse(&body.0.new_email)?;
        let password = PlainPassword::new(body.0.password.into_inner())?;
        state
            .services
            .portal_request_email_change(&session.caller, &email, &password)
            .await?;
        Ok(Accepted::Accepted)
    }

    /// Change your password. Your other sessions end; this one stays.
    #[oai(path = "/password", method = "post")]
    async fn change_password(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        body: JsonBody<super::auth::PasswordChangeRequest>,
    ) -> ApiResult<()> {
        let body = body.0;
        let current = PlainPassword::new(body.current_password.into_inner())
            .map_err(|e| e.at("current_password"))?;
        let new = NewPassword::parse(body.new_password.into_inner())?;
        state
            .services
            .portal_change_password(&session.caller, &current, &new)
            .await?;
        Ok(())
    }

    /// Log out everywhere: every session of this account ends, this one
    /// too (a phone left behind, a shared computer).
    #[oai(path = "/logout-everywhere", method = "post")]
    async fn logout_everywhere(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        req: &Request,
    ) -> ApiResult<LogoutResponse> {
        state
            .services
            .portal_logout_everywhere(&session.caller)
            .await?;
        Ok(LogoutResponse::Done(portal_cookie(&state, req, "", 0)?))
    }
}
