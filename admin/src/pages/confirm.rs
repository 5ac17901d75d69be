//! The question before an act that cannot be taken back: cancelling a
//! code, revoking an account's access to a record, turning a patient's
//! portal access off, resetting a patient's two-step sign-in. Each names what it acts on and what follows; the
//! form comes back with `confirmed=yes` and only then acts.

use poem::Response;
use poem::http::StatusCode;
use portico_tenants::acts;
use portico_tenants::codes::{CodeKind, CodeStatus};
use portico_tenants::domain::{AccessCodeId, CodeDelivery, GrantId, PatientId, Timestamp};

use super::{Signed, page, render_failed};
use crate::views::{ConfirmView, Console};
use portico_web::AppState;
use portico_web::error::ApiError;

/// Whether a form carries the answer to its question.
pub(super) fn confirmed(answer: &str) -> bool {
    answer == "yes"
}

/// Where the question's "keep" link leads: the list the form was on.
pub(super) fn way_back(signed: &Signed, patient: PatientId, back: &str) -> String {
    if back == "follow-up" {
        signed.path("/follow-up")
    } else {
        signed.path(&format!("/patients/{patient}?tab=access"))
    }
}

/// The patient's name and email for the question, when the role may read
/// patients; "this patient" otherwise. Asking must not need more than the
/// act it asks about.
async fn patient_of(
    state: &AppState,
    signed: &Signed,
    patient: PatientId,
) -> poem::Result<(String, Option<String>)> {
    if !signed.may(state, &acts::PATIENT_READ).await? {
        return Ok(("this patient".to_owned(), None));
    }
    let record = state
        .services
        .patient_get(&signed.caller, patient)
        .await
        .map_err(ApiError::from)?;
    Ok((
        record.full_name.to_string(),
        record.email.as_ref().map(ToString::to_string),
    ))
}

/// `Mia Wong's`, or `this patient's`.
fn possessive(name: &str) -> String {
    format!("{name}'s")
}

struct Question {
    question: String,
    facts: Vec<String>,
    action: String,
    fields: Vec<(String, String)>,
    confirm_label: &'static str,
    keep_href: String,
    keep_label: &'static str,
    ask_password: bool,
}

fn ask(console: &Console, signed: Signed, q: Question) -> poem::Result<Response> {
    let html = console
        .confirm_page(&ConfirmView {
            frame: signed.frame,
            question: q.question,
            facts: q.facts,
            action: q.action,
            fields: q.fields,
            confirm_label: q.confirm_label.to_owned(),
            keep_href: q.keep_href,
            keep_label: q.keep_label.to_owned(),
            ask_password: q.ask_password,
        })
        .map_err(render_failed)?;
    Ok(page(html, StatusCode::OK))
}

/// Before a code is cancelled: whose it is, how it was given, until when.
pub(super) async fn cancel_code(
    state: &AppState,
    console: &Console,
    signed: Signed,
    code: AccessCodeId,
    patient: PatientId,
    back: &str,
) -> poem::Result<Response> {
    let services = &state.services;
    let (name, email) = patient_of(state, &signed, patient).await?;
    // A role that may cancel codes but not list them is asked plainly.
    let found = if signed.may(state, &acts::CODES_READ).await? {
        let codes = services
            .codes_of_patient(&signed.caller, patient)
            .await
            .map_err(ApiError::from)?;
        let Some(found) = codes.into_iter().find(|c| c.id == code) else {
            return Err(ApiError::not_found("not_found", "access code not found").into());
        };
        Some(found)
    } else {
        None
    };
    let zone = &signed.tenant.tenant.settings.time_zone;
    let what = match found.as_ref().map(|c| c.kind) {
        Some(CodeKind::SmartForm) => "SmartForm code",
        _ => "access code",
    };
    let mut facts = Vec::new();
    if let Some(found) = &found {
        let given = match (found.delivery, email.as_ref()) {
            (CodeDelivery::Email, Some(to)) => {
                format!("It was emailed to {to} on {}", zone.human(found.issued_at))
            }
            (CodeDelivery::Email, None) => {
                format!("It was emailed on {}", zone.human(found.issued_at))
            }
            (CodeDelivery::Print, _) => format!(
                "It was printed on a handout on {}",
                zone.human(found.issued_at)
            ),
        };
        facts.push(format!(
            "{given} and works until {}.",
            zone.human(found.expires_at)
        ));
    }
    if found
        .as_ref()
        .is_none_or(|c| c.status_at(Timestamp::now()) == CodeStatus::Active)
    {
        facts.push(format!(
            "Once cancelled it opens nothing. If {name} still needs access, give a new code."
        ));
    } else {
        facts.push("It can no longer be used anyway.".to_owned());
    }
    let question = Question {
        question: format!("Cancel {name}'s {what}?"),
        facts,
        action: signed.path(&format!("/codes/{code}/revoke")),
        fields: vec![
            ("patient".into(), patient.to_string()),
            ("back".into(), back.to_owned()),
        ],
        confirm_label: "Cancel the code",
        keep_href: way_back(&signed, patient, back),
        keep_label: "Keep the code",
        ask_password: false,
    };
    ask(console, signed, question)
}

