//! The portal's home: the record on show, with what the clinic shares on
//! it, the family switcher, and the forms to send a file or a message.
//! Every view checks the grant afresh, so a revoked record is gone on the
//! next page load.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Multipart, Path, Query};
use poem::{Request, Response, handler};
use portico_tenants::DomainError;
use portico_tenants::acts::records::PortalRecord;
use portico_tenants::domain::{ClinicTimeZone, DocumentId, PatientId, Timestamp};
use portico_tenants::family::{Relation, age_on};
use portico_tenants::portal::GrantView;
use portico_tenants::records::{AppointmentStatus, DocumentRecord, MediaType, Side, WrittenText};
use portico_tenants::smartforms::AssignmentStatus;
use serde::{Deserialize, Serialize};

use super::account::Visitor;
use super::sharing::SharingSection;
use super::{Clinic, PortalPages, html, portal_path, redirect};
use portico_web::AppState;
use portico_web::error::ApiError;
use portico_web::files::{FileForm, file_response, human_size};

#[derive(Serialize)]
struct RecordChoice {
    id: String,
    name: String,
    active: bool,
}

#[derive(Serialize)]
struct DocumentItem {
    id: String,
    title: String,
    file_name: String,
    kind: &'static str,
    size: String,
    from_patient: bool,
    at: String,
    /// From the clinic and not opened yet.
    new: bool,
}

fn item(zone: &ClinicTimeZone, d: &DocumentRecord) -> DocumentItem {
    DocumentItem {
        id: d.id.to_string(),
        title: d.title.clone(),
        file_name: d.file_name.clone(),
        kind: d.media_type.label(),
        size: human_size(d.size_bytes),
        from_patient: d.uploaded_by.side == Side::Patient,
        at: zone.human(d.uploaded_at),
        new: d.uploaded_by.side == Side::Clinic && d.opened_at.is_none(),
    }
}

#[derive(Serialize)]
struct NoteItem {
    body: String,
    author: String,
    at: String,
}

#[derive(Serialize)]
struct AppointmentItem {
    when: String,
    minutes: i64,
    with: String,
    location: String,
    reason: Option<String>,
    cancelled: bool,
}

#[derive(Serialize)]
struct MessageItem {
    from: String,
    from_patient: bool,
    body: String,
    at: String,
    attachments: Vec<DocumentItem>,
    /// From the clinic, unread until this view.
    new: bool,
}

#[derive(Serialize)]
struct RecordView {
    id: String,
    name: String,
    date_of_birth: String,
    /// "You are Leo's parent or guardian."; empty for the patient's own.
    relation: String,
    /// What a limited view leaves out, in words; `None` for the whole.
    limited: Option<String>,
    sees_notes: bool,
    sees_documents: bool,
    sees_appointments: bool,
    sees_messages: bool,
    /// Who else sees the record: on the patient's own record only.
    sharing: Option<SharingSection>,
    documents: Vec<DocumentItem>,
    notes: Vec<NoteItem>,
    appointments: Vec<AppointmentItem>,
    messages: Vec<MessageItem>,
}

#[derive(Serialize)]
struct FormItem {
    id: String,
    title: String,
    /// What is left to do, in words.
    status: &'static str,
    done: bool,
}

#[derive(Serialize)]
struct HomePage {
    clinic: Clinic,
    csrf_token: String,
    username: String,
    records: Vec<RecordChoice>,
    record: Option<RecordView>,
    forms: Vec<FormItem>,
    notice: Option<String>,
    /// Said in "Who else can see your record", after its forms.
    sharing_notice: Option<&'static str>,
    /// Said next to the thread, where the patient is looking.
    message_sent: bool,
    error: Option<String>,
    draft_message: String,
    draft_code: String,
}

/// What refused forms held, shown again.
#[derive(Default)]
pub(super) struct Drafts {
    pub code: String,
    pub message: String,
}

