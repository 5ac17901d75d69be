use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use portico_tenants::acts::patients::{NewPatient, PatientChanges};
use portico_tenants::domain::{
    DateOfBirth, DisplayName, EmailAddress, PatientId, PhoneNumber, ZipCode,
};
use portico_tenants::patients::{PatientRecord, PortalAccess};

use super::ApiTags;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::{ApiError, ApiResult};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct PatientsApi;

/// The record after its portal access changed.
#[derive(Object)]
pub struct PortalAccessView {
    #[oai(flatten)]
    pub patient: PatientView,
    /// Unused access codes that turning access off cancelled; they no
    /// longer open anything.
    pub codes_cancelled: u64,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PatientView {
    pub id: String,
    pub full_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub home_zip: Option<String>,
    /// `enabled` or `disabled`.
    pub portal_access: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&PatientRecord> for PatientView {
    fn from(p: &PatientRecord) -> Self {
        Self {
            id: p.id.to_string(),
            full_name: p.full_name.to_string(),
            date_of_birth: p.date_of_birth.to_string(),
            email: p.email.as_ref().map(ToString::to_string),
            phone: p.phone.as_ref().map(|x| x.as_str().to_owned()),
            home_zip: p.home_zip.as_ref().map(|x| x.as_str().to_owned()),
            portal_access: p.portal_access.as_str().into(),
            created_at: p.created_at.to_rfc3339(),
            updated_at: p.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PatientPage {
    pub patients: Vec<PatientView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CreatePatientRequest {
    #[oai(validator(max_length = 120))]
    pub full_name: Text,
    /// `YYYY-MM-DD`.
    #[oai(validator(max_length = 10))]
    pub date_of_birth: Text,
    #[oai(validator(max_length = 254))]
    pub email: Option<Text>,
    #[oai(validator(max_length = 32))]
    pub phone: Option<Text>,
    #[oai(validator(max_length = 10))]
    pub home_zip: Option<Text>,
}

/// Fields left out stay as they are; `null` clears an optional field.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct UpdatePatientRequest {
    #[oai(validator(max_length = 120))]
    pub full_name: Option<Text>,
    #[oai(validator(max_length = 10))]
    pub date_of_birth: Option<Text>,
    /// Changing the email of a patient with portal access enabled needs an
    /// owner or admin and a fresh password confirmation (step-up).
    #[oai(nullable, validator(max_length = 254))]
    pub email: MaybeUndefined<Text>,
    /// `null` removes it.
    #[oai(nullable, validator(max_length = 32))]
    pub phone: MaybeUndefined<Text>,
    /// `null` removes it.
    #[oai(nullable, validator(max_length = 10))]
    pub home_zip: MaybeUndefined<Text>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PortalAccessRequest {
    pub enabled: bool,
}

pub fn parse_patient_id(raw: &str) -> Result<PatientId, ApiError> {
    PatientId::parse(raw).map_err(|_| ApiError::not_found("not_found", "patient not found"))
}

fn optional<T>(
    value: Option<Text>,
    parse: impl Fn(&str) -> Result<T, portico_tenants::domain::InvalidValue>,
) -> Result<Option<T>, ApiError> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| parse(&v))
        .transpose()
        .map_err(ApiError::from)
}

/// `undefined` leaves a field, `null` or "" clears it, a value sets it.
fn change<T>(
    value: MaybeUndefined<Text>,
    parse: impl Fn(&str) -> Result<T, portico_tenants::domain::InvalidValue>,
) -> Result<Option<Option<T>>, ApiError> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(v) => optional(Some(v), parse).map(Some),
    }
}

#[OpenApi(prefix_path = "/v1/patients", tag = "ApiTags::Patients")]
impl PatientsApi {
    /// Find patients by name, alphabetically, a page at a time.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        /// Part of the patient's name, in any case.
        #[oai(validator(max_length = 120))]
        search: Query<Option<String>>,
        /// 1 to 200; 50 by default.
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// The `next_after` of the previous page.
        #[oai(validator(max_length = 200))]
        after: Query<Option<String>>,
    ) -> ApiResult<Json<PatientPage>> {
        let limit = limit.0.unwrap_or(50);
        let found = state
            .services
            .patient_search(
                &session.caller,
                search.0.as_deref(),
                limit,
                after.0.as_deref(),
            )
            .await?;
        let next_after = (found.len() as u32 == limit)
            .then(|| {
                found
                    .last()
                    .map(|p| format!("{} {}", p.full_name.as_str().to_lowercase(), p.id))
            })
            .flatten();
        Ok(Json(PatientPage {
            patients: found.iter().map(PatientView::from).collect(),
            next_after,
        }))
    }

    /// Add a patient record. With the clinic's "enable on creation" setting
    /// and an email and zip code given, portal access starts enabled.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<CreatePatientRequest>,
    ) -> ApiResult<Json<PatientView>> {
        let b = body.0;
        let new = NewPatient {
            full_name: DisplayName::parse("full_name", &b.full_name)?,
            date_of_birth: DateOfBirth::parse(&b.date_of_birth)?,
            email: optional(b.email, EmailAddress::parse)?,
            phone: optional(b.phone, PhoneNumber::parse)?,
            home_zip: optional(b.home_zip, ZipCode::parse)?,
        };
        let record = state.services.patient_create(&session.caller, new).await?;
        Ok(Json(PatientView::from(&record)))
    }

