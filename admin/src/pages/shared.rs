//! The workspace's "shared with the patient" tab: documents, notes,
//! appointments and the conversation, and the forms that add to them.

use std::sync::Arc;

use crate::views::{
    AppointmentRow, Console, DocumentRow, MessageRow, NoteRow, SharedTab, WorkspaceTab,
};
use poem::web::{Data, Form, Multipart, Path};
use poem::{Request, Response, handler};
use portico_tenants::acts::records::SharedRecord;
use portico_tenants::domain::{AppointmentId, ClinicTimeZone, DocumentId};
use portico_tenants::records::{
    AppointmentRequest, AppointmentStatus, DocumentRecord, Side, WrittenText,
};
use serde::Deserialize;

use super::patients::{conclude, parse_patient};
use super::{CsrfOnly, Signed};
use portico_web::AppState;
use portico_web::error::ApiError;
use portico_web::files::{FileForm, file_response, human_size};

fn document_row(zone: &ClinicTimeZone, d: &DocumentRecord) -> DocumentRow {
    DocumentRow {
        id: d.id.to_string(),
        title: d.title.clone(),
        file_name: d.file_name.clone(),
        kind: d.media_type.label().into(),
        size: human_size(d.size_bytes),
        by: d.uploaded_by.name.clone(),
        from_patient: d.uploaded_by.side == Side::Patient,
        at: zone.human(d.uploaded_at),
        withdrawn: d.withdrawn_at.is_some(),
        confidential: d.confidential,
    }
}

/// The tab's content; empty when another tab is open.
pub(super) fn tab(
    zone: &ClinicTimeZone,
    shared: Option<&SharedRecord>,
    drafts: (String, String),
) -> SharedTab {
    let (draft_note, draft_message) = drafts;
    let Some(s) = shared else {
        return SharedTab {
            documents: Vec::new(),
            notes: Vec::new(),
            appointments: Vec::new(),
            messages: Vec::new(),
            draft_note,
            draft_message,
            time_zone: zone.name().to_owned(),
        };
    };
    SharedTab {
        documents: s.documents.iter().map(|d| document_row(zone, d)).collect(),
        notes: s
            .notes
            .iter()
            .map(|n| NoteRow {
                body: n.body.clone(),
                author: n.author_name.clone(),
                at: zone.human(n.written_at),
                confidential: n.confidential,
            })
            .collect(),
        appointments: s
            .appointments
            .iter()
            .map(|a| AppointmentRow {
                id: a.id.to_string(),
                when: zone.human(a.starts_at),
                minutes: a.duration_minutes,
                with: a.with_whom.clone(),
                location: a.location.clone(),
                reason: a.reason.clone(),
                cancelled: a.status == AppointmentStatus::Cancelled,
                confidential: a.confidential,
            })
            .collect(),
        messages: s
            .messages
            .iter()
            .map(|m| MessageRow {
                from: m.from.name.clone(),
                from_patient: m.from.side == Side::Patient,
                body: m.body.clone(),
                at: zone.human(m.sent_at),
                read: m.read_at.is_some(),
                new: m.from.side == Side::Patient && m.read_at.is_none(),
                attachments: m
                    .attachments
                    .iter()
                    .map(|d| document_row(zone, d))
                    .collect(),
            })
            .collect(),
        draft_note,
        draft_message,
        time_zone: zone.name().to_owned(),
    }
}

#[handler]
pub(super) async fn upload(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    multipart: Multipart,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let mut form = FileForm::read(multipart).await?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let upload = form.required_upload()?;
        state
            .services
            .document_upload(
                &signed.caller,
                patient,
                Some(&form.title),
                upload,
                form.confidential,
            )
            .await
    }
    .await;
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Shared,
        outcome,
        "document_shared",
        Default::default(),
    )
    .await
}

/// A document for staff to read: always downloaded, never rendered as a
/// page of ours.
#[handler]
pub(super) async fn download(
    req: &Request,
    state: Data<&AppState>,
    Path((id, document)): Path<(String, String)>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let document = DocumentId::parse(&document)
        .map_err(|_| ApiError::not_found("not_found", "document not found"))?;
    let signed = Signed::of(&state, req).await?;
    let content = state
        .services
        .document_content(&signed.caller, patient, document)
        .await
        .map_err(ApiError::from)?;
    Ok(file_response(content, false))
}

#[handler]
pub(super) async fn withdraw(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path((id, document)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let document = DocumentId::parse(&document)
        .map_err(|_| ApiError::not_found("not_found", "document not found"))?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = state
        .services
        .document_withdraw(&signed.caller, patient, document)
        .await;
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Shared,
        outcome,
        "document_withdrawn",
        Default::default(),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct NoteForm {
    csrf_token: String,
    body: String,
    #[serde(default)]
    confidential: Option<String>,
}

#[handler]
pub(super) async fn note(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let body = WrittenText::parse("body", &form.body)?;
        state
            .services
            .note_write(
                &signed.caller,
                patient,
                &body,
                form.confidential.as_deref() == Some("true"),
            )
            .await
    }
    .await;
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Shared,
        outcome,
        "note_shared",
        (form.body, String::new()),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct BookingForm {
    csrf_token: String,
    /// From a `datetime-local` input: `2026-12-01T09:30`, clinic time.
    starts_at: String,
    duration_minutes: i64,
    with: String,
    location: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confidential: Option<String>,
}

#[handler]
pub(super) async fn book(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<BookingForm>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let starts_at = signed
            .tenant
            .tenant
            .settings
            .time_zone
            .parse_local("starts_at", &form.starts_at)?;
        let request = AppointmentRequest::at(
            starts_at,
            form.duration_minutes,
            &form.with,
            &form.location,
            Some(form.reason.as_str()),
        )?
        .marked_confidential(form.confidential.as_deref() == Some("true"));
        state
            .services
            .appointment_book(&signed.caller, patient, &request)
            .await
    }
    .await;
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Shared,
        outcome,
        "appointment_booked",
        Default::default(),
    )
    .await
}

#[handler]
pub(super) async fn cancel(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path((id, appointment)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let appointment = AppointmentId::parse(&appointment)
        .map_err(|_| ApiError::not_found("not_found", "appointment not found"))?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = state
        .services
        .appointment_cancel(&signed.caller, patient, appointment)
        .await;
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Shared,
        outcome,
        "appointment_cancelled",
        Default::default(),
    )
    .await
}

#[handler]
pub(super) async fn message(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    multipart: Multipart,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let mut form = FileForm::read(multipart).await?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let body = WrittenText::parse("body", &form.body)?;
        let attachment = form.upload()?;
        state
            .services
            .message_send(&signed.caller, patient, &body, attachment)
            .await
    }
    .await;
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Shared,
        outcome,
        "message_sent",
        (String::new(), form.body),
    )
    .await
}
