//! The patient pages: the list with search and the create form, and one
//! patient's workspace with its tabs, the details form and the
//! portal-access switch. Giving and taking access to the record lives in
//! `access`.

use std::sync::Arc;

use crate::views::{
    Abilities, CodeRow, Console, GrantRow, MailRow, NewPatientDraft, PatientRow, PatientView,
    PatientsView, WorkspaceTab,
};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query};
use poem::{Request, Response, handler};
use portico_tenants::acts::patients::{NewPatient, PatientChanges};
use portico_tenants::codes::{CodeKind, CodeStatus};
use portico_tenants::domain::ClinicTimeZone;
use portico_tenants::domain::{
    CodeDelivery, DateOfBirth, DisplayName, EmailAddress, PatientId, PhoneNumber, Timestamp,
    ZipCode,
};
use portico_tenants::family::{Relation, Stage};
use portico_tenants::patients::{PatientRecord, PortalAccess};
use portico_tenants::portal::{EndedReason, GrantRecord};
use portico_tenants::{DomainError, acts};
use serde::Deserialize;

use super::access::confirm_password;
use super::{Signed, page, redirect, refusal, render_failed};
use portico_web::AppState;
use portico_web::error::ApiError;

/// A confirmation after a redirect, named by a fixed key so no text from
/// the request is ever echoed.
fn notice(key: Option<&str>) -> Option<String> {
    let text = match key? {
        "created" => "Patient added.",
        "link_sent" => "Access link queued: it leaves within moments. Its delivery shows below.",
        "code_revoked" => "Code cancelled. It no longer opens the record.",
        "grant_revoked" => "Access revoked. That account no longer sees this record.",
        "two_step_reset" => {
            "Two-step sign-in reset: that account signs in with its password alone, and its sessions have ended."
        }
        "portal_enabled" => "Portal access enabled.",
        "handout_shown_once" => {
            "A handout's code is shown only once, when it is printed. To give the patient another, print a new \
             handout: it replaces the first."
        }
        "portal_disabled" => {
            "Portal access disabled. Accounts holding this record no longer see it."
        }
        "portal_disabled_codes_cancelled" => {
            "Portal access disabled. Accounts holding this record no longer see it, and its unused access \
             codes were cancelled: they no longer open anything. When access is back on, give the patient a \
             new code."
        }
        "document_shared" => "Document shared with the patient.",
        "document_withdrawn" => "Document withdrawn. The patient no longer sees it.",
        "note_shared" => "Note shared with the patient.",
        "appointment_booked" => "Appointment booked.",
        "appointment_cancelled" => "Appointment cancelled.",
        "message_sent" => "Message sent.",
        "needs_email" => "Add an email address before sending an access link.",
        "details_saved" => "Details saved.",
        "form_in_portal" => "Form assigned. It is waiting in the patient's portal.",
        "form_code_emailed" => {
            "Form assigned. A SmartForm code is on its way to the patient's email."
        }
        _ => return None,
    };
    Some(text.to_owned())
}

/// The card a notice belongs in, where the person is looking, when not
/// the top of the page: a message sent is confirmed by its thread.
fn notice_place(key: &str) -> Option<&'static str> {
    (key == "message_sent").then_some("messages")
}

pub(super) fn parse_patient(raw: &str) -> poem::Result<PatientId> {
    PatientId::parse(raw).map_err(|_| ApiError::not_found("not_found", "patient not found").into())
}

fn row(p: &PatientRecord) -> PatientRow {
    PatientRow {
        id: p.id.to_string(),
        full_name: p.full_name.to_string(),
        date_of_birth: p.date_of_birth.to_string(),
        email: p
            .email
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        phone: p
            .phone
            .as_ref()
            .map(|x| x.as_str().to_owned())
            .unwrap_or_default(),
        portal_access: p.portal_access == PortalAccess::Enabled,
    }
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    search: Option<String>,
    after: Option<String>,
    done: Option<String>,
}

const PAGE_SIZE: u32 = 50;

async fn list_page(
    state: &AppState,
    console: &Console,
    signed: Signed,
    search: String,
    after: Option<String>,
    draft: NewPatientDraft,
    status: StatusCode,
) -> poem::Result<Response> {
    let services = &state.services;
    let term = Some(search.trim()).filter(|s| !s.is_empty());
    let found = services
        .patient_search(&signed.caller, term, PAGE_SIZE, after.as_deref())
        .await
        .map_err(ApiError::from)?;
    let next_after = (found.len() as u32 == PAGE_SIZE)
        .then(|| {
            found
                .last()
                .map(|p| format!("{} {}", p.full_name.as_str().to_lowercase(), p.id))
        })
        .flatten();
    let may_create = signed.may(state, &acts::PATIENT_CREATE).await?;
    let html = console
        .patients_page(&PatientsView {
            frame: signed.frame,
            search,
            patients: found.iter().map(row).collect(),
            next_after,
            may_create,
            draft,
        })
        .map_err(render_failed)?;
    Ok(page(html, status))
}

