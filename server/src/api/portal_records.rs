//! The patient side of a shared record: what a portal account reads,
//! downloads, uploads and writes under `/v1/portal/records/{id}/…`, for a
//! record it holds. The views and multipart forms are the staff side's, in
//! `records`, so both sides document one shape.

use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::{Attachment, Json};
use portico_tenants::records::WrittenText;

use super::ApiTags;
use super::records::{
    DocumentUpload, DocumentView, MessageForm, MessageView, NoteView, PortalSharedRecordView,
    accept, download, parse_document_id,
};
use portico_web::AppState;
use portico_web::auth::PatientSession;
use portico_web::error::{ApiError, ApiResult};

pub struct PortalRecordsApi;

// The same `Records` tag as the staff side: the document keeps one section
// for a shared record, whichever side reads it.
#[OpenApi(tag = "ApiTags::Records")]
impl PortalRecordsApi {
    /// What the clinic shares on a record this account holds, as far as
    /// its view goes (`access`): a teenager's parent sees no notes and
    /// nothing confidential. Reading it marks the clinic's messages read,
    /// and is audited.
    #[oai(path = "/v1/portal/records/:id/shared", method = "get")]
    async fn portal_shared(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
    ) -> ApiResult<Json<PortalSharedRecordView>> {
        let patient = portal_record_id(&id.0)?;
        let record = state
            .services
            .portal_shared_record(&session.caller, patient)
            .await?;
        Ok(Json(PortalSharedRecordView::from(&record)))
    }

    /// One note of a record this account holds; `404` when the account's
    /// view leaves it out (a teenager's parent sees no notes).
    #[oai(path = "/v1/portal/records/:id/notes/:note", method = "get")]
    async fn portal_note(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        note: Path<String>,
    ) -> ApiResult<Json<NoteView>> {
        let patient = portal_record_id(&id.0)?;
        let note = portico_tenants::domain::NoteId::parse(&note.0)
            .map_err(|_| ApiError::not_found("not_found", "note not found"))?;
        let found = state
            .services
            .portal_note(&session.caller, patient, note)
            .await?;
        Ok(Json(NoteView::from(&found)))
    }

    /// Download a document of a record this account holds.
    #[oai(
        path = "/v1/portal/records/:id/documents/:document/content",
        method = "get"
    )]
    async fn portal_content(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        document: Path<String>,
    ) -> ApiResult<Attachment<Vec<u8>>> {
        let patient = portal_record_id(&id.0)?;
        let content = state
            .services
            .portal_document_content(&session.caller, patient, parse_document_id(&document.0)?)
            .await?;
        Ok(download(content))
    }

    /// Give the clinic a file for this record (multipart: `file`, `title`).
    #[oai(path = "/v1/portal/records/:id/documents", method = "post")]
    async fn portal_upload(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        form: DocumentUpload,
    ) -> ApiResult<Json<DocumentView>> {
        let patient = portal_record_id(&id.0)?;
        let upload = accept(form.file).await?;
        let document = state
            .services
            .portal_document_upload(&session.caller, patient, form.title.as_deref(), upload)
            .await?;
        Ok(Json(DocumentView::from(&document)))
    }

    /// Write to the clinic about this record (multipart: `body`, optional
    /// `file`).
    #[oai(path = "/v1/portal/records/:id/messages", method = "post")]
    async fn portal_send(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        form: MessageForm,
    ) -> ApiResult<Json<MessageView>> {
        let patient = portal_record_id(&id.0)?;
        let body = WrittenText::parse("body", &form.body)?;
        let attachment = match form.file {
            Some(part) => Some(accept(part).await?),
            None => None,
        };
        let message = state
            .services
            .portal_message_send(&session.caller, patient, &body, attachment)
            .await?;
        Ok(Json(MessageView::from(&message)))
    }
}

fn portal_record_id(raw: &str) -> ApiResult<portico_tenants::domain::PatientId> {
    portico_tenants::domain::PatientId::parse(raw)
        .map_err(|_| ApiError::not_found("not_found", "record not found"))
}
