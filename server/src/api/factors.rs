//! A staff member's own second factors: authenticator apps and recovery
//! codes. How an API client signs in with one is in docs/security.md.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use portico_tenants::domain::{DisplayName, FactorId};
use portico_tenants::factors::{FactorSummary, TotpCode};

use super::ApiTags;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::ApiResult;
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
        Ok(Json(FactorAddedView {
            factor: FactorView::from(&added.factor),
            recovery_codes: added
                .recovery_codes
                .map(|codes| codes.iter().map(|c| c.shown()).collect()),
        }))
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