#[handler]
pub(super) async fn list(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Query(q): Query<ListQuery>,
) -> poem::Result<Response> {
    let mut signed = Signed::of(&state, req).await?;
    signed.frame.notice = notice(q.done.as_deref());
    list_page(
        &state,
        &console,
        signed,
        q.search.unwrap_or_default(),
        q.after,
        NewPatientDraft::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    csrf_token: String,
    #[serde(flatten)]
    patient: NewPatientDraft,
}

fn optional<T>(
    raw: &str,
    parse: impl Fn(&str) -> Result<T, portico_tenants::domain::InvalidValue>,
) -> Result<Option<T>, DomainError> {
    let raw = raw.trim();
    Ok(if raw.is_empty() {
        None
    } else {
        Some(parse(raw)?)
    })
}

#[handler]
pub(super) async fn create(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<CreateForm>,
) -> poem::Result<Response> {
    let mut signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let typed = &form.patient;
        let new = NewPatient {
            full_name: DisplayName::parse("full_name", &typed.full_name)?,
            date_of_birth: DateOfBirth::parse(&typed.date_of_birth)?,
            email: optional(&typed.email, EmailAddress::parse)?,
            phone: optional(&typed.phone, PhoneNumber::parse)?,
            home_zip: optional(&typed.home_zip, ZipCode::parse)?,
        };
        state.services.patient_create(&signed.caller, new).await
    }
    .await;
    match outcome {
        Ok(created) => Ok(redirect(
            &signed.path(&format!("/patients/{}?done=created", created.id)),
        )),
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            list_page(
                &state,
                &console,
                signed,
                String::new(),
                None,
                form.patient,
                status,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct WorkspaceQuery {
    tab: Option<String>,
    done: Option<String>,
}

/// Renders a patient's workspace. `drafts` keeps what a refused note or
/// message held.
pub(super) async fn workspace_page(
    state: &AppState,
    console: &Console,
    signed: Signed,
    patient: PatientId,
    tab: WorkspaceTab,
    status: StatusCode,
    drafts: (String, String),
) -> poem::Result<Response> {
    workspace_with_details(state, console, signed, patient, tab, status, drafts, None).await
}

#[allow(clippy::too_many_arguments)]
async fn workspace_with_details(
    state: &AppState,
    console: &Console,
    signed: Signed,
    patient: PatientId,
    tab: WorkspaceTab,
    status: StatusCode,
    drafts: (String, String),
    typed: Option<NewPatientDraft>,
) -> poem::Result<Response> {
    let services = &state.services;
    let t = &signed.tenant.tenant;
    let zone = &t.settings.time_zone;
    let record = services
        .patient_get(&signed.caller, patient)
        .await
        .map_err(ApiError::from)?;
    let may = Abilities {
        edit_patient: signed.may(state, &acts::PATIENT_UPDATE).await?,
        issue_codes: signed.may(state, &acts::CODE_ISSUE).await?,
        read_records: signed.may(state, &acts::RECORD_READ).await?,
        share_records: signed.may(state, &acts::NOTE_WRITE).await?,
        email_guarded: tab == WorkspaceTab::Details
            && services
                .patient_email_guarded(&signed.caller, patient)
                .await
                .map_err(ApiError::from)?,
        change_guarded_email: signed.may(state, &acts::PATIENT_EMAIL_CHANGE).await?,
        reset_two_step: signed.may(state, &acts::PORTAL_FACTORS_RESET).await?,
    };
    let now = Timestamp::now();
    let stage = t.settings.day_at(now).stage_of(record.date_of_birth);
    let (codes, grants, mail) = if tab == WorkspaceTab::Access {
        let codes = services
            .codes_of_patient(&signed.caller, patient)
            .await
            .map_err(ApiError::from)?;
        let grants = services
            .grants_of_patient(&signed.caller, patient)
            .await
            .map_err(ApiError::from)?;
        let mail = services
            .mail_of_patient(&signed.caller, patient)
            .await
            .map_err(ApiError::from)?;
        (
            codes
                .iter()
                .map(|c| {
                    let status = c.status_at(now);
                    CodeRow {
                        id: c.id.to_string(),
                        kind: match (c.kind, c.relation) {
                            (CodeKind::SmartForm, _) => "SmartForm".into(),
                            (_, Relation::Own) => "Medical records".into(),
                            (_, Relation::Parent) => "Medical records, for a parent".into(),
                            (_, Relation::Caregiver) => "Medical records, for a caregiver".into(),
                        },
                        delivery: match c.delivery {
                            CodeDelivery::Email => "email".into(),
                            CodeDelivery::Print => "handout".into(),
                        },
                        status: status.as_str().into(),
                        issued_at: zone.human(c.issued_at),
                        expires_at: zone.human(c.expires_at),
                        revocable: status == CodeStatus::Active,
                    }
                })
                .collect(),
            grants.iter().map(|g| grant_row(zone, g, stage)).collect(),
            mail.iter()
                .map(|m| MailRow {
                    kind: m.kind.replace('_', " "),
                    recipient: m.recipient.clone(),
                    status: m.status.clone(),
                    attempts: m.attempts,
                    last_error: m.last_error.clone(),
                    queued_at: zone.human(m.created_at),
                })
                .collect(),
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let shared = if may.read_records {
        let shared = if tab == WorkspaceTab::Shared {
            // Read as it was, so what nobody had read shows as new; then
            // opening the conversation is reading it.
            let shared = services
                .shared_record(&signed.caller, patient)
                .await
                .map_err(ApiError::from)?;
            services
                .messages_read(&signed.caller, patient)
                .await
                .map_err(ApiError::from)?;
            Some(shared)
        } else {
            None
        };
        Some(super::shared::tab(
            &t.settings.time_zone,
            shared.as_ref(),
            drafts,
        ))
    } else {
        None
    };
    let forms = if tab == WorkspaceTab::Forms {
        super::forms::tab(state, &signed, patient).await?
    } else if signed.may(state, &acts::FORMS_READ).await? {
        Some(crate::views::FormsTab::default())
    } else {
        None
    };
    let details = typed.unwrap_or_else(|| draft_of(&record));
    let html = console
        .patient_page(&PatientView {
            frame: signed.frame,
            tab,
            details,
            phone: record
                .phone
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            home_zip: record
                .home_zip
                .as_ref()
                .map(|z| z.as_str().to_owned())
                .unwrap_or_default(),
            patient: row(&record),
            may,
            codes,
            grants,
            mail,
            shared,
            forms,
        })
        .map_err(render_failed)?;
    Ok(page(html, status))
}

#[handler]
pub(super) async fn workspace(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Query(q): Query<WorkspaceQuery>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let mut signed = Signed::of(&state, req).await?;
    signed.frame.notice = notice(q.done.as_deref());
    signed.frame.notice_at = q.done.as_deref().and_then(notice_place);
    let tab = WorkspaceTab::parse(q.tab.as_deref());
    workspace_page(
        &state,
        &console,
        signed,
        patient,
        tab,
        StatusCode::OK,
        Default::default(),
    )
    .await
}

/// Where to land after an action on a patient: their workspace, on `tab`,
/// with a notice.
pub(super) fn back_to(signed: &Signed, patient: PatientId, tab: &str, done: &str) -> Response {
    // A message sent is confirmed by its thread, where the page lands.
    let anchor = notice_place(done)
        .map(|card| format!("#{card}"))
        .unwrap_or_default();
    redirect(&signed.path(&format!(
        "/patients/{patient}?tab={tab}&done={done}{anchor}"
    )))
}

/// Re-renders the workspace with the reason an action was refused.
pub(super) async fn refused(
    state: &AppState,
    console: &Console,
    mut signed: Signed,
    patient: PatientId,
    tab: WorkspaceTab,
    err: DomainError,
    drafts: (String, String),
) -> poem::Result<Response> {
    let (status, message) = refusal(err)?;
    signed.frame.error = Some(message);
    workspace_page(state, console, signed, patient, tab, status, drafts).await
}

/// The end of every workspace action: back to the workspace with `done`
/// on success, or the workspace again with the reason and the drafts.
#[allow(clippy::too_many_arguments)]
pub(super) async fn conclude<T>(
    state: &AppState,
    console: &Console,
    signed: Signed,
    patient: PatientId,
    tab: WorkspaceTab,
    outcome: Result<T, DomainError>,
    done: &str,
    drafts: (String, String),
) -> poem::Result<Response> {
    match outcome {
        Ok(_) => {
            let tab = match tab {
                WorkspaceTab::Access => "access",
                WorkspaceTab::Shared => "shared",
                WorkspaceTab::Forms => "forms",
                WorkspaceTab::Details => "details",
            };
            Ok(back_to(&signed, patient, tab, done))
        }
        Err(err) => refused(state, console, signed, patient, tab, err, drafts).await,
    }
}

fn draft_of(p: &PatientRecord) -> NewPatientDraft {
    NewPatientDraft {
        full_name: p.full_name.to_string(),
        date_of_birth: p.date_of_birth.to_string(),
        email: p
            .email
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        phone: p
            .phone
            .as_ref()
            .map(|x| x.as_str().to_owned())
            .unwrap_or_default(),
        home_zip: p
            .home_zip
            .as_ref()
            .map(|x| x.as_str().to_owned())
            .unwrap_or_default(),
    }
}

#[derive(Deserialize)]
pub(super) struct DetailsForm {
    csrf_token: String,
    #[serde(flatten)]
    patient: NewPatientDraft,
    /// Given when the change needs the staff member's confirmation.
    #[serde(default)]
    password: String,
}

/// Saves what changed on the details form. Changing the email of a
/// patient whose portal is on is the sensitive case: the domain asks for a
/// fresh password confirmation (given on the same form), the right role,
/// and tells the old address.
#[handler]
pub(super) async fn save_details(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<DetailsForm>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let mut signed = Signed::posting(&state, req, &form.csrf_token).await?;
    if !form.password.is_empty() {
        if let Err(err) = confirm_password(&state, &signed, form.password.clone()).await {
            return refused(
                &state,
                &console,
                signed,
                patient,
                WorkspaceTab::Details,
                err,
                Default::default(),
            )
            .await;
        }
        // Read again: the caller now carries the confirmation.
        signed = Signed::of(&state, req).await?;
    }
    let outcome = async {
        let current = state.services.patient_get(&signed.caller, patient).await?;
        let now = draft_of(&current);
        let changed =
            |typed: &str, was: &str| (typed.trim() != was).then(|| typed.trim().to_owned());
        let changes = PatientChanges {
            full_name: changed(&form.patient.full_name, &now.full_name)
                .map(|n| DisplayName::parse("full_name", &n))
                .transpose()?,
            date_of_birth: changed(&form.patient.date_of_birth, &now.date_of_birth)
                .map(|d| DateOfBirth::parse(&d))
                .transpose()?,
            email: changed(&form.patient.email, &now.email)
                .map(|e| optional(&e, EmailAddress::parse))
                .transpose()?,
            phone: changed(&form.patient.phone, &now.phone)
                .map(|p| optional(&p, PhoneNumber::parse))
                .transpose()?,
            home_zip: changed(&form.patient.home_zip, &now.home_zip)
                .map(|z| optional(&z, ZipCode::parse))
                .transpose()?,
        };
        state
            .services
            .patient_update(&signed.caller, patient, changes)
            .await
    }
    .await;
    match outcome {
        Ok(_) => Ok(back_to(&signed, patient, "details", "details_saved")),
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            let typed = form.patient;
            workspace_with_details(
                &state,
                &console,
                signed,
                patient,
                WorkspaceTab::Details,
                status,
                Default::default(),
                Some(typed),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct PortalAccessForm {
    csrf_token: String,
    enabled: bool,
    /// `yes` once the staff member has answered the question that turning
    /// access off asks first.
    #[serde(default)]
    confirmed: String,
}

#[handler]
pub(super) async fn portal_access(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<PortalAccessForm>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    if !form.enabled && !super::confirm::confirmed(&form.confirmed) {
        return super::confirm::disable_portal(&state, &console, signed, patient).await;
    }
    let access = if form.enabled {
        PortalAccess::Enabled
    } else {
        PortalAccess::Disabled
    };
    let outcome = state
        .services
        .patient_set_portal_access(&signed.caller, patient, access)
        .await;
    let done = match &outcome {
        _ if form.enabled => "portal_enabled",
        Ok(change) if change.codes_cancelled > 0 => "portal_disabled_codes_cancelled",
        _ => "portal_disabled",
    };
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Access,
        outcome,
        done,
        Default::default(),
    )
    .await
}

/// A grant as the "who can see this record" table shows it.
fn grant_row(zone: &ClinicTimeZone, g: &GrantRecord, stage: Stage) -> GrantRow {
    let relation = match g.relation {
        Relation::Own => "Their own account",
        Relation::Parent => "Parent or guardian",
        Relation::Caregiver => "Caregiver",
    };
    let sees = match (g.relation, stage) {
        (Relation::Parent, Stage::Teen) => Some("Limited view: no notes, nothing confidential"),
        (Relation::Caregiver, _) if !g.sees_confidential => Some("Not confidential items"),
        (Relation::Caregiver, _) => Some("Confidential items too"),
        _ => None,
    };
    let ended = match (g.ended_reason, g.revoked_at) {
        (Some(EndedReason::AgedOut), Some(at)) => {
            Some(format!("ended {} (came of age)", zone.human(at)))
        }
        (Some(EndedReason::AgedOut), None) => Some("ended (came of age)".to_owned()),
        (Some(EndedReason::EndedByPatient), Some(at)) => {
            Some(format!("ended by the patient {}", zone.human(at)))
        }
        (_, Some(at)) => Some(format!("revoked {}", zone.human(at))),
        (_, None) => None,
    };
    GrantRow {
        id: g.id.to_string(),
        username: g.username.clone(),
        email: g.account_email.clone(),
        since: zone.human(g.created_at),
        relation,
        sees: if ended.is_some() { None } else { sees },
        revoked: ended,
    }
}
