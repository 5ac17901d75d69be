//! SmartForms in the portal: a form opened from the home page or straight
//! after its SmartForm code, filled in, saved for later, and handed in.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use portico_tenants::smartforms::{AssignmentRecord, AssignmentStatus, QuestionKind};
use serde::Serialize;

use super::account::Visitor;
use super::{Clinic, PortalPages, html, portal_path, redirect};
use portico_web::AppState;
use portico_web::error::ApiError;

#[derive(Serialize)]
struct QuestionField {
    /// The input's name: `answer_` and the question's id.
    name: String,
    label: String,
    /// `text`, `long_text`, `yes_no` or `date`.
    kind: &'static str,
    required: bool,
    value: String,
}

#[derive(Serialize)]
struct FormPage {
    clinic: Clinic,
    csrf_token: String,
    id: String,
    title: String,
    submitted: Option<String>,
    questions: Vec<QuestionField>,
    notice: Option<String>,
    error: Option<String>,
}

const ANSWER: &str = "answer_";

fn page_of(
    visitor: &Visitor,
    form: &AssignmentRecord,
    typed: Option<&BTreeMap<String, String>>,
) -> FormPage {
    let questions = form
        .form
        .questions
        .iter()
        .map(|q| QuestionField {
            name: format!("{ANSWER}{}", q.id),
            label: q.label.clone(),
            kind: match q.kind {
                QuestionKind::Text => "text",
                QuestionKind::LongText => "long_text",
                QuestionKind::YesNo => "yes_no",
                QuestionKind::Date => "date",
            },
            required: q.required,
            value: typed
                .and_then(|t| t.get(&q.id))
                .or_else(|| form.answers.0.get(&q.id))
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    FormPage {
        clinic: Clinic::of(&visitor.tenant),
        csrf_token: visitor.who().session.csrf_token.clone(),
        id: form.id.clone(),
        title: form.form.title.to_string(),
        submitted: (form.status == AssignmentStatus::Submitted).then(|| {
            let zone = &visitor.tenant.tenant.settings.time_zone;
            form.submitted_at.map(|t| zone.human(t)).unwrap_or_default()
        }),
        questions,
        notice: None,
        error: None,
    }
}

fn checked(raw: &str) -> poem::Result<String> {
    uuid::Uuid::try_parse(raw)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::not_found("not_found", "form not found").into())
}

#[handler]
pub(super) async fn show(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path(id): Path<String>,
) -> poem::Result<Response> {
    let id = checked(&id)?;
    let visitor = Visitor::required(&state, req).await?;
    let form = state
        .services
        .portal_form(&visitor.caller, &id)
        .await
        .map_err(ApiError::from)?;
    let mut page = page_of(&visitor, &form, None);
    page.notice = match req.uri().query() {
        Some(q) if q.contains("done=saved") => {
            Some("Saved. You can come back and finish it later.".into())
        }
        Some(q) if q.contains("done=submitted") => Some(format!(
            "Thank you. {} has your answers.",
            visitor.tenant.tenant.display_name
        )),
        _ => None,
    };
    Ok(html(
        &visitor.tenant,
        pages.render("form.html", page)?,
        StatusCode::OK,
    ))
}

/// Saves the answers, or with `intent=submit` hands the form in; refused
/// answers come back with what was typed.
#[handler]
pub(super) async fn answer(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path(id): Path<String>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> poem::Result<Response> {
    let id = checked(&id)?;
    let csrf = fields.get("csrf_token").cloned().unwrap_or_default();
    let visitor = Visitor::posting(&state, req, &csrf).await?;
    let submit = fields.get("intent").map(String::as_str) == Some("submit");
    let answers: BTreeMap<String, String> = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(ANSWER)?.to_owned(), v.clone())))
        .collect();
    let outcome = state
        .services
        .portal_form_answer(&visitor.caller, &id, answers.clone(), submit)
        .await;
    match outcome {
        Ok(_) => Ok(redirect(&format!(
            "{}/forms/{id}?done={}",
            portal_path(&visitor.tenant),
            if submit { "submitted" } else { "saved" }
        ))),
        Err(err) => {
            let api = ApiError::from(err);
            if api.status.is_server_error() {
                return Err(api.into());
            }
            let form = state
                .services
                .portal_form(&visitor.caller, &id)
                .await
                .map_err(ApiError::from)?;
            let mut page = page_of(&visitor, &form, Some(&answers));
            page.error = Some(api.message);
            Ok(html(
                &visitor.tenant,
                pages.render("form.html", page)?,
                api.status,
            ))
        }
    }
}
