use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use portico_tenants::codes::CodeRecord;
use portico_tenants::domain::{AccessCodeId, CodeDelivery, Timestamp};
use portico_tenants::family::Relation;

use super::ApiTags;
use super::patients::parse_patient_id;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::{ApiError, ApiResult};
use portico_web::handout::{self, HandoutView};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct AccessCodesApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CodeView {
    pub id: String,
    /// `medical_records` or `smartform`.
    pub kind: String,
    pub patient_id: String,
    /// `active`, `redeemed`, `revoked` or `expired`.
    pub status: String,
    /// `email` or `print`.
    pub delivery: String,
    pub issued_by: Option<String>,
    pub issued_at: String,
    pub expires_at: String,
    pub redeemed_at: Option<String>,
    pub redeemed_by: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
    /// What redeeming it makes the account to the patient: `self`,
    /// `parent` or `caregiver`.
    pub relation: String,
}

impl CodeView {
    fn new(c: &CodeRecord, now: Timestamp) -> Self {
        Self {
            id: c.id.to_string(),
            kind: c.kind.as_str().into(),
            patient_id: c.patient_id.to_string(),
            status: c.status_at(now).as_str().into(),
            delivery: c.delivery.as_str().into(),
            issued_by: c.issued_by.clone(),
            issued_at: c.issued_at.to_rfc3339(),
            expires_at: c.expires_at.to_rfc3339(),
            redeemed_at: c.redeemed_at.map(|t| t.to_rfc3339()),
            redeemed_by: c.redeemed_by.clone(),
            revoked_at: c.revoked_at.map(|t| t.to_rfc3339()),
            revoked_by: c.revoked_by.clone(),
            revoke_reason: c.revoke_reason.clone(),
            relation: c.relation.as_str().into(),
        }
    }
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct IssueCodeRequest {
    /// `email` (an access link) or `print` (a handout); the clinic's default
    /// when left out.
    #[oai(validator(max_length = 10))]
    pub delivery: Option<Text>,
    /// Who will hold it: `self` (the patient), `parent` (a parent or
    /// guardian of a patient under the adult age) or `caregiver` (of an
    /// adult, with their consent). Left out: `parent` for a child under
    /// the limited-view age, `self` otherwise.
    #[oai(validator(max_length = 10))]
    pub relation: Option<Text>,
}

fn parse_relation(raw: Option<&str>) -> Result<Option<Relation>, ApiError> {
    raw.map(Relation::parse).transpose().map_err(ApiError::from)
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IssuedCodeView {
    pub access_code: CodeView,
    /// The code itself. Shown this once; only a keyed hash is stored.
    pub code: String,
    /// The clinic's registration page with the code filled in (in the URL
    /// fragment, which browsers never send to servers or in Referer).
    pub access_link: String,
    /// The queued access-link mail, when delivered by email; follow its
    /// status at `/patients/{id}/mail`.
    pub mail_id: Option<String>,
    /// Unused codes of the record that this one replaced: they no longer
    /// work, and a patient who tries one is told a newer code was sent.
    pub replaced: u64,
}

#[derive(ApiResponse)]
pub enum IssueCodeResponse {
    /// Issued. Not cacheable: it carries the code.
    #[oai(status = 200)]
    Issued(
        Json<IssuedCodeView>,
        #[oai(header = "Cache-Control")] String,
    ),
}

#[derive(ApiResponse)]
pub enum HandoutResponse {
    /// The printable handout, with the code in large type. Not cacheable.
    #[oai(status = 200)]
    Page(
        poem_openapi::payload::Html<String>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Content-Security-Policy")] String,
    ),
}

#[derive(Object)]
pub struct PendingCodeView {
    pub access_code: CodeView,
    pub patient_name: String,
    /// Expires within the next 24 hours: follow up now.
    pub expires_soon: bool,
}

fn parse_code_id(raw: &str) -> Result<AccessCodeId, ApiError> {
    AccessCodeId::parse(raw).map_err(|_| ApiError::not_found("not_found", "access code not found"))
}

#[OpenApi(tag = "ApiTags::AccessCodes")]
impl AccessCodesApi {
    /// Issue a Medical Records Access Code for a patient.
    ///
    /// Only by this deliberate act, never automatically. A code for the
    /// patient's own account cancels their previous one; a proxy code
    /// cancels nothing. Portal access must be enabled; email delivery
    /// needs an email on file. A `relation` the patient's age does not
    /// allow is refused with `field: relation`.
    #[oai(path = "/v1/patients/:id/access-codes", method = "post")]
    async fn issue(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        body: JsonBody<IssueCodeRequest>,
    ) -> ApiResult<IssueCodeResponse> {
        let patient = parse_patient_id(&id.0)?;
        let delivery = match &body.0.delivery {
            Some(d) => CodeDelivery::parse(d)?,
            None => session.tenant().settings.default_delivery,
        };
        let relation = parse_relation(body.0.relation.as_deref())?;
        let issued = state
            .services
            .issue_medical_records_code(&session.caller, patient, delivery, relation)
            .await?;
        let view = IssuedCodeView {
            access_code: CodeView::new(&issued.record, Timestamp::now()),
            access_link: state
                .links
                .access_link(session.tenant(), issued.code.display()),
            code: issued.code.display().to_owned(),
            mail_id: issued.mail_id.clone(),
            replaced: issued.replaced,
        };
        Ok(IssueCodeResponse::Issued(Json(view), "no-store".into()))
    }

    /// Issue a code for a printed handout, given in person, and get the
    /// page to print. Printing is audited like sending.
    #[oai(path = "/v1/patients/:id/access-codes/handout", method = "post")]
    async fn handout(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        req: &poem::Request,
        id: Path<String>,
        /// `self`, `parent` or `caregiver`, as for an emailed code.
        #[oai(validator(max_length = 10))]
        relation: Query<Option<String>>,
    ) -> ApiResult<HandoutResponse> {
        let patient = parse_patient_id(&id.0)?;
        let relation = parse_relation(relation.0.as_deref())?;
        let issued = state
            .services
            .issue_medical_records_code(&session.caller, patient, CodeDelivery::Print, relation)
            .await?;
        state
            .services
            .record_handout_printed(&session.caller, &issued)
            .await?;
        let tenant = portico_web::auth::tenant_of(req)?;
        let html =
            handout::render(&HandoutView::of(&state.links, tenant, &issued)).map_err(|e| {
                tracing::error!(error = %e, "handout failed to render");
                ApiError::internal()
            })?;
        Ok(HandoutResponse::Page(
            poem_openapi::payload::Html(html),
            "no-store".into(),
            handout::CONTENT_SECURITY_POLICY.into(),
        ))
    }

    /// Every code issued for a patient, newest first, with who issued or
    /// revoked each and when.
    #[oai(path = "/v1/patients/:id/access-codes", method = "get")]
    async fn of_patient(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<Vec<CodeView>>> {
        let patient = parse_patient_id(&id.0)?;
        let codes = state
            .services
            .codes_of_patient(&session.caller, patient)
            .await?;
        let now = Timestamp::now();
        Ok(Json(codes.iter().map(|c| CodeView::new(c, now)).collect()))
    }

    /// Cancel an unused code, such as one sent to the wrong person.
    #[oai(path = "/v1/access-codes/:id/revoke", method = "post")]
    async fn revoke(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<CodeView>> {
        let id = parse_code_id(&id.0)?;
        let record = state.services.revoke_code(&session.caller, id).await?;
        Ok(Json(CodeView::new(&record, Timestamp::now())))
    }

    /// Follow-up: codes issued and not yet redeemed, the soonest to expire
    /// first.
    #[oai(path = "/v1/access-codes/pending", method = "get")]
    async fn pending(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        /// 1 to 500; 100 by default.
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<Vec<PendingCodeView>>> {
        let pending = state
            .services
            .pending_codes(&session.caller, limit.0.unwrap_or(100))
            .await?;
        let now = Timestamp::now();
        let soon = now.plus(std::time::Duration::from_secs(24 * 3600));
        Ok(Json(
            pending
                .iter()
                .map(|p| PendingCodeView {
                    access_code: CodeView::new(&p.code, now),
                    patient_name: p.patient_name.clone(),
                    expires_soon: p.code.expires_at <= soon,
                })
                .collect(),
        ))
    }
}
