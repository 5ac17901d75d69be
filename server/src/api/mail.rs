use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use portico_tenants::outbox::QueuedMail;

use super::ApiTags;
use super::patients::parse_patient_id;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::{ApiError, ApiResult};

pub struct MailApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MailView {
    pub id: String,
    /// `access_link`, `smartform_invitation`, `email_change_notice`,
    /// `password_reset` or `email_verification`.
    pub kind: String,
    pub recipient: String,
    /// `pending`, `sending`, `sent` or `dead`.
    pub status: String,
    pub attempts: i64,
    /// Why the last try failed; for dead mail, why it was given up.
    pub last_error: Option<String>,
    pub created_at: String,
}

impl From<&QueuedMail> for MailView {
    fn from(m: &QueuedMail) -> Self {
        Self {
            id: m.id.clone(),
            kind: m.kind.clone(),
            recipient: m.recipient.clone(),
            status: m.status.clone(),
            attempts: m.attempts,
            last_error: m.last_error.clone(),
            created_at: m.created_at.to_rfc3339(),
        }
    }
}

#[OpenApi(tag = "ApiTags::Mail")]
impl MailApi {
    /// The delivery status of every mail about a patient.
    #[oai(path = "/v1/patients/:id/mail", method = "get")]
    async fn of_patient(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<Vec<MailView>>> {
        let patient = parse_patient_id(&id.0)?;
        let mails = state
            .services
            .mail_of_patient(&session.caller, patient)
            .await?;
        Ok(Json(mails.iter().map(MailView::from).collect()))
    }

    /// Mail that could not be delivered, with the reason (owners and admins).
    #[oai(path = "/v1/mail/dead", method = "get")]
    async fn dead(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<Vec<MailView>>> {
        let mails = state.services.dead_mail(&session.caller).await?;
        Ok(Json(mails.iter().map(MailView::from).collect()))
    }

    /// Try a dead mail again.
    #[oai(path = "/v1/mail/:id/retry", method = "post")]
    async fn retry(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<()> {
        let id = uuid::Uuid::try_parse(&id.0)
            .map_err(|_| ApiError::not_found("not_found", "mail not found"))?
            .to_string();
        state.services.retry_mail(&session.caller, &id).await?;
        Ok(())
    }
}