fn notice(key: Option<&str>) -> Option<String> {
    let text = match key? {
        "record_added" => "Record added. You can switch between records at the top.",
        "switched" => return None,
        "file_sent" => "File sent. The clinic can see it now.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// What a sharing form did, said in its section.
fn sharing_notice(key: &str) -> Option<&'static str> {
    Some(match key {
        "caregiver_invited" => "Invitation sent. When they accept it, they appear in this list.",
        "invitation_cancelled" => "Invitation cancelled. Its link no longer works.",
        "proxy_ended" => "Done. They can no longer see your record, and we have told them.",
        "proxy_changed" => "Saved.",
        _ => return None,
    })
}

/// The patient's first name, as the portal speaks of them to a proxy.
fn first_name(full: &str) -> &str {
    full.split_whitespace().next().unwrap_or(full)
}

/// What the account is to the patient, as the record's heading says it.
fn relation_line(grant: &GrantView) -> String {
    let name = first_name(&grant.patient_name);
    match grant.relation {
        Relation::Own => String::new(),
        Relation::Parent => format!("You are {name}'s parent or guardian."),
        Relation::Caregiver => format!("You are {name}'s caregiver."),
    }
}

/// What a limited view leaves out, and why, in words.
fn limited_line(grant: &GrantView, age: u32) -> Option<String> {
    if !grant.is_limited() {
        return None;
    }
    let name = first_name(&grant.patient_name);
    let view = grant.view;
    let mut shown = Vec::new();
    if view.appointments {
        shown.push("appointments");
    }
    if view.messages {
        shown.push("messages with the clinic");
    }
    if view.documents {
        shown.push("shared documents");
    }
    let shown = match shown.as_slice() {
        [] => "nothing of the record yet".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    Some(match grant.relation {
        Relation::Parent => format!(
            "{name} is {age}, so you see a limited view: {shown}. Notes and anything marked confidential \
             stay between {name} and the clinic."
        ),
        _ => format!(
            "You see everything except items the clinic marked confidential. {name} can let you see those \
             too."
        ),
    })
}

pub(super) async fn home_page(
    state: &AppState,
    pages: &PortalPages,
    visitor: Visitor,
    req: &Request,
    drafts: Drafts,
    problem: Option<(StatusCode, String)>,
) -> poem::Result<Response> {
    let t = &visitor.tenant;
    let zone = &t.tenant.settings.time_zone;
    let services = &state.services;
    let (account, records) = services
        .portal_me(&visitor.caller)
        .await
        .map_err(ApiError::from)?;
    let active = visitor
        .who()
        .session
        .active_patient
        .filter(|p| records.iter().any(|r| r.patient_id == *p))
        .or_else(|| records.first().map(|r| r.patient_id));
    let record = match active {
        Some(patient) => {
            let on_show = records
                .iter()
                .find(|r| r.patient_id == patient)
                .expect("chosen from the list");
            let PortalRecord { grant, shared } = services
                .portal_shared_record(&visitor.caller, patient)
                .await
                .map_err(ApiError::from)?;
            let today = t.tenant.settings.day_at(Timestamp::now()).today;
            let sharing = match grant.relation {
                Relation::Own => Some(SharingSection::of(
                    &services
                        .portal_sharing(&visitor.caller, patient)
                        .await
                        .map_err(ApiError::from)?,
                    zone,
                )),
                _ => None,
            };
            Some(RecordView {
                id: patient.to_string(),
                name: on_show.patient_name.clone(),
                date_of_birth: on_show.date_of_birth.to_string(),
                relation: relation_line(&grant),
                limited: limited_line(&grant, age_on(grant.date_of_birth.date(), today)),
                sees_notes: grant.view.notes,
                sees_documents: grant.view.documents,
                sees_appointments: grant.view.appointments,
                sees_messages: grant.view.messages,
                sharing,
                documents: shared.documents.iter().map(|d| item(zone, d)).collect(),
                notes: shared
                    .notes
                    .iter()
                    .map(|n| NoteItem {
                        body: n.body.clone(),
                        author: n.author_name.clone(),
                        at: zone.human(n.written_at),
                    })
                    .collect(),
                appointments: shared
                    .appointments
                    .iter()
                    .map(|a| AppointmentItem {
                        when: zone.human(a.starts_at),
                        minutes: a.duration_minutes,
                        with: a.with_whom.clone(),
                        location: a.location.clone(),
                        reason: a.reason.clone(),
                        cancelled: a.status == AppointmentStatus::Cancelled,
                    })
                    .collect(),
                messages: shared
                    .messages
                    .iter()
                    .map(|m| MessageItem {
                        from: m.from.name.clone(),
                        from_patient: m.from.side == Side::Patient,
                        body: m.body.clone(),
                        at: zone.human(m.sent_at),
                        attachments: m.attachments.iter().map(|d| item(zone, d)).collect(),
                        new: m.from.side == Side::Clinic && m.read_at.is_none(),
                    })
                    .collect(),
            })
        }
        None => None,
    };
    let forms = services
        .portal_forms(&visitor.caller)
        .await
        .map_err(ApiError::from)?
        .iter()
        .map(|f| FormItem {
            id: f.id.clone(),
            title: f.form.title.to_string(),
            status: match f.status {
                AssignmentStatus::Assigned => "to fill in",
                AssignmentStatus::InProgress => "started",
                AssignmentStatus::Submitted => "handed in",
            },
            done: f.status == AssignmentStatus::Submitted,
        })
        .collect();
    let done = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("done=")));
    let (status, error) = match problem {
        Some((status, why)) => (status, Some(why)),
        None => (StatusCode::OK, None),
    };
    let page = HomePage {
        clinic: Clinic::of(t),
        csrf_token: visitor.who().session.csrf_token.clone(),
        username: account.username.to_string(),
        records: records
            .iter()
            .map(|r| RecordChoice {
                id: r.patient_id.to_string(),
                name: match r.relation {
                    Relation::Own => format!("{} (you)", r.patient_name),
                    Relation::Parent => format!("{} (your child)", r.patient_name),
                    Relation::Caregiver => format!("{} (you are their caregiver)", r.patient_name),
                },
                active: Some(r.patient_id) == active,
            })
            .collect(),
        record,
        forms,
        // Said where the patient is looking: in the section the form was.
        sharing_notice: error
            .is_none()
            .then(|| done.and_then(sharing_notice))
            .flatten(),
        notice: if error.is_some() { None } else { notice(done) },
        message_sent: error.is_none() && done == Some("message_sent"),
        error,
        draft_message: drafts.message,
        draft_code: drafts.code,
    };
    Ok(html(t, pages.render("home.html", page)?, status))
}