    /// One patient record.
    #[oai(path = "/:id", method = "get")]
    async fn show(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<PatientView>> {
        let id = parse_patient_id(&id.0)?;
        let record = state.services.patient_get(&session.caller, id).await?;
        Ok(Json(PatientView::from(&record)))
    }

    /// Change a patient record.
    #[oai(path = "/:id", method = "patch")]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        body: JsonBody<UpdatePatientRequest>,
    ) -> ApiResult<Json<PatientView>> {
        let id = parse_patient_id(&id.0)?;
        let b = body.0;
        let changes = PatientChanges {
            full_name: b
                .full_name
                .map(|n| DisplayName::parse("full_name", &n))
                .transpose()?,
            date_of_birth: b
                .date_of_birth
                .map(|d| DateOfBirth::parse(&d))
                .transpose()?,
            email: change(b.email, EmailAddress::parse)?,
            phone: change(b.phone, PhoneNumber::parse)?,
            home_zip: change(b.home_zip, ZipCode::parse)?,
        };
        let record = state
            .services
            .patient_update(&session.caller, id, changes)
            .await?;
        Ok(Json(PatientView::from(&record)))
    }

    /// Archive a patient record: it leaves every list and its portal
    /// holders stop seeing it. Nothing is erased.
    #[oai(path = "/:id", method = "delete")]
    async fn archive(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<()> {
        let id = parse_patient_id(&id.0)?;
        state.services.patient_archive(&session.caller, id).await?;
        Ok(())
    }

    /// Turn the patient's portal access on or off. On needs an email and a
    /// home zip code on file; off suspends every grant to the record and
    /// cancels its unused access codes (`codes_cancelled` counts them: the
    /// patient needs a new code once access is back on).
    #[oai(path = "/:id/portal-access", method = "put")]
    async fn portal_access(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        body: JsonBody<PortalAccessRequest>,
    ) -> ApiResult<Json<PortalAccessView>> {
        let id = parse_patient_id(&id.0)?;
        let access = if body.0.enabled {
            PortalAccess::Enabled
        } else {
            PortalAccess::Disabled
        };
        let change = state
            .services
            .patient_set_portal_access(&session.caller, id, access)
            .await?;
        Ok(Json(PortalAccessView {
            patient: PatientView::from(&change.record),
            codes_cancelled: change.codes_cancelled,
        }))
    }
}
