//! What a clinic shares with a patient on their record: documents, notes,
//! appointments and secure messages, as staff reach them under
//! `/v1/patients/{id}/…`. The views, multipart forms and upload/download
//! helpers here serve the patient side too (`portal_records`), so a record
//! reads the same from either side.

use poem_openapi::param::Path;
use poem_openapi::payload::{Attachment, AttachmentType, Json};
use poem_openapi::types::multipart::Upload as FilePart;
use poem_openapi::{Multipart, Object, OpenApi};
use portico_tenants::acts::records::{DocumentContent, PortalRecord, SharedRecord};
use portico_tenants::domain::{AppointmentId, DocumentId, Timestamp};
use portico_tenants::portal::GrantView;
use portico_tenants::records::{
    AppointmentRecord, AppointmentRequest, Author, DocumentRecord, MessageRecord, NoteRecord, Side,
    Upload, WrittenText,
};

use super::ApiTags;
use super::patients::parse_patient_id;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::{ApiError, ApiResult};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct RecordsApi;

#[derive(Object)]
pub struct AuthorView {
    /// `clinic` or `patient`.
    pub side: String,
    pub name: String,
}

impl From<&Author> for AuthorView {
    fn from(a: &Author) -> Self {
        Self {
            side: match a.side {
                Side::Clinic => "clinic",
                Side::Patient => "patient",
            }
            .into(),
            name: a.name.clone(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DocumentView {
    pub id: String,
    pub title: String,
    pub file_name: String,
    /// Read from the file's bytes at upload: `application/pdf`,
    /// `image/png`, `image/jpeg` or `text/plain`.
    pub media_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the content, to check a download.
    pub sha256: String,
    pub uploaded_by: AuthorView,
    pub uploaded_at: String,
    /// Set when the document came attached to a message.
    pub message_id: Option<String>,
    /// Set when staff withdrew it; patients no longer see it.
    pub withdrawn_at: Option<String>,
    /// Hidden from a teenager's parents, and from caregivers the patient
    /// has not allowed to see confidential items.
    pub confidential: bool,
}

impl From<&DocumentRecord> for DocumentView {
    fn from(d: &DocumentRecord) -> Self {
        Self {
            id: d.id.to_string(),
            title: d.title.clone(),
            file_name: d.file_name.clone(),
            media_type: d.media_type.as_str().into(),
            size_bytes: d.size_bytes,
            sha256: d.sha256.clone(),
            uploaded_by: AuthorView::from(&d.uploaded_by),
            uploaded_at: d.uploaded_at.to_rfc3339(),
            message_id: d.message_id.map(|m| m.to_string()),
            withdrawn_at: d.withdrawn_at.map(Timestamp::to_rfc3339),
            confidential: d.confidential,
        }
    }
}

#[derive(Object)]
pub struct NoteView {
    pub id: String,
    pub body: String,
    pub author: String,
    pub written_at: String,
    /// Hidden from a teenager's parents, and from caregivers the patient
    /// has not allowed to see confidential items.
    pub confidential: bool,
}

impl From<&NoteRecord> for NoteView {
    fn from(n: &NoteRecord) -> Self {
        Self {
            id: n.id.to_string(),
            body: n.body.clone(),
            author: n.author_name.clone(),
            written_at: n.written_at.to_rfc3339(),
            confidential: n.confidential,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AppointmentView {
    pub id: String,
    pub starts_at: String,
    pub duration_minutes: i64,
    pub with: String,
    pub location: String,
    pub reason: Option<String>,
    /// `scheduled` or `cancelled`.
    pub status: String,
    /// Hidden from a teenager's parents, and from caregivers the patient
    /// has not allowed to see confidential items.
    pub confidential: bool,
}

impl From<&AppointmentRecord> for AppointmentView {
    fn from(a: &AppointmentRecord) -> Self {
        Self {
            id: a.id.to_string(),
            starts_at: a.starts_at.to_rfc3339(),
            duration_minutes: a.duration_minutes,
            with: a.with_whom.clone(),
            location: a.location.clone(),
            reason: a.reason.clone(),
            status: a.status.as_str().into(),
            confidential: a.confidential,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MessageView {
    pub id: String,
    pub from: AuthorView,
    pub body: String,
    pub sent_at: String,
    /// When the other side first read it.
    pub read_at: Option<String>,
    pub attachments: Vec<DocumentView>,
}

impl From<&MessageRecord> for MessageView {
    fn from(m: &MessageRecord) -> Self {
        Self {
            id: m.id.to_string(),
            from: AuthorView::from(&m.from),
            body: m.body.clone(),
            sent_at: m.sent_at.to_rfc3339(),
            read_at: m.read_at.map(Timestamp::to_rfc3339),
            attachments: m.attachments.iter().map(DocumentView::from).collect(),
        }
    }
}

/// What a portal account is to the patient and what it may see of the
/// record today.
#[derive(Object)]
pub struct RecordAccessView {
    /// `self`, `parent` or `caregiver`.
    pub relation: String,
    /// Less than the whole record: a teenager's parent, or a caregiver not
    /// allowed confidential items.
    pub limited: bool,
    pub sees_notes: bool,
    pub sees_documents: bool,
    pub sees_appointments: bool,
    pub sees_messages: bool,
    pub sees_confidential: bool,
}

impl From<&GrantView> for RecordAccessView {
    fn from(g: &GrantView) -> Self {
        Self {
            relation: g.relation.as_str().into(),
            limited: g.is_limited(),
            sees_notes: g.view.notes,
            sees_documents: g.view.documents,
            sees_appointments: g.view.appointments,
            sees_messages: g.view.messages,
            sees_confidential: g.view.confidential,
        }
    }
}

/// A record as a portal account sees it: parts outside its view are
/// empty lists.
#[derive(Object)]
pub struct PortalSharedRecordView {
    pub access: RecordAccessView,
    /// Newest first.
    pub documents: Vec<DocumentView>,
    /// Newest first.
    pub notes: Vec<NoteView>,
    /// In time order.
    pub appointments: Vec<AppointmentView>,
    /// The conversation, oldest first.
    pub messages: Vec<MessageView>,
}

impl From<&PortalRecord> for PortalSharedRecordView {
    fn from(r: &PortalRecord) -> Self {
        let s = SharedRecordView::from(&r.shared);
        Self {
            access: RecordAccessView::from(&r.grant),
            documents: s.documents,
            notes: s.notes,
            appointments: s.appointments,
            messages: s.messages,
        }
    }
}

#[derive(Object)]
pub struct SharedRecordView {
    /// Newest first.
    pub documents: Vec<DocumentView>,
    /// Newest first.
    pub notes: Vec<NoteView>,
    /// In time order.
    pub appointments: Vec<AppointmentView>,
    /// The conversation, oldest first.
    pub messages: Vec<MessageView>,
}

impl From<&SharedRecord> for SharedRecordView {
    fn from(s: &SharedRecord) -> Self {
        Self {
            documents: s.documents.iter().map(DocumentView::from).collect(),
            notes: s.notes.iter().map(NoteView::from).collect(),
            appointments: s.appointments.iter().map(AppointmentView::from).collect(),
            messages: s.messages.iter().map(MessageView::from).collect(),
        }
    }
}

#[derive(Multipart)]
pub struct DocumentUpload {
    /// The file: PDF, PNG, JPEG or plain text, at most 10 MiB. Its kind is
    /// read from its content.
    pub file: FilePart,
    /// How the document is listed; the file's name when absent.
    pub title: Option<String>,
}

#[derive(Multipart)]
pub struct StaffDocumentUpload {
    /// The file: PDF, PNG, JPEG or plain text, at most 10 MiB. Its kind is
    /// read from its content.
    pub file: FilePart,
    /// How the document is listed; the file's name when absent.
    pub title: Option<String>,
    /// `true` hides it from a teenager's parents, and from caregivers the
    /// patient has not allowed to see confidential items.
    pub confidential: Option<bool>,
}

#[derive(Multipart)]
pub struct MessageForm {
    pub body: String,
    /// An optional attachment, on the same terms as a document.
    pub file: Option<FilePart>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct NoteRequest {
    #[oai(validator(max_length = 10000))]
    pub body: Text,
    /// Hidden from a teenager's parents, and from caregivers the patient
    /// has not allowed to see confidential items. `false` by default.
    pub confidential: Option<bool>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct AppointmentBooking {
    /// RFC 3339 with an offset, such as `2026-12-01T09:30:00+01:00`.
    #[oai(validator(max_length = 64))]
    pub starts_at: Text,
    pub duration_minutes: i64,
    /// Who the patient will see.
    #[oai(validator(max_length = 120))]
    pub with: Text,
    #[oai(validator(max_length = 120))]
    pub location: Text,
    #[oai(validator(max_length = 120))]
    pub reason: Option<Text>,
    /// Hidden from a teenager's parents, and from caregivers the patient
    /// has not allowed to see confidential items. `false` by default.
    pub confidential: Option<bool>,
}

#[derive(Object)]
pub struct UnreadView {
    pub patient_id: String,
    /// The patient's name, as the record has it.
    pub patient_name: String,
    pub unread: i64,
    /// When the oldest unread message was sent.
    pub waiting_since: String,
}

/// Reads a multipart file into an accepted upload.
pub(super) async fn accept(part: FilePart) -> ApiResult<Upload> {
    let name = part.file_name().unwrap_or("").to_owned();
    let bytes = part
        .into_vec()
        .await
        .map_err(|_| ApiError::bad_request("invalid_body", "the file could not be read"))?;
    Ok(Upload::parse(&name, bytes).map_err(portico_tenants::DomainError::from)?)
}

pub(super) fn parse_document_id(raw: &str) -> ApiResult<DocumentId> {
    DocumentId::parse(raw).map_err(|_| ApiError::not_found("not_found", "document not found"))
}

/// A document as a download: always an attachment, so a browser never
/// renders a file from the API as a page.
pub(super) fn download(content: DocumentContent) -> Attachment<Vec<u8>> {
    Attachment::new(content.bytes)
        .attachment_type(AttachmentType::Attachment)
        .filename(content.document.file_name)
}

#[OpenApi(tag = "ApiTags::Records")]
impl RecordsApi {
    /// Everything shared on a patient's record: documents (withdrawn ones
    /// too), notes, appointments and the conversation.
    #[oai(path = "/v1/patients/:id/shared", method = "get")]
    async fn shared(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<SharedRecordView>> {
        let patient = parse_patient_id(&id.0)?;
        let shared = state
            .services
            .shared_record(&session.caller, patient)
            .await?;
        Ok(Json(SharedRecordView::from(&shared)))
    }

    /// Share a document with the patient (multipart: `file`, `title`,
    /// `confidential`).
    #[oai(path = "/v1/patients/:id/documents", method = "post")]
    async fn upload(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        form: StaffDocumentUpload,
    ) -> ApiResult<Json<DocumentView>> {
        let patient = parse_patient_id(&id.0)?;
        let upload = accept(form.file).await?;
        let document = state
            .services
            .document_upload(
                &session.caller,
                patient,
                form.title.as_deref(),
                upload,
                form.confidential.unwrap_or(false),
            )
            .await?;
        Ok(Json(DocumentView::from(&document)))
    }

    /// Download a document of the record.
    #[oai(path = "/v1/patients/:id/documents/:document/content", method = "get")]
    async fn content(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        document: Path<String>,
    ) -> ApiResult<Attachment<Vec<u8>>> {
        let patient = parse_patient_id(&id.0)?;
        let content = state
            .services
            .document_content(&session.caller, patient, parse_document_id(&document.0)?)
            .await?;
        Ok(download(content))
    }

    /// Withdraw a document from the patient's view; the clinic keeps it.
    #[oai(
        path = "/v1/patients/:id/documents/:document/withdraw",
        method = "post"
    )]
    async fn withdraw(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        document: Path<String>,
    ) -> ApiResult<Json<DocumentView>> {
        let patient = parse_patient_id(&id.0)?;
        let withdrawn = state
            .services
            .document_withdraw(&session.caller, patient, parse_document_id(&document.0)?)
            .await?;
        Ok(Json(DocumentView::from(&withdrawn)))
    }

    /// Write a note the patient can read.
    #[oai(path = "/v1/patients/:id/notes", method = "post")]
    async fn note(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        body: JsonBody<NoteRequest>,
    ) -> ApiResult<Json<NoteView>> {
        let patient = parse_patient_id(&id.0)?;
        let text = WrittenText::parse("body", &body.0.body)?;
        let confidential = body.0.confidential.unwrap_or(false);
        let note = state
            .services
            .note_write(&session.caller, patient, &text, confidential)
            .await?;
        Ok(Json(NoteView::from(&note)))
    }

    /// Book an appointment on the record.
    #[oai(path = "/v1/patients/:id/appointments", method = "post")]
    async fn book(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        body: JsonBody<AppointmentBooking>,
    ) -> ApiResult<Json<AppointmentView>> {
        let patient = parse_patient_id(&id.0)?;
        let b = body.0;
        let request = AppointmentRequest::parse(
            &b.starts_at,
            b.duration_minutes,
            &b.with,
            &b.location,
            b.reason.as_deref(),
        )?
        .marked_confidential(b.confidential.unwrap_or(false));
        let booked = state
            .services
            .appointment_book(&session.caller, patient, &request)
            .await?;
        Ok(Json(AppointmentView::from(&booked)))
    }

    /// Cancel a scheduled appointment.
    #[oai(
        path = "/v1/patients/:id/appointments/:appointment/cancel",
        method = "post"
    )]
    async fn cancel(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        appointment: Path<String>,
    ) -> ApiResult<Json<SharedRecordView>> {
        let patient = parse_patient_id(&id.0)?;
        let appointment = AppointmentId::parse(&appointment.0)
            .map_err(|_| ApiError::not_found("not_found", "appointment not found"))?;
        state
            .services
            .appointment_cancel(&session.caller, patient, appointment)
            .await?;
        let shared = state
            .services
            .shared_record(&session.caller, patient)
            .await?;
        Ok(Json(SharedRecordView::from(&shared)))
    }

    /// Read the record's conversation; the patient's messages are marked
    /// read by the clinic. The thread is answered as it was before: a
    /// message nobody at the clinic had read has no `read_at` this once.
    #[oai(path = "/v1/patients/:id/messages/read", method = "post")]
    async fn read_messages(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<Vec<MessageView>>> {
        let patient = parse_patient_id(&id.0)?;
        let messages = state
            .services
            .messages_read(&session.caller, patient)
            .await?;
        Ok(Json(messages.iter().map(MessageView::from).collect()))
    }

    /// Write to the patient (multipart: `body`, optional `file`).
    #[oai(path = "/v1/patients/:id/messages", method = "post")]
    async fn send(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        form: MessageForm,
    ) -> ApiResult<Json<MessageView>> {
        let patient = parse_patient_id(&id.0)?;
        let body = WrittenText::parse("body", &form.body)?;
        let attachment = match form.file {
            Some(part) => Some(accept(part).await?),
            None => None,
        };
        let message = state
            .services
            .message_send(&session.caller, patient, &body, attachment)
            .await?;
        Ok(Json(MessageView::from(&message)))
    }

    /// Records with messages from patients that nobody at the clinic has
    /// read, the longest waiting first.
    #[oai(path = "/v1/messages/unread", method = "get")]
    async fn unread(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<Vec<UnreadView>>> {
        let waiting = state.services.unread_messages(&session.caller).await?;
        Ok(Json(
            waiting
                .into_iter()
                .map(|thread| UnreadView {
                    patient_id: thread.patient.to_string(),
                    patient_name: thread.patient_name,
                    unread: thread.unread,
                    waiting_since: thread.waiting_since.to_rfc3339(),
                })
                .collect(),
        ))
    }
}