#[handler]
pub(super) async fn home(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
) -> poem::Result<Response> {
    let Some(visitor) = Visitor::current(&state, req).await? else {
        // Someone arriving with no session most likely wants to log in;
        // the login page points first-timers to registration.
        let t = portico_web::auth::tenant_of(req)?;
        return Ok(redirect(&format!("{}/login", portal_path(t))));
    };
    home_page(&state, &pages, visitor, req, Drafts::default(), None).await
}

fn parse_record(raw: &str) -> poem::Result<PatientId> {
    PatientId::parse(raw).map_err(|_| ApiError::not_found("not_found", "record not found").into())
}

#[derive(Deserialize)]
pub(super) struct DownloadQuery {
    download: Option<String>,
}

/// A document of a record the account holds: shown in the browser, or
/// saved with `?download=1`.
#[handler]
pub(super) async fn download(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path((id, document)): Path<(String, String)>,
    Query(q): Query<DownloadQuery>,
) -> poem::Result<Response> {
    let patient = parse_record(&id)?;
    let document = DocumentId::parse(&document)
        .map_err(|_| ApiError::not_found("not_found", "document not found"))?;
    let visitor = Visitor::required(&state, req).await?;
    let content = state
        .services
        .portal_document_content(&visitor.caller, patient, document)
        .await
        .map_err(ApiError::from)?;
    // Plain text shown raw is a line of tiny type on a phone: it is shown
    // in the portal's page instead, with the file a click away.
    if q.download.is_none() && content.document.media_type == MediaType::PlainText {
        #[derive(Serialize)]
        struct DocumentPage {
            clinic: Clinic,
            title: String,
            file_name: String,
            shared_at: String,
            text: String,
            download_path: String,
        }
        let tenant = &visitor.tenant;
        let zone = &tenant.tenant.settings.time_zone;
        let body = pages.render(
            "document.html",
            DocumentPage {
                clinic: Clinic::of(tenant),
                title: content.document.title.clone(),
                file_name: content.document.file_name.clone(),
                shared_at: zone.human(content.document.uploaded_at),
                text: String::from_utf8_lossy(&content.bytes).into_owned(),
                download_path: format!(
                    "{}/records/{patient}/documents/{document}?download=1",
                    portal_path(tenant)
                ),
            },
        )?;
        return Ok(html(tenant, body, StatusCode::OK));
    }
    Ok(file_response(content, q.download.is_none()))
}

/// Shows the home page again with why a form was refused, or fails for
/// the server's own errors.
pub(super) async fn refused(
    state: &AppState,
    pages: &PortalPages,
    visitor: Visitor,
    req: &Request,
    err: DomainError,
    drafts: Drafts,
) -> poem::Result<Response> {
    let api = ApiError::from(err);
    if api.status.is_server_error() {
        return Err(api.into());
    }
    home_page(
        state,
        pages,
        visitor,
        req,
        drafts,
        Some((api.status, api.message)),
    )
    .await
}

#[handler]
pub(super) async fn upload(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path(id): Path<String>,
    multipart: Multipart,
) -> poem::Result<Response> {
    let patient = parse_record(&id)?;
    let mut form = FileForm::read(multipart).await?;
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let upload = form.required_upload()?;
        state
            .services
            .portal_document_upload(&visitor.caller, patient, Some(&form.title), upload)
            .await
    }
    .await;
    match outcome {
        Ok(_) => Ok(visitor.home("file_sent")),
        Err(err) => refused(&state, &pages, visitor, req, err, Drafts::default()).await,
    }
}

#[handler]
pub(super) async fn message(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path(id): Path<String>,
    multipart: Multipart,
) -> poem::Result<Response> {
    let patient = parse_record(&id)?;
    let mut form = FileForm::read(multipart).await?;
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let body = WrittenText::parse("body", &form.body)?;
        let attachment = form.upload()?;
        state
            .services
            .portal_message_send(&visitor.caller, patient, &body, attachment)
            .await
    }
    .await;
    match outcome {
        Ok(_) => Ok(redirect(&format!(
            "{}/?done=message_sent#messages",
            portal_path(&visitor.tenant)
        ))),
        Err(err) => {
            let drafts = Drafts {
                message: form.body,
                ..Default::default()
            };
            refused(&state, &pages, visitor, req, err, drafts).await
        }
    }
}
