//! A patient's access to their record from the console: sending an access
//! link and printing a handout (each a Medical Records code, issued only
//! after the staff member confirms their password), and revoking codes and
//! grants.

use std::sync::Arc;

use crate::views::{Console, RelationChoice, SendLinkView, WorkspaceTab};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use portico_tenants::codes::{CodeKind, CodeStatus};
use portico_tenants::domain::{
    AccessCodeId, CodeDelivery, DateOfBirth, GrantId, PatientId, Timestamp,
};
use portico_tenants::family::{ClinicDay, Relation, Stage};
use portico_tenants::{DomainError, acts};
use serde::Deserialize;

use super::confirm;
use super::patients::{back_to, conclude, parse_patient, refused};
use super::{Signed, page, redirect, refusal, render_failed};
use portico_web::AppState;
use portico_web::error::ApiError;
use portico_web::handout::{HandoutView, render as render_handout};

/// The step before a Medical Records code is issued: the staff member
/// confirms their password, and for an emailed link sees the address it
/// goes to.
async fn confirm_page(
    state: &AppState,
    console: &Console,
    signed: Signed,
    patient: PatientId,
    delivery: CodeDelivery,
    status: StatusCode,
    chosen: Option<Relation>,
) -> poem::Result<Response> {
    let record = state
        .services
        .patient_get(&signed.caller, patient)
        .await
        .map_err(ApiError::from)?;
    let email = match (delivery, record.email.as_ref()) {
        (CodeDelivery::Email, None) => {
            return Ok(back_to(&signed, patient, "details", "needs_email"));
        }
        (CodeDelivery::Email, Some(email)) => email.to_string(),
        (CodeDelivery::Print, _) => String::new(),
    };
    // Issuing cancels the record's unused code: say which, before the
    // click, so a link emailed a minute ago is not lost without a word. A
    // role that may issue codes but not list them gets no list (and no
    // refusal in the trail for a page it only looked at).
    let zone = &signed.tenant.tenant.settings.time_zone;
    let now = Timestamp::now();
    let codes = if signed.may(state, &acts::CODES_READ).await? {
        state
            .services
            .codes_of_patient(&signed.caller, patient)
            .await
            .map_err(ApiError::from)?
    } else {
        Vec::new()
    };
    let replaces = codes
        .into_iter()
        .filter(|c| {
            c.kind == CodeKind::MedicalRecords
                && c.relation == Relation::Own
                && c.status_at(now) == CodeStatus::Active
        })
        .map(|c| match (c.delivery, record.email.as_ref()) {
            (CodeDelivery::Email, Some(to)) => format!(
                "the access link emailed to {to} on {}",
                zone.human(c.issued_at)
            ),
            (CodeDelivery::Email, None) => {
                format!("the access link emailed on {}", zone.human(c.issued_at))
            }
            (CodeDelivery::Print, _) => {
                format!("the handout printed on {}", zone.human(c.issued_at))
            }
        })
        .collect();
    let hours = signed.tenant.tenant.settings.code_lifetime.as_secs() / 3600;
    let lifetime = if hours.is_multiple_of(24) {
        match hours / 24 {
            1 => "1 day".to_owned(),
            days => format!("{days} days"),
        }
    } else {
        format!("{hours} hours")
    };
    let html = console
        .send_link_page(&SendLinkView {
            frame: signed.frame,
            patient_id: patient.to_string(),
            patient_name: record.full_name.to_string(),
            email,
            lifetime,
            print: delivery == CodeDelivery::Print,
            replaces,
            relations: relation_choices(
                signed.tenant.tenant.settings.day_at(now),
                record.date_of_birth,
                record.full_name.as_str(),
                chosen,
            ),
        })
        .map_err(render_failed)?;
    Ok(page(html, status))
}

/// Who may hold a code on this patient's record, as their age on the
/// clinic's calendar allows, with `chosen` (or the presumed one) checked.
fn relation_choices(
    day: ClinicDay,
    born: DateOfBirth,
    name: &str,
    chosen: Option<Relation>,
) -> Vec<RelationChoice> {
    let stage = day.stage_of(born);
    let allowed = Relation::allowed_for(stage);
    let checked = chosen
        .filter(|c| allowed.contains(c))
        .unwrap_or_else(|| Relation::presumed_for(stage));
    allowed
        .iter()
        .map(|&relation| {
            let (label, hint) = match relation {
                Relation::Own => (
                    format!("{name}, for their own account"),
                    "It replaces their earlier unused code, if there is one.",
                ),
                Relation::Parent => (
                    "A parent or guardian".to_owned(),
                    match stage {
                        Stage::Teen => "They see a limited view: no notes, nothing confidential.",
                        _ => "They see the whole record until the limited view begins.",
                    },
                ),
                Relation::Caregiver => (
                    "A caregiver, with the patient's consent".to_owned(),
                    "They see the record but not confidential items, unless the patient allows.",
                ),
            };
            RelationChoice {
                value: relation.as_str(),
                label,
                hint,
                checked: relation == checked,
            }
        })
        .collect()
}

