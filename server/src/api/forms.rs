//! SmartForms: staff define forms and assign them; patients fill them in.

use std::collections::BTreeMap;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use portico_tenants::acts::forms::AssignedVia;
use portico_tenants::domain::{DisplayName, Timestamp};
use portico_tenants::smartforms::{AssignmentRecord, Form, FormDefinition, QuestionKind};

use super::ApiTags;
use super::patients::parse_patient_id;
use portico_web::AppState;
use portico_web::auth::{PatientSession, StaffSession};
use portico_web::error::{ApiError, ApiResult};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct FormsApi;

#[derive(Object)]
pub struct QuestionView {
    pub id: String,
    pub label: String,
    /// `text`, `long_text`, `yes_no` or `date`.
    pub kind: String,
    pub required: bool,
}

#[derive(Object)]
pub struct FormView {
    pub id: String,
    pub title: String,
    pub questions: Vec<QuestionView>,
    pub created_at: String,
}

impl From<&Form> for FormView {
    fn from(f: &Form) -> Self {
        Self {
            id: f.id.clone(),
            title: f.title.to_string(),
            questions: f
                .questions
                .iter()
                .map(|q| QuestionView {
                    id: q.id.clone(),
                    label: q.label.clone(),
                    kind: serde_json::to_value(q.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    required: q.required,
                })
                .collect(),
            created_at: f.created_at.to_rfc3339(),
        }
    }
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct QuestionRequest {
    #[oai(validator(max_length = 300))]
    pub label: Text,
    #[oai(validator(max_length = 20))]
    pub kind: Text,
    #[oai(default)]
    pub required: bool,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CreateFormRequest {
    #[oai(validator(max_length = 120))]
    pub title: Text,
    #[oai(validator(max_items = 100))]
    pub questions: Vec<QuestionRequest>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FormAssignmentView {
    pub id: String,
    pub form: FormView,
    pub patient_id: String,
    /// `assigned`, `in_progress` or `submitted`.
    pub status: String,
    /// Question id to answer.
    pub answers: BTreeMap<String, String>,
    /// Whether a portal account can fill it in yet.
    pub linked_to_account: bool,
    pub assigned_at: String,
    pub submitted_at: Option<String>,
}

impl From<&AssignmentRecord> for FormAssignmentView {
    fn from(a: &AssignmentRecord) -> Self {
        Self {
            id: a.id.clone(),
            form: FormView::from(&a.form),
            patient_id: a.patient_id.to_string(),
            status: a.status.as_str().into(),
            answers: a.answers.0.clone(),
            linked_to_account: a.account_id.is_some(),
            assigned_at: a.assigned_at.to_rfc3339(),
            submitted_at: a.submitted_at.map(Timestamp::to_rfc3339),
        }
    }
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct AssignRequest {
    #[oai(validator(max_length = 64))]
    pub form_id: Text,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AssignedView {
    pub assignment: FormAssignmentView,
    /// `account` (already in the patient's portal), `code_emailed` (a
    /// SmartForm code is on its way) or `code_to_hand_over`.
    pub delivered_by: String,
    /// Only with `code_to_hand_over`: the SmartForm code, shown once.
    pub code: Option<String>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct AnswersRequest {
    pub answers: BTreeMap<String, String>,
}

#[OpenApi(tag = "ApiTags::Forms")]
impl FormsApi {
    /// Define a form: a title and its questions.
    #[oai(path = "/v1/forms", method = "post")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<CreateFormRequest>,
    ) -> ApiResult<Json<FormView>> {
        let b = body.0;
        let questions = b
            .questions
            .into_iter()
            .map(|q| {
                Ok((
                    q.label.into_inner(),
                    QuestionKind::parse(&q.kind)?,
                    q.required,
                ))
            })
            .collect::<Result<Vec<_>, portico_tenants::domain::InvalidValue>>()?;
        let definition = FormDefinition::new(DisplayName::parse("title", &b.title)?, questions)?;
        let form = state
            .services
            .form_create(&session.caller, &definition)
            .await?;
        Ok(Json(FormView::from(&form)))
    }

    /// The clinic's forms.
    #[oai(path = "/v1/forms", method = "get")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<Vec<FormView>>> {
        let forms = state.services.forms(&session.caller).await?;
        Ok(Json(forms.iter().map(FormView::from).collect()))
    }

    /// Assign a form to a patient. If their portal account is known the form
    /// appears there; otherwise a SmartForm Access Code is issued and mailed
    /// automatically.
    #[oai(path = "/v1/patients/:id/forms", method = "post")]
    async fn assign(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        body: JsonBody<AssignRequest>,
    ) -> ApiResult<Json<AssignedView>> {
        let patient = parse_patient_id(&id.0)?;
        let done = state
            .services
            .form_assign(&session.caller, patient, &body.0.form_id)
            .await?;
        let (delivered_by, code) = match &done.via {
            AssignedVia::Account => ("account", None),
            AssignedVia::CodeEmailed => ("code_emailed", None),
            AssignedVia::CodeToHandOver(code) => {
                ("code_to_hand_over", Some(code.display().to_owned()))
            }
        };
        Ok(Json(AssignedView {
            assignment: FormAssignmentView::from(&done.record),
            delivered_by: delivered_by.into(),
            code,
        }))
    }

    /// A patient's forms, with their answers.
    #[oai(path = "/v1/patients/:id/forms", method = "get")]
    async fn of_patient(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<Vec<FormAssignmentView>>> {
        let patient = parse_patient_id(&id.0)?;
        let list = state
            .services
            .forms_of_patient(&session.caller, patient)
            .await?;
        Ok(Json(list.iter().map(FormAssignmentView::from).collect()))
    }

    /// The forms waiting for this portal account.
    #[oai(path = "/v1/portal/forms", method = "get")]
    async fn portal_list(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
    ) -> ApiResult<Json<Vec<FormAssignmentView>>> {
        let list = state.services.portal_forms(&session.caller).await?;
        Ok(Json(list.iter().map(FormAssignmentView::from).collect()))
    }

    /// One of the account's forms.
    #[oai(path = "/v1/portal/forms/:id", method = "get")]
    async fn portal_show(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
    ) -> ApiResult<Json<FormAssignmentView>> {
        let a = state
            .services
            .portal_form(&session.caller, &checked_id(&id.0)?)
            .await?;
        Ok(Json(FormAssignmentView::from(&a)))
    }

    /// Save answers without handing the form in.
    #[oai(path = "/v1/portal/forms/:id", method = "put")]
    async fn portal_save(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        body: JsonBody<AnswersRequest>,
    ) -> ApiResult<Json<FormAssignmentView>> {
        let a = state
            .services
            .portal_form_answer(&session.caller, &checked_id(&id.0)?, body.0.answers, false)
            .await?;
        Ok(Json(FormAssignmentView::from(&a)))
    }

    /// Hand the form in. Every required question must be answered; after
    /// this it no longer changes.
    #[oai(path = "/v1/portal/forms/:id/submit", method = "post")]
    async fn portal_submit(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        body: JsonBody<AnswersRequest>,
    ) -> ApiResult<Json<FormAssignmentView>> {
        let a = state
            .services
            .portal_form_answer(&session.caller, &checked_id(&id.0)?, body.0.answers, true)
            .await?;
        Ok(Json(FormAssignmentView::from(&a)))
    }
}

fn checked_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::try_parse(raw)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::not_found("not_found", "form not found"))
}
