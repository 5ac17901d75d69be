//! A staff member's own second factors: authenticator apps and recovery
//! codes. How an API client signs in with one is in docs/security.md.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use portico_tenants::acts::factors::FactorAdded;
use portico_tenants::acts::passkeys::{ChallengeFor, PasskeyOptions};
use portico_tenants::auth::SecretToken;
use portico_tenants::domain::{DisplayName, FactorId};
use portico_tenants::factors::{FactorSummary, TotpCode};

use super::ApiTags;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::auth::{VisitorCaller, session_cookie_header, tenant_of};
use portico_web::client_info::is_secure;
use portico_web::error::{ApiError, ApiResult};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct FactorsApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FactorView {
    pub id: String,
    /// `totp` (an authenticator app) or `passkey`.
    pub kind: String,
    pub name: String,
    pub created_at: String,
    /// When it last proved who you are; absent if never since it was added.
    pub last_used_at: Option<String>,
}

impl From<&FactorSummary> for FactorView {
    fn from(f: &FactorSummary) -> Self {
        Self {
            id: f.id.to_string(),
            kind: f.kind.as_str().into(),
            name: f.name.to_string(),
            created_at: f.created_at.to_rfc3339(),
            last_used_at: f.last_used_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Object)]
pub struct FactorsView {
    pub factors: Vec<FactorView>,
    /// Recovery codes not yet used.
    pub recovery_codes_left: u32,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct FactorNameRequest {
    /// How the factor is listed, such as "Phone".
    #[oai(validator(max_length = 120))]
    pub name: Text,
}

#[derive(Object)]
pub struct TotpSetupView {
    /// Confirm with `POST /v1/auth/factors/totp/{factor_id}/confirm`
    /// within the hour.
    pub factor_id: String,
    /// For a QR code: the `otpauth://` address an authenticator app reads.
    pub otpauth_url: String,
    /// The same secret as text, for typing into the app by hand.
    pub secret: String,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CodeRequest {
    /// The 6 digits your authenticator app shows.
    #[oai(validator(max_length = 64))]
    pub code: Text,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FactorAddedView {
    pub factor: FactorView,
    /// With your first factor: ten single-use codes for when you cannot
    /// use it. Shown this once; keep them somewhere safe. Absent
    /// otherwise.
    pub recovery_codes: Option<Vec<String>>,
}

impl From<FactorAdded> for FactorAddedView {
    fn from(added: FactorAdded) -> Self {
        Self {
            factor: FactorView::from(&added.factor),
            recovery_codes: added
                .recovery_codes
                .map(|codes| codes.iter().map(|c| c.shown()).collect()),
        }
    }
}

#[derive(Object)]
pub struct RecoveryCodesView {
    /// Ten single-use codes, shown this once; the old ones no longer work.
    pub recovery_codes: Vec<String>,
}

fn parse_factor_id(raw: &str) -> Result<FactorId, portico_web::error::ApiError> {
    Ok(FactorId::parse(raw)?)
}

#[OpenApi(prefix_path = "/v1/auth", tag = "ApiTags::Auth")]
impl FactorsApi {
    /// Your second factors, and how many recovery codes you have left.
    #[oai(path = "/factors", method = "get")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<FactorsView>> {
        let mine = state.services.staff_factors(&session.caller).await?;
        Ok(Json(FactorsView {
            factors: mine.factors.iter().map(FactorView::from).collect(),
            recovery_codes_left: mine.recovery_codes_left,
        }))
    }

    /// Start setting up an authenticator app: show the address as a QR
    /// code (or the secret as text), then confirm with a code from the app.
    /// If you already have a factor, this needs a fresh step-up.
    #[oai(path = "/factors/totp", method = "post")]
    async fn begin_totp(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<FactorNameRequest>,
    ) -> ApiResult<Json<TotpSetupView>> {
        let name = DisplayName::parse("name", &body.0.name)?;
        let setup = state
            .services
            .staff_totp_begin(&session.caller, &name)
            .await?;
        Ok(Json(TotpSetupView {
            factor_id: setup.factor_id.to_string(),
            otpauth_url: setup.enrolment.otpauth_url,
            secret: setup.enrolment.secret_text,
        }))
    }

    /// Finish setting up an authenticator app with the code it shows.
    /// Your first factor comes with ten recovery codes, shown once.
    #[oai(path = "/factors/totp/:id/confirm", method = "post")]
    async fn confirm_totp(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        body: JsonBody<CodeRequest>,
    ) -> ApiResult<Json<FactorAddedView>> {
        let id = parse_factor_id(&id.0)?;
        let code = TotpCode::parse(&body.0.code)?;
        let added = state
            .services
            .staff_totp_confirm(&session.caller, id, &code)
            .await?;
        Ok(Json(added.into()))
    }

    /// Rename one of your factors.
    #[oai(path = "/factors/:id/name", method = "post")]
    async fn rename(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        body: JsonBody<FactorNameRequest>,
    ) -> ApiResult<()> {
        let id = parse_factor_id(&id.0)?;
        let name = DisplayName::parse("name", &body.0.name)?;
        state
            .services
            .staff_factor_rename(&session.caller, id, &name)
            .await?;
        Ok(())
    }

    /// Remove one of your factors. Needs a fresh step-up. Where your
    /// clinic requires a second factor, the last one stays until you add
    /// another (`409 last_factor`).
    #[oai(path = "/factors/:id", method = "delete")]
    async fn remove(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<()> {
        let id = parse_factor_id(&id.0)?;
        state
            .services
            .staff_factor_remove(&session.caller, id)
            .await?;
        Ok(())
    }

    /// Ten new recovery codes; the old ones stop working. Needs a fresh
    /// step-up.
    #[oai(path = "/recovery-codes", method = "post")]
    async fn renew_recovery_codes(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<RecoveryCodesView>> {
        let codes = state
            .services
            .staff_recovery_codes_renew(&session.caller)
            .await?;
        Ok(Json(RecoveryCodesView {
            recovery_codes: codes.iter().map(|c| c.shown()).collect(),
        }))
    }
}

/// A passkey challenge for the browser.
#[derive(Object)]
pub struct PasskeyOptionsView {
    /// Send back with the browser's answer, within five minutes.
    pub ceremony_id: String,
    /// WebAuthn's options: give `options.publicKey` to
    /// `PublicKeyCredential.parseCreationOptionsFromJSON` (registering) or
    /// `parseRequestOptionsFromJSON` (signing in, confirming), then to
    /// `navigator.credentials.create` or `.get`.
    pub options: serde_json::Value,
}

impl From<PasskeyOptions> for PasskeyOptionsView {
    fn from(o: PasskeyOptions) -> Self {
        Self {
            ceremony_id: o.ceremony_id.to_string(),
            options: o.options,
        }
    }
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PasskeyAddRequest {
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
pub struct PasskeyAnswerRequest {
    #[oai(validator(max_length = 64))]
    pub ceremony_id: Text,
    /// The browser's answer: the assertion's `toJSON()`.
    pub credential: serde_json::Value,
}

pub(super) fn ceremony(raw: &str) -> Result<uuid::Uuid, ApiError> {
    Ok(portico_tenants::factors::passkey::parse_ceremony_id(raw)?)
}

/// The browser's answer, read as WebAuthn's JSON.
pub(super) fn answer<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|_| {
        ApiError::unprocessable(
            "invalid_credential",
            "credential must be the browser's answer as JSON (the credential's toJSON())",
        )
        .with_field("credential")
    })
}

pub struct PasskeysApi;

#[OpenApi(prefix_path = "/v1/auth", tag = "ApiTags::Auth")]
impl PasskeysApi {
    /// Start adding a passkey: the options for `navigator.credentials.create`.
    /// If you already have a factor, this needs a fresh step-up.
    #[oai(path = "/passkeys/options", method = "post")]
    async fn passkey_options(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<PasskeyOptionsView>> {
        let rp = state.links.relying_party(session.tenant())?;
        let options = state
            .services
            .staff_passkey_begin(&session.caller, &rp)
            .await?;
        Ok(Json(options.into()))
    }

    /// Keep the passkey the browser made. Your first factor comes with
    /// ten recovery codes, shown once.
    #[oai(path = "/passkeys", method = "post")]
    async fn add_passkey(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<PasskeyAddRequest>,
    ) -> ApiResult<Json<FactorAddedView>> {
        let body = body.0;
        let rp = state.links.relying_party(session.tenant())?;
        let id = ceremony(&body.ceremony_id)?;
        let name = DisplayName::parse("name", &body.name)?;
        let credential = answer(body.credential)?;
        let added = state
            .services
            .staff_passkey_finish(&session.caller, &rp, id, &name, &credential)
            .await?;
        Ok(Json(added.into()))
    }

    /// The options for signing in with a passkey: with no `pending_token`,
    /// the passkey alone signs in (the browser offers this site's
    /// passkeys); with one, it is the second step of that login.
    #[oai(path = "/passkey-login/options", method = "post")]
    async fn login_options(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        body: JsonBody<PasskeyLoginOptionsRequest>,
    ) -> ApiResult<Json<PasskeyOptionsView>> {
        let rp = state.links.relying_party(&visitor.0.tenant)?;
        let pending = pending_token(body.0.pending_token.as_deref())?;
        let purpose = match &pending {
            Some(token) => ChallengeFor::SecondStep(token),
            None => ChallengeFor::SignIn,
        };
        let options = state
            .services
            .staff_passkey_challenge(&visitor.0, &rp, purpose)
            .await?;
        Ok(Json(options.into()))
    }

    /// Sign in with a passkey, for a session cookie (a browser's): alone,
    /// or as the second step of the login `pending_token` names.
    #[oai(path = "/passkey-login", method = "post")]
    async fn login(
        &self,
        state: poem::web::Data<&AppState>,
        visitor: VisitorCaller,
        req: &poem::Request,
        body: JsonBody<PasskeyLoginRequest>,
    ) -> ApiResult<super::auth::LoginResponse> {
        let body = body.0;
        let rp = state.links.relying_party(&visitor.0.tenant)?;
        let id = ceremony(&body.ceremony_id)?;
        let credential = answer(body.credential)?;
        let services = &state.services;
        let issued = match pending_token(body.pending_token.as_deref())? {
            Some(pending) => {
                services
                    .staff_login_second_step_passkey(&visitor.0, &rp, &pending, id, &credential)
                    .await?
            }
            None => {
                services
                    .staff_login_passkey(&visitor.0, &rp, id, &credential)
                    .await?
            }
        };
        let cookie = session_cookie_header(
            issued.token.expose(),
            tenant_of(req)?.cookie_path(),
            state.settings.cookie_session_secs,
            is_secure(req),
        );
        Ok(super::auth::LoginResponse::Ok(
            Json(super::auth::SessionView {
                staff: super::views::StaffView::from(&issued.staff),
                csrf_token: issued.csrf_token,
                expires_at: issued.expires_at.to_rfc3339(),
            }),
            cookie,
        ))
    }

    /// The options for confirming who you are with a passkey (a step-up).
    #[oai(path = "/step-up/passkey/options", method = "post")]
    async fn step_up_options(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<PasskeyOptionsView>> {
        let rp = state.links.relying_party(session.tenant())?;
        let options = state
            .services
            .staff_passkey_challenge(&session.caller, &rp, ChallengeFor::StepUp)
            .await?;
        Ok(Json(options.into()))
    }

    /// A step-up with a passkey: it alone is enough.
    #[oai(path = "/step-up/passkey", method = "post")]
    async fn step_up(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<PasskeyAnswerRequest>,
    ) -> ApiResult<Json<super::auth::StepUpView>> {
        let body = body.0;
        let rp = state.links.relying_party(session.tenant())?;
        let id = ceremony(&body.ceremony_id)?;
        let credential = answer(body.credential)?;
        let until = state
            .services
            .staff_step_up_with_passkey(&session.caller, &rp, id, &credential)
            .await?;
        Ok(Json(super::auth::StepUpView {
            valid_until: until.to_rfc3339(),
        }))
    }
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PasskeyLoginOptionsRequest {
    /// The pending login a right password opened, for a second step.
    #[oai(validator(max_length = 128))]
    pub pending_token: Option<Text>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PasskeyLoginRequest {
    #[oai(validator(max_length = 64))]
    pub ceremony_id: Text,
    /// The browser's answer: the assertion's `toJSON()`.
    pub credential: serde_json::Value,
    /// As given to the options.
    #[oai(validator(max_length = 128))]
    pub pending_token: Option<Text>,
}

fn pending_token(raw: Option<&str>) -> Result<Option<SecretToken>, ApiError> {
    raw.map(|raw| {
        SecretToken::presented(raw).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_field",
                "pending_token must be the token the password step gave",
            )
            .with_field("pending_token")
        })
    })
    .transpose()
}