/// The relation a confirmation form chose, if it named one the product
/// knows; the act refuses one the patient's age does not allow.
fn chosen_relation(raw: Option<&str>) -> Result<Option<Relation>, ApiError> {
    raw.filter(|r| !r.is_empty())
        .map(Relation::parse)
        .transpose()
        .map_err(ApiError::from)
}

/// A step-up with the password typed. The caller it was checked for was
/// read before it, so whoever goes on to act reads the session again.
pub(super) async fn confirm_password(
    state: &AppState,
    signed: &Signed,
    password: String,
) -> Result<(), DomainError> {
    super::two_step::confirm_identity(state, &signed.caller, password).await
}

/// The confirmation page again, after a wrong password: nothing was
/// issued.
async fn unconfirmed(
    state: &AppState,
    console: &Console,
    mut signed: Signed,
    patient: PatientId,
    delivery: CodeDelivery,
    err: DomainError,
    chosen: Option<Relation>,
) -> poem::Result<Response> {
    let (status, _) = refusal(err)?;
    signed.frame.error = Some(if status == StatusCode::TOO_MANY_REQUESTS {
        "Too many wrong passwords. Wait a few minutes and try again.".into()
    } else {
        match delivery {
            CodeDelivery::Email => "That is not your password. Nothing was sent.".into(),
            CodeDelivery::Print => "That is not your password. No code was issued.".into(),
        }
    });
    confirm_page(state, console, signed, patient, delivery, status, chosen).await
}

