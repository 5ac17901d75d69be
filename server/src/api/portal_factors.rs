//! A patient's two-step sign-in over the API: the second step of a login
//! (a code from an app or the mail, a recovery code, a passkey), signing in
//! with a passkey alone, and the account's own settings for it. Every
//! change asks for the password again.

use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use portico_tenants::acts::passkeys::ChallengeFor;
use portico_tenants::acts::portal_factors::{
    PortalFactors, PortalSecondStep, PortalSecondStepDone,
};
use portico_tenants::acts::portal_login::PortalSessionIssued;
use portico_tenants::auth::SecretToken;
use portico_tenants::domain::{DisplayName, FactorId, PlainPassword};
use portico_tenants::factors::{SecondFactorAnswer, TotpCode, TrustedDevice};

use super::ApiTags;
use super::factors::{
    FactorAddedView, FactorView, PasskeyOptionsView, RecoveryCodesView, TotpSetupView, answer,
    ceremony,
};
use super::portal::{AccountView, PortalSessionView, RecordView, SessionResponse, portal_cookie};
use portico_web::AppState;
use portico_web::auth::{PatientSession, VisitorCaller};
use portico_web::error::{ApiError, ApiResult};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct PortalFactorsApi;

/// A login waiting for its second step.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PortalSecondStepView {
    /// Send this back with the code, within `expires_at`. Used once.
    pub pending_token: String,
    pub expires_at: String,
    /// What the second step accepts: `totp` (an authenticator app's 6
    /// digits), `passkey` (through `/v1/portal/passkey-login`),
    /// `email_code` (6 digits mailed on request, or at once when it is the
    /// only way) and `recovery_code`.
    pub methods: Vec<String>,
    /// Where a code by email goes, masked (`m•••@example.org`).
    pub email_hint: Option<String>,
    /// Whether a code was mailed already.
    pub email_code_sent: bool,
}

