use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use portico_tenants::domain::GrantId;
use portico_tenants::portal::{EndedReason, GrantRecord};

use super::ApiTags;
use super::patients::parse_patient_id;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::{ApiError, ApiResult};

pub struct GrantsApi;

#[derive(poem_openapi::Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GrantView {
    pub id: String,
    pub account_id: String,
    pub username: String,
    pub account_email: String,
    pub patient_id: String,
    /// The code that created it, if one did.
    pub access_code_id: Option<String>,
    /// What the account is to the patient: `self`, `parent` or
    /// `caregiver`.
    pub relation: String,
    /// For a caregiver: whether the patient lets them see confidential
    /// items.
    pub sees_confidential: bool,
    /// `active`, `revoked` (by staff) or `ended` (see `ended_reason`).
    pub status: String,
    /// `revoked`, `aged_out` (a parent's proxy, on the patient's adult
    /// birthday) or `ended_by_patient`.
    pub ended_reason: Option<String>,
    pub created_at: String,
    /// When it ended, whatever the reason; absent for a parent's proxy the
    /// birthday job has not yet recorded as ended.
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

impl From<&GrantRecord> for GrantView {
    fn from(g: &GrantRecord) -> Self {
        Self {
            id: g.id.to_string(),
            account_id: g.account_id.to_string(),
            username: g.username.clone(),
            account_email: g.account_email.clone(),
            patient_id: g.patient_id.to_string(),
            access_code_id: g.code_id.clone(),
            relation: g.relation.as_str().into(),
            sees_confidential: g.sees_confidential,
            status: match g.ended_reason {
                _ if g.is_live() => "active",
                Some(EndedReason::Revoked) | None => "revoked",
                Some(_) => "ended",
            }
            .into(),
            ended_reason: g.ended_reason.map(|r| r.as_str().to_owned()),
            created_at: g.created_at.to_rfc3339(),
            revoked_at: g.revoked_at.map(|t| t.to_rfc3339()),
            revoked_by: g.revoked_by.clone(),
        }
    }
}

#[OpenApi(tag = "ApiTags::AccessCodes")]
impl GrantsApi {
    /// The portal accounts that hold (or held) a patient's record.
    #[oai(path = "/v1/patients/:id/grants", method = "get")]
    async fn of_patient(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<Vec<GrantView>>> {
        let patient = parse_patient_id(&id.0)?;
        let list = state
            .services
            .grants_of_patient(&session.caller, patient)
            .await?;
        Ok(Json(list.iter().map(GrantView::from).collect()))
    }

    /// Revoke a portal account's access to a record, such as a link sent to
    /// the wrong person. It takes effect on the account's next request.
    #[oai(path = "/v1/grants/:id/revoke", method = "post")]
    async fn revoke(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<GrantView>> {
        let id = GrantId::parse(&id.0)
            .map_err(|_| ApiError::not_found("not_found", "grant not found"))?;
        let grant = state.services.revoke_grant(&session.caller, id).await?;
        Ok(Json(GrantView::from(&grant)))
    }

    /// Clear the two-step sign-in of the portal account holding this
    /// access (a patient who lost their phone and recovery codes): its
    /// apps, passkeys, recovery codes, codes by email and trusted devices.
    /// Its sessions end. Needs a fresh step-up.
    #[oai(path = "/v1/grants/:id/reset-second-factors", method = "post")]
    async fn reset_second_factors(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<super::staff::FactorsResetView>> {
        let id = GrantId::parse(&id.0)
            .map_err(|_| ApiError::not_found("not_found", "grant not found"))?;
        let removed = state
            .services
            .portal_factors_reset(&session.caller, id)
            .await?;
        Ok(Json(super::staff::FactorsResetView {
            factors_removed: removed as u32,
        }))
    }
}