/// Shows the address an access link will go to, and asks for the staff
/// member's password before it is sent.
#[handler]
pub(super) async fn send_link_form(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let signed = Signed::of(&state, req).await?;
    confirm_page(
        &state,
        &console,
        signed,
        patient,
        CodeDelivery::Email,
        StatusCode::OK,
        None,
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct SendLinkForm {
    csrf_token: String,
    password: String,
    relation: Option<String>,
}

#[handler]
pub(super) async fn send_link(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<SendLinkForm>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let relation = chosen_relation(form.relation.as_deref())?;
    if let Err(err) = confirm_password(&state, &signed, form.password).await {
        return unconfirmed(
            &state,
            &console,
            signed,
            patient,
            CodeDelivery::Email,
            err,
            relation,
        )
        .await;
    }
    let signed = Signed::of(&state, req).await?;
    let outcome = state
        .services
        .issue_medical_records_code(&signed.caller, patient, CodeDelivery::Email, relation)
        .await;
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Access,
        outcome,
        "link_sent",
        Default::default(),
    )
    .await
}

/// The handout's address opened again (a reload, a bookmark): its code
/// was shown once and is not shown again, so this leads back to the
/// patient, where the page says so.
#[handler]
pub(super) async fn handout_again(
    req: &Request,
    state: Data<&AppState>,
    Path(id): Path<String>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let signed = Signed::of(&state, req).await?;
    Ok(back_to(&signed, patient, "access", "handout_shown_once"))
}

#[derive(Deserialize)]
pub(super) struct HandoutForm {
    csrf_token: String,
    /// Absent on the workspace's button, which asks for it first.
    password: Option<String>,
    relation: Option<String>,
}

/// Issues a code for a printed handout and shows the page to print. A
/// printed code opens the record as an emailed one does, so the workspace's
/// button leads to the same password confirmation first; the confirmed
/// form comes back here. Both open in a tab of their own, and the
/// workspace stays where it was.
#[handler]
pub(super) async fn handout(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<HandoutForm>,
) -> poem::Result<Response> {
    let patient = parse_patient(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let relation = chosen_relation(form.relation.as_deref())?;
    let Some(password) = form.password else {
        return confirm_page(
            &state,
            &console,
            signed,
            patient,
            CodeDelivery::Print,
            StatusCode::OK,
            relation,
        )
        .await;
    };
    if let Err(err) = confirm_password(&state, &signed, password).await {
        return unconfirmed(
            &state,
            &console,
            signed,
            patient,
            CodeDelivery::Print,
            err,
            relation,
        )
        .await;
    }
    let signed = Signed::of(&state, req).await?;
    let issued = match state
        .services
        .issue_medical_records_code(&signed.caller, patient, CodeDelivery::Print, relation)
        .await
    {
        Ok(issued) => issued,
        Err(err) => {
            return refused(
                &state,
                &console,
                signed,
                patient,
                WorkspaceTab::Access,
                err,
                Default::default(),
            )
            .await;
        }
    };
    state
        .services
        .record_handout_printed(&signed.caller, &issued)
        .await
        .map_err(ApiError::from)?;
    let html =
        render_handout(&HandoutView::of(&state.links, &signed.tenant, &issued)).map_err(|e| {
            tracing::error!(error = %e, "handout failed to render");
            poem::Error::from(ApiError::internal())
        })?;
    let mut resp = page(html, StatusCode::OK);
    // The code is on this page: never send it on as a referrer. Its own
    // policy lets the Print button's script run, as the API's handout does.
    resp.headers_mut().insert(
        "referrer-policy",
        "no-referrer".parse().expect("static header"),
    );
    resp.headers_mut().insert(
        "content-security-policy",
        portico_web::handout::CONTENT_SECURITY_POLICY
            .parse()
            .expect("static header"),
    );
    Ok(resp)
}

#[derive(Deserialize)]
pub(super) struct OnPatientForm {
    csrf_token: String,
    patient: String,
    /// `follow-up` when the form was on the follow-up list.
    #[serde(default)]
    back: String,
    /// `yes` once the staff member has answered the question first.
    #[serde(default)]
    confirmed: String,
}

#[handler]
pub(super) async fn revoke_code(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<OnPatientForm>,
) -> poem::Result<Response> {
    let patient = parse_patient(&form.patient)?;
    let code = AccessCodeId::parse(&id)
        .map_err(|_| ApiError::not_found("not_found", "access code not found"))?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    if !confirm::confirmed(&form.confirmed) {
        return confirm::cancel_code(&state, &console, signed, code, patient, &form.back).await;
    }
    let outcome = state.services.revoke_code(&signed.caller, code).await;
    if form.back == "follow-up" && outcome.is_ok() {
        return Ok(redirect(&signed.path("/follow-up")));
    }
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Access,
        outcome,
        "code_revoked",
        Default::default(),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct ResetTwoStepForm {
    csrf_token: String,
    patient: String,
    #[serde(default)]
    confirmed: String,
    #[serde(default)]
    password: String,
}

/// A patient who lost their phone and their recovery codes: their
/// account's two-step sign-in cleared, after the question and the staff
/// member's confirmation.
#[handler]
pub(super) async fn reset_two_step(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<ResetTwoStepForm>,
) -> poem::Result<Response> {
    let patient = parse_patient(&form.patient)?;
    let grant =
        GrantId::parse(&id).map_err(|_| ApiError::not_found("not_found", "grant not found"))?;
    let mut signed = Signed::posting(&state, req, &form.csrf_token).await?;
    if !confirm::confirmed(&form.confirmed) {
        return confirm::reset_two_step(&state, &console, signed, grant, patient).await;
    }
    if let Err(err) = confirm_password(&state, &signed, form.password).await {
        let (status, _) = refusal(err)?;
        signed.frame.error = Some(if status == StatusCode::TOO_MANY_REQUESTS {
            "Too many wrong passwords. Wait a few minutes and try again.".into()
        } else {
            "That is not your password, nor a current code from your app. Nothing was reset.".into()
        });
        return confirm::reset_two_step(&state, &console, signed, grant, patient).await;
    }
    // Read again: the caller now carries the confirmation.
    let signed = Signed::of(&state, req).await?;
    let outcome = state
        .services
        .portal_factors_reset(&signed.caller, grant)
        .await;
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Access,
        outcome,
        "two_step_reset",
        Default::default(),
    )
    .await
}

#[handler]
pub(super) async fn revoke_grant(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<OnPatientForm>,
) -> poem::Result<Response> {
    let patient = parse_patient(&form.patient)?;
    let grant =
        GrantId::parse(&id).map_err(|_| ApiError::not_found("not_found", "grant not found"))?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    if !confirm::confirmed(&form.confirmed) {
        return confirm::revoke_grant(&state, &console, signed, grant, patient).await;
    }
    let outcome = state.services.revoke_grant(&signed.caller, grant).await;
    conclude(
        &state,
        &console,
        signed,
        patient,
        WorkspaceTab::Access,
        outcome,
        "grant_revoked",
        Default::default(),
    )
    .await
}
