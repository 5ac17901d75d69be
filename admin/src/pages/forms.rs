//! SmartForms in the console: define a form, assign it from a patient's
//! workspace, and read what came back there.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::views::{
    AnswerRow, AssignmentRow, Console, FormChoice, FormsTab, FormsView, QuestionDraft, WorkspaceTab,
};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use portico_tenants::acts::forms::AssignedVia;
use portico_tenants::domain::{DisplayName, PatientId};
use portico_tenants::smartforms::{Form as SmartForm, FormDefinition, QuestionKind};
use portico_tenants::{DomainError, acts};
use serde::Deserialize;

use super::patients::{conclude, parse_patient, workspace_page};
use super::{Signed, page, redirect, refusal, render_failed};
use portico_web::AppState;
use portico_web::error::ApiError;

/// Question rows the define form offers without a script.
const BLANK_ROWS: usize = 8;

fn choice(f: &SmartForm) -> FormChoice {
    FormChoice {
        id: f.id.clone(),
        title: f.title.to_string(),
        questions: f.questions.len(),
    }
}

/// The workspace's forms tab, for those who may read forms.
pub(super) async fn tab(
    state: &AppState,
    signed: &Signed,
    patient: PatientId,
) -> poem::Result<Option<FormsTab>> {
    if !signed.may(state, &acts::FORMS_READ).await? {
        return Ok(None);
    }
    let services = &state.services;
    let t = &signed.tenant.tenant;
    let zone = &t.settings.time_zone;
    let assigned = services
        .forms_of_patient(&signed.caller, patient)
        .await
        .map_err(ApiError::from)?;
    let forms = services
        .forms(&signed.caller)
        .await
        .map_err(ApiError::from)?;
    Ok(Some(FormsTab {
        assignments: assigned
            .iter()
            .map(|a| AssignmentRow {
                title: a.form.title.to_string(),
                status: a.status.as_str().into(),
                assigned_at: zone.human(a.assigned_at),
                submitted_at: a.submitted_at.map(|t| zone.human(t)),
                answers: a
                    .form
                    .questions
                    .iter()
                    .filter_map(|q| {
                        Some(AnswerRow {
                            question: q.label.clone(),
                            answer: a.answers.0.get(&q.id)?.clone(),
                        })
                    })
                    .collect(),
            })
            .collect(),
        forms: forms.iter().map(choice).collect(),
        may_assign: signed.may(state, &acts::FORM_ASSIGN).await?,
    }))
}

async fn forms_page(
    state: &AppState,
    console: &Console,
    signed: Signed,
    draft_title: String,
    mut draft_questions: Vec<QuestionDraft>,
    status: StatusCode,
) -> poem::Result<Response> {
    let forms = state
        .services
        .forms(&signed.caller)
        .await
        .map_err(ApiError::from)?;
    let may_define = signed.may(state, &acts::FORM_CREATE).await?;
    draft_questions.resize(
        draft_questions.len().max(BLANK_ROWS),
        QuestionDraft::default(),
    );
    let html = console
        .forms_page(&FormsView {
            frame: signed.frame,
            forms: forms.iter().map(choice).collect(),
            may_define,
            draft_title,
            draft_questions,
        })
        .map_err(render_failed)?;
    Ok(page(html, status))
}

#[handler]
pub(super) async fn list(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let signed = Signed::of(&state, req).await?;
    forms_page(
        &state,
        &console,
        signed,
        String::new(),
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

/// Defines a form from the rows filled in (`q1_label`, `q1_kind`,
/// `q1_required`, ...); rows without a question are left out.
#[handler]
pub(super) async fn define(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> poem::Result<Response> {
    let csrf = fields.get("csrf_token").cloned().unwrap_or_default();
    let mut signed = Signed::posting(&state, req, &csrf).await?;
    let title = fields.get("title").cloned().unwrap_or_default();
    let mut rows = Vec::new();
    for n in 1..=FormDefinition::MAX_QUESTIONS {
        let Some(label) = fields.get(&format!("q{n}_label")) else {
            break;
        };
        rows.push(QuestionDraft {
            label: label.clone(),
            kind: fields
                .get(&format!("q{n}_kind"))
                .cloned()
                .unwrap_or_default(),
            required: fields.contains_key(&format!("q{n}_required")),
        });
    }
    let outcome = async {
        let questions = rows
            .iter()
            .filter(|r| !r.label.trim().is_empty())
            .map(|r| Ok((r.label.clone(), QuestionKind::parse(&r.kind)?, r.required)))
            .collect::<Result<Vec<_>, portico_tenants::domain::InvalidValue>>()?;
        let definition = FormDefinition::new(DisplayName::parse("title", &title)?, questions)?;
        state
            .services
            .form_create(&signed.caller, &definition)
            .await
    }
    .await;
    match outcome {
        Ok(_) => Ok(redirect(&signed.path("/forms"))),
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            forms_page(&state, &console, signed, title, rows, status).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct AssignForm {
    csrf_token: String,
    form_id: String,
}

/// Assigns a form. A code to hand over is shown on the page this once,
/// never put in an address.
#[handler]
pub(super) async fn assign(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<AssignForm>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let mut signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = state
        .services
        .form_assign(&signed.caller, patient, &form.form_id)
        .await;
    let done = match outcome {
        Ok(done) => done,
        Err(err) => {
            let failed: Result<(), DomainError> = Err(err);
            return conclude(
                &state,
                &console,
                signed,
                patient,
                WorkspaceTab::Forms,
                failed,
                "",
                Default::default(),
            )
            .await;
        }
    };
    let key = match done.via {
        AssignedVia::CodeToHandOver(code) => {
            signed.frame.notice = Some(format!(
                "No email on file: hand this SmartForm code to the patient. It is shown only now: {}",
                code.display().replace('-', " ")
            ));
            return workspace_page(
                &state,
                &console,
                signed,
                patient,
                WorkspaceTab::Forms,
                StatusCode::OK,
                Default::default(),
            )
            .await;
        }
        AssignedVia::Account => "form_in_portal",
        AssignedVia::CodeEmailed => "form_code_emailed",
    };
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Forms,
        Ok(()),
        key,
        Default::default(),
    )
    .await
}