impl From<PortalSecondStep> for PortalSecondStepView {
    fn from(s: PortalSecondStep) -> Self {
        Self {
            pending_token: s.pending.token.expose().to_owned(),
            expires_at: s.pending.expires_at.to_rfc3339(),
            methods: s.pending.methods.iter().map(|m| (*m).to_owned()).collect(),
            email_hint: s.email_hint,
            email_code_sent: s.email_code_sent,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TrustedDeviceView {
    pub id: String,
    /// The browser, as it named itself ("Firefox on Linux").
    pub label: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: String,
}

impl From<&TrustedDevice> for TrustedDeviceView {
    fn from(d: &TrustedDevice) -> Self {
        Self {
            id: d.id.clone(),
            label: d.label.clone(),
            created_at: d.created_at.to_rfc3339(),
            last_used_at: d.last_used_at.map(|t| t.to_rfc3339()),
            expires_at: d.expires_at.to_rfc3339(),
        }
    }
}

#[derive(Object)]
pub struct PortalFactorsView {
    /// Authenticator apps and passkeys.
    pub factors: Vec<FactorView>,
    /// Whether a code by email is asked at each sign-in: because you chose
    /// it, or because your clinic requires a second step and you set up
    /// nothing else.
    pub email_codes: bool,
    /// Whether you chose codes by email yourself.
    pub email_codes_chosen: bool,
    /// Whether your clinic requires a second step of every patient.
    pub required_by_clinic: bool,
    pub recovery_codes_left: u32,
    /// Browsers that skip the second step until they expire.
    pub trusted_devices: Vec<TrustedDeviceView>,
}

impl From<PortalFactors> for PortalFactorsView {
    fn from(f: PortalFactors) -> Self {
        Self {
            factors: f.factors.iter().map(FactorView::from).collect(),
            email_codes: f.email_codes,
            email_codes_chosen: f.email_codes_chosen,
            required_by_clinic: f.required_by_clinic,
            recovery_codes_left: f.recovery_codes_left,
            trusted_devices: f.trusted_devices.iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PasswordRequest {
    /// Your current password, asked again for changes to how you sign in.
    #[oai(validator(max_length = 256))]
    pub password: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PortalTotpRequest {
    /// How the app is listed, such as "Phone".
    #[oai(validator(max_length = 120))]
    pub name: Text,
    #[oai(validator(max_length = 256))]
    pub password: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PortalCodeRequest {
    /// The 6 digits your authenticator app shows.
    #[oai(validator(max_length = 64))]
    pub code: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct EmailCodesRequest {
    /// `true` to be asked for a code by email at each sign-in.
    pub enabled: bool,
    #[oai(validator(max_length = 256))]
    pub password: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PortalPasskeyAddRequest {
    #[oai(validator(max_length = 64))]
    pub ceremony_id: Text,
    /// How the passkey is listed, such as "Laptop".
    #[oai(validator(max_length = 120))]
    pub name: Text,
    /// The browser's answer: the new credential's `toJSON()`.
    pub credential: serde_json::Value,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PendingRequest {
    /// From the answer to the password.
    #[oai(validator(max_length = 128))]
    pub pending_token: Text,
}

#[derive(Object)]
pub struct EmailCodeSentView {
    /// Where it went, masked.
    pub sent_to: String,
    /// It works once, until then.
    pub expires_at: String,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PortalSecondStepRequest {
    #[oai(validator(max_length = 128))]
    pub pending_token: Text,
    /// The 6 digits from your authenticator app or from the mail, or one
    /// of your recovery codes.
    #[oai(validator(max_length = 64))]
    pub code: Text,
    /// Skip the second step on this device for 30 days: the answer then
    /// carries `trusted_device_token`, to send with later logins.
    pub trust_device: Option<bool>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PortalPasskeyOptionsRequest {
    /// The pending login a right password opened, for a second step;
    /// absent to sign in with the passkey alone.
    #[oai(validator(max_length = 128))]
    pub pending_token: Option<Text>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PortalPasskeyLoginRequest {
    #[oai(validator(max_length = 64))]
    pub ceremony_id: Text,
    /// The browser's answer: the assertion's `toJSON()`.
    pub credential: serde_json::Value,
    /// As given to the options.
    #[oai(validator(max_length = 128))]
    pub pending_token: Option<Text>,
    /// At a second step: skip it on this device for 30 days.
    pub trust_device: Option<bool>,
}

#[derive(ApiResponse)]
pub enum PortalEmptyResponse {
    #[oai(status = 204)]
    Done,
}

fn password(raw: &Text) -> Result<PlainPassword, ApiError> {
    Ok(PlainPassword::new(raw.to_string())?)
}

fn pending(raw: &str) -> Result<SecretToken, ApiError> {
    SecretToken::presented(raw.trim()).ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_field",
            "pending_token must be the token the password step gave",
        )
        .with_field("pending_token")
    })
}

fn factor_id(raw: &str) -> Result<FactorId, ApiError> {
    Ok(FactorId::parse(raw)?)
}

/// The answer to a finished sign-in: the session's view and its cookie.
pub(super) async fn signed_in(
    state: &AppState,
    req: &Request,
    visitor: &VisitorCaller,
    issued: PortalSessionIssued,
    trusted_device_token: Option<String>,
) -> ApiResult<SessionResponse> {
    let visitor = &visitor.0;
    let caller = state
        .services
        .patient_caller(
            visitor.tenant.clone(),
            &issued.token,
            visitor.client.clone(),
        )
        .await?;
    let who = caller.patient().expect("a patient caller");
    let (account, records) = state.services.portal_me(&caller).await?;
    let cookie = portal_cookie(
        state,
        req,
        issued.token.expose(),
        state.settings.portal_session_secs,
    )?;
    Ok(SessionResponse::Ok(
        Json(PortalSessionView {
            account: AccountView::from(&account),
            records: records.iter().map(RecordView::from).collect(),
            active_record: who.session.active_patient.map(|p| p.to_string()),
            csrf_token: issued.csrf_token,
            trusted_device_token,
        }),
        cookie,
    ))
}

fn after_second_step(done: PortalSecondStepDone) -> (PortalSessionIssued, Option<String>) {
    (
        done.session,
        done.trusted.map(|t| t.token.expose().to_owned()),
    )
}

#[OpenApi(prefix_path = "/v1/portal", tag = "ApiTags::Portal")]
impl PortalFactorsApi {
    /// Mail a sign-in code for a login waiting for its second step. A new
    /// code replaces the one before; a few an account per 15 minutes.
    #[oai(path = "/login/email-code", method = "post")]
    async fn email_code(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        body: JsonBody<PendingRequest>,
    ) -> ApiResult<Json<EmailCodeSentView>> {
        let token = pending(&body.0.pending_token)?;
        let (sent_to, expires_at) = state
            .services
            .portal_send_sign_in_code(&visitor.0, &token)
            .await?;
        Ok(Json(EmailCodeSentView {
            sent_to,
            expires_at: expires_at.to_rfc3339(),
        }))
    }

    /// The second step of a login: a code from your app or the mail, or a
    /// recovery code.
    #[oai(path = "/login/second-step", method = "post")]
    async fn second_step(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        req: &Request,
        body: JsonBody<PortalSecondStepRequest>,
    ) -> ApiResult<SessionResponse> {
        let body = body.0;
        let token = pending(&body.pending_token)?;
        let answer = SecondFactorAnswer::parse(&body.code)?;
        let done = state
            .services
            .portal_login_second_step(
                &visitor.0,
                &token,
                &answer,
                body.trust_device.unwrap_or(false),
            )
            .await?;
        let (issued, trusted) = after_second_step(done);
        signed_in(&state, req, &visitor, issued, trusted).await
    }

    /// The options for signing in with a passkey: with no `pending_token`,
    /// the passkey alone signs in; with one, it is that login's second
    /// step.
    #[oai(path = "/passkey-login/options", method = "post")]
    async fn passkey_login_options(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        body: JsonBody<PortalPasskeyOptionsRequest>,
    ) -> ApiResult<Json<PasskeyOptionsView>> {
        let rp = state.links.relying_party(&visitor.0.tenant)?;
        let token = body.0.pending_token.as_deref().map(pending).transpose()?;
        let purpose = match &token {
            Some(token) => ChallengeFor::SecondStep(token),
            None => ChallengeFor::SignIn,
        };
        let options = state
            .services
            .portal_passkey_challenge(&visitor.0, &rp, purpose)
            .await?;
        Ok(Json(options.into()))
    }

    /// Sign in with a passkey: alone, or as the second step of the login
    /// `pending_token` names.
    #[oai(path = "/passkey-login", method = "post")]
    async fn passkey_login(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        req: &Request,
        body: JsonBody<PortalPasskeyLoginRequest>,
    ) -> ApiResult<SessionResponse> {
        let body = body.0;
        let rp = state.links.relying_party(&visitor.0.tenant)?;
        let id = ceremony(&body.ceremony_id)?;
        let credential = answer(body.credential)?;
        let services = &state.services;
        let (issued, trusted) = match body.pending_token.as_deref().map(pending).transpose()? {
            Some(token) => after_second_step(
                services
                    .portal_login_second_step_passkey(
                        &visitor.0,
                        &rp,
                        &token,
                        id,
                        &credential,
                        body.trust_device.unwrap_or(false),
                    )
                    .await?,
            ),
            None => (
                services
                    .portal_login_passkey(&visitor.0, &rp, id, &credential)
                    .await?,
                None,
            ),
        };
        signed_in(&state, req, &visitor, issued, trusted).await
    }

    /// Your authenticator apps and passkeys, codes by email, recovery
    /// codes left and trusted devices.
    #[oai(path = "/factors", method = "get")]
    async fn factors(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
    ) -> ApiResult<Json<PortalFactorsView>> {
        let mine = state.services.portal_factors(&session.caller).await?;
        Ok(Json(mine.into()))
    }

    /// Start setting up an authenticator app; confirm with a code from it.
    #[oai(path = "/factors/totp", method = "post")]
    async fn begin_totp(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        body: JsonBody<PortalTotpRequest>,
    ) -> ApiResult<Json<TotpSetupView>> {
        let name = DisplayName::parse("name", &body.0.name)?;
        let password = password(&body.0.password)?;
        let setup = state
            .services
            .portal_totp_begin(&session.caller, &name, &password)
            .await?;
        Ok(Json(TotpSetupView {
            factor_id: setup.factor_id.to_string(),
            otpauth_url: setup.enrolment.otpauth_url,
            secret: setup.enrolment.secret_text,
        }))
    }

    /// Finish setting up an authenticator app. The first app or passkey
    /// comes with ten recovery codes, shown once, and ends your other
    /// sessions.
    #[oai(path = "/factors/totp/:id/confirm", method = "post")]
    async fn confirm_totp(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        body: JsonBody<PortalCodeRequest>,
    ) -> ApiResult<Json<FactorAddedView>> {
        let id = factor_id(&id.0)?;
        let code = TotpCode::parse(&body.0.code)?;
        let added = state
            .services
            .portal_totp_confirm(&session.caller, id, &code)
            .await?;
        Ok(Json(added.into()))
    }

    /// Start adding a passkey: the options for `navigator.credentials.create`.
    #[oai(path = "/factors/passkeys/options", method = "post")]
    async fn passkey_options(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        body: JsonBody<PasswordRequest>,
    ) -> ApiResult<Json<PasskeyOptionsView>> {
        let rp = state.links.relying_party(&session.caller.tenant)?;
        let password = password(&body.0.password)?;
        let options = state
            .services
            .portal_passkey_begin(&session.caller, &rp, &password)
            .await?;
        Ok(Json(options.into()))
    }

    /// Keep the passkey the browser made.
    #[oai(path = "/factors/passkeys", method = "post")]
    async fn add_passkey(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        body: JsonBody<PortalPasskeyAddRequest>,
    ) -> ApiResult<Json<FactorAddedView>> {
        let body = body.0;
        let rp = state.links.relying_party(&session.caller.tenant)?;
        let id = ceremony(&body.ceremony_id)?;
        let name = DisplayName::parse("name", &body.name)?;
        let credential = answer(body.credential)?;
        let added = state
            .services
            .portal_passkey_finish(&session.caller, &rp, id, &name, &credential)
            .await?;
        Ok(Json(added.into()))
    }

    /// Turn codes by email at each sign-in on or off.
    #[oai(path = "/factors/email", method = "post")]
    async fn email_codes(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        body: JsonBody<EmailCodesRequest>,
    ) -> ApiResult<PortalEmptyResponse> {
        let password = password(&body.0.password)?;
        state
            .services
            .portal_set_email_codes(&session.caller, body.0.enabled, &password)
            .await?;
        Ok(PortalEmptyResponse::Done)
    }

    /// Remove an authenticator app or a passkey.
    #[oai(path = "/factors/:id/remove", method = "post")]
    async fn remove(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        body: JsonBody<PasswordRequest>,
    ) -> ApiResult<PortalEmptyResponse> {
        let id = factor_id(&id.0)?;
        let password = password(&body.0.password)?;
        state
            .services
            .portal_factor_remove(&session.caller, id, &password)
            .await?;
        Ok(PortalEmptyResponse::Done)
    }

    /// Ten new recovery codes; the old ones stop working.
    #[oai(path = "/recovery-codes", method = "post")]
    async fn renew_recovery_codes(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        body: JsonBody<PasswordRequest>,
    ) -> ApiResult<Json<RecoveryCodesView>> {
        let password = password(&body.0.password)?;
        let codes = state
            .services
            .portal_recovery_codes_renew(&session.caller, &password)
            .await?;
        Ok(Json(RecoveryCodesView {
            recovery_codes: codes.iter().map(|c| c.shown()).collect(),
        }))
    }

    /// Stop trusting a device: its next sign-in asks for the second step.
    #[oai(path = "/trusted-devices/:id", method = "delete")]
    async fn revoke_device(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
    ) -> ApiResult<PortalEmptyResponse> {
        let id = uuid::Uuid::try_parse(&id.0)
            .map_err(|_| ApiError::not_found("not_found", "trusted device not found"))?;
        state
            .services
            .portal_trusted_device_revoke(&session.caller, &id.to_string())
            .await?;
        Ok(PortalEmptyResponse::Done)
    }
}