/// Before an account loses a record: which account, whose record, and that
/// the account itself stays.
pub(super) async fn revoke_grant(
    state: &AppState,
    console: &Console,
    signed: Signed,
    grant: GrantId,
    patient: PatientId,
) -> poem::Result<Response> {
    let services = &state.services;
    let (name, _) = patient_of(state, &signed, patient).await?;
    let whose = possessive(&name);
    // A role that may revoke but not list grants is asked without the
    // account's name.
    let (account, email) = if signed.may(state, &acts::GRANTS_READ).await? {
        let grants = services
            .grants_of_patient(&signed.caller, patient)
            .await
            .map_err(ApiError::from)?;
        let Some(found) = grants.into_iter().find(|g| g.id == grant) else {
            return Err(ApiError::not_found("not_found", "grant not found").into());
        };
        (found.username, format!(" ({})", found.account_email))
    } else {
        ("this portal account".to_owned(), String::new())
    };
    let question = Question {
        question: format!("Revoke {account}'s access to {whose} record?"),
        facts: vec![
            format!(
                "The portal account {account}{email} will no longer see {whose} record. The account stays, with \
                 any other records it holds."
            ),
            format!("To give access again later, send {name} a new access link."),
        ],
        action: signed.path(&format!("/grants/{grant}/revoke")),
        fields: vec![("patient".into(), patient.to_string())],
        confirm_label: "Revoke Access",
        keep_href: way_back(&signed, patient, ""),
        keep_label: "Keep their access",
        ask_password: false,
    };
    ask(console, signed, question)
}

/// Before portal access is turned off: who loses the record, and which
/// unused codes go with it.
pub(super) async fn disable_portal(
    state: &AppState,
    console: &Console,
    signed: Signed,
    patient: PatientId,
) -> poem::Result<Response> {
    let services = &state.services;
    let (name, _) = patient_of(state, &signed, patient).await?;
    let now = Timestamp::now();
    let mut facts = Vec::new();
    if signed.may(state, &acts::GRANTS_READ).await? {
        let holders = services
            .grants_of_patient(&signed.caller, patient)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .filter(|g| g.revoked_at.is_none())
            .map(|g| g.username)
            .collect::<Vec<_>>();
        facts.push(match holders.len() {
            0 => format!("No portal account holds {name}'s record yet."),
            _ => format!(
                "While access is off, {} will not see {name}'s record.",
                holders.join(", ")
            ),
        });
    }
    if signed.may(state, &acts::CODES_READ).await? {
        let unused = services
            .codes_of_patient(&signed.caller, patient)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .filter(|c| c.status_at(now) == CodeStatus::Active)
            .count();
        if unused > 0 {
            facts.push(format!(
                "{} unused {} will be cancelled; when access is back on, give {name} a new one.",
                unused,
                if unused == 1 { "code" } else { "codes" }
            ));
        }
    }
    facts.push("Turning access on again later brings the accounts back.".to_owned());
    let question = Question {
        question: format!("Disable portal access for {name}?"),
        facts,
        action: signed.path(&format!("/patients/{patient}/portal-access")),
        fields: vec![("enabled".into(), "false".into())],
        confirm_label: "Disable portal access",
        keep_href: way_back(&signed, patient, ""),
        keep_label: "Keep access on",
        ask_password: false,
    };
    ask(console, signed, question)
}

/// Before a patient's two-step sign-in is cleared: whose account, what
/// goes, and the staff member's confirmation (the act needs a step-up).
pub(super) async fn reset_two_step(
    state: &AppState,
    console: &Console,
    signed: Signed,
    grant: GrantId,
    patient: PatientId,
) -> poem::Result<Response> {
    let (name, _) = patient_of(state, &signed, patient).await?;
    let account = if signed.may(state, &acts::GRANTS_READ).await? {
        let grants = state
            .services
            .grants_of_patient(&signed.caller, patient)
            .await
            .map_err(ApiError::from)?;
        let Some(found) = grants.into_iter().find(|g| g.id == grant) else {
            return Err(ApiError::not_found("not_found", "grant not found").into());
        };
        format!("{} ({})", found.username, found.account_email)
    } else {
        "this portal account".to_owned()
    };
    let question = Question {
        question: format!("Reset the two-step sign-in of {account}?"),
        facts: vec![
            "Its authenticator apps, passkeys, recovery codes, codes by email and trusted devices are removed, \
             and every session of the account ends."
                .to_owned(),
            format!(
                "Do this only once you are sure you are speaking with {name}, such as in person with an ID: \
                 the account then signs in with its password alone until they set up a new second step."
            ),
        ],
        action: signed.path(&format!("/grants/{grant}/reset-two-step")),
        fields: vec![("patient".into(), patient.to_string())],
        confirm_label: "Reset two-step sign-in",
        keep_href: way_back(&signed, patient, ""),
        keep_label: "Keep it as it is",
        ask_password: true,
    };
    ask(console, signed, question)
}
