//! Two-step sign-in on the console: the login's second step, and the
//! staff member's own factors on their account page (setting up an
//! authenticator app, removing a factor, new recovery codes).

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use portico_tenants::domain::{DisplayName, FactorId, PlainPassword};
use portico_tenants::factors::{FactorKind, SecondFactorAnswer, TotpCode, TotpEnrolment};
use portico_tenants::staff::SessionKind;
use portico_tenants::{Caller, DomainError};
use serde::Deserialize;

use super::{Signed, console_path, page, redirect, refusal, render_failed};
use crate::views::{
    AccountView, Console, FactorRow, PasskeySetupView, SecondStepView, TotpSetupView,
};
use portico_tenants::acts::passkeys::ChallengeFor;
use portico_tenants::factors::passkey;
use portico_web::AppState;
use portico_web::auth::tenant_of;
use portico_web::client_info::client_info;
use portico_web::error::ApiError;
use portico_web::page_session::{self, Pages};

/// Confirms who the signed-in staff member is for a sensitive act: a code
/// from their authenticator app when `answer` is six digits (no password
/// is that short), else their password.
pub(super) async fn confirm_identity(
    state: &AppState,
    caller: &Caller,
    answer: String,
) -> Result<(), DomainError> {
    // Confirmed a moment ago with a passkey, by the page's script.
    if answer.is_empty() {
        return match state.services.step_up_valid_until(caller) {
            Some(_) => Ok(()),
            None => Err(DomainError::StepUpRequired),
        };
    }
    match TotpCode::parse(&answer) {
        Ok(code) => {
            state
                .services
                .staff_step_up_with_code(caller, &code)
                .await?
        }
        Err(_) => {
            let password = PlainPassword::new(answer)?;
            state.services.staff_step_up(caller, &password).await?
        }
    };
    Ok(())
}

#[handler]
pub(super) async fn second_step_form(
    req: &Request,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let tenant = tenant_of(req)?;
    if page_session::pending_login(Pages::Console, req).is_none() {
        return Ok(redirect(&format!("{}/login", console_path(tenant))));
    }
    second_step_page(&console, req, None, StatusCode::OK)
}

fn second_step_page(
    console: &Console,
    req: &Request,
    error: Option<String>,
    status: StatusCode,
) -> poem::Result<Response> {
    let tenant = tenant_of(req)?;
    let html = console
        .second_step_page(&SecondStepView {
            clinic_name: tenant.tenant.display_name.to_string(),
            console_path: console_path(tenant),
            error,
        })
        .map_err(render_failed)?;
    Ok(page(html, status))
}

#[derive(Deserialize)]
pub(super) struct SecondStepForm {
    code: String,
}

#[handler]
pub(super) async fn second_step(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<SecondStepForm>,
) -> poem::Result<Response> {
    let tenant = tenant_of(req)?;
    let Some(pending) = page_session::pending_login(Pages::Console, req) else {
        return Ok(redirect(&format!("{}/login", console_path(tenant))));
    };
    let outcome = async {
        let answer = SecondFactorAnswer::parse(&form.code)?;
        let visitor = Caller::visitor(tenant.tenant.clone(), client_info(req));
        state
            .services
            .staff_login_second_step(&visitor, &pending, &answer, SessionKind::Cookie)
            .await
    }
    .await;
    match outcome {
        Ok(issued) => {
            page_session::signed_in(Pages::Console, &state, req, tenant, &issued.token, "/")
        }
        Err(DomainError::Refused(r)) if r.code == "login_expired" => Ok(redirect(&format!(
            "{}/login?expired=1",
            console_path(tenant)
        ))),
        Err(err) => {
            let (status, message) = refusal(err)?;
            second_step_page(&console, req, Some(message), status)
        }
    }
}

/// What the account page shows besides the factors: a setup under way,
/// codes just made.
#[derive(Default)]
pub(super) struct Extra {
    pub totp: Option<TotpSetupView>,
    pub passkey: Option<PasskeySetupView>,
    pub recovery_codes: Option<Vec<String>>,
}

/// The account page: the password form, and the staff member's factors.
pub(super) async fn account_page(
    state: &AppState,
    console: &Console,
    signed: Signed,
    setup: Option<TotpSetupView>,
    new_recovery_codes: Option<Vec<String>>,
    status: StatusCode,
) -> poem::Result<Response> {
    let extra = Extra {
        totp: setup,
        passkey: None,
        recovery_codes: new_recovery_codes,
    };
    account_page_with(state, console, signed, extra, status).await
}

pub(super) async fn account_page_with(
    state: &AppState,
    console: &Console,
    signed: Signed,
    extra: Extra,
    status: StatusCode,
) -> poem::Result<Response> {
    let mine = state
        .services
        .staff_factors(&signed.caller)
        .await
        .map_err(ApiError::from)?;
    let zone = &signed.tenant.tenant.settings.time_zone;
    let required = signed.tenant.tenant.settings.staff_second_factor_required;
    let view = AccountView {
        setup_needed: required && mine.factors.is_empty(),
        required,
        factors: mine
            .factors
            .iter()
            .map(|f| FactorRow {
                id: f.id.to_string(),
                kind: match f.kind {
                    FactorKind::Totp => "Authenticator app",
                    FactorKind::Passkey => "Passkey",
                },
                name: f.name.to_string(),
                added: zone.human(f.created_at),
                last_used: f
                    .last_used_at
                    .map(|t| zone.human(t))
                    .unwrap_or_else(|| "never".into()),
            })
            .collect(),
        recovery_codes_left: mine.recovery_codes_left,
        has_passkey: mine.factors.iter().any(|f| f.kind == FactorKind::Passkey),
        has_totp: mine.factors.iter().any(|f| f.kind == FactorKind::Totp),
        passkey_step_up: format!(
            "{}/api/v1/auth/step-up/passkey",
            signed.tenant.path_prefix.as_deref().unwrap_or("")
        ),
        setup: extra.totp,
        passkey_setup: extra.passkey,
        new_recovery_codes: extra.recovery_codes,
        frame: signed.frame,
    };
    let html = console.account_page(&view).map_err(render_failed)?;
    Ok(page(html, status))
}

fn qr_svg(enrolment: &TotpEnrolment) -> poem::Result<String> {
    Ok(portico_web::two_step::qr_svg(enrolment).ok_or_else(ApiError::internal)?)
}

#[derive(Deserialize)]
pub(super) struct BeginForm {
    csrf_token: String,
    name: String,
    /// Needed when a factor already exists.
    #[serde(default)]
    confirmation: String,
}

#[handler]
pub(super) async fn begin_authenticator(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<BeginForm>,
) -> poem::Result<Response> {
    let mut signed = Signed::own_account_posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let name = DisplayName::parse("name", &form.name)?;
        if !form.confirmation.is_empty() {
            confirm_identity(&state, &signed.caller, form.confirmation).await?;
            // The step-up is in the session now: read it again.
            signed = Signed::own_account(&state, req)
                .await
                .map_err(|_| DomainError::InvalidToken)?;
        }
        state
            .services
            .staff_totp_begin(&signed.caller, &name)
            .await
            .map(|setup| (setup, name))
    }
    .await;
    match outcome {
        Ok((setup, name)) => {
            let view = TotpSetupView {
                factor_id: setup.factor_id.to_string(),
                name: name.to_string(),
                qr_svg: qr_svg(&setup.enrolment)?,
                secret_text: setup.enrolment.secret_text,
            };
            account_page(&state, &console, signed, Some(view), None, StatusCode::OK).await
        }
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            account_page(&state, &console, signed, None, None, status).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ConfirmForm {
    csrf_token: String,
    code: String,
}

#[handler]
pub(super) async fn confirm_authenticator(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> poem::Result<Response> {
    let mut signed = Signed::own_account_posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let id = FactorId::parse(&id)?;
        let code = TotpCode::parse(&form.code)?;
        state
            .services
            .staff_totp_confirm(&signed.caller, id, &code)
            .await
    }
    .await;
    match outcome {
        Ok(added) => match added.recovery_codes {
            Some(codes) => {
                // The session now has a factor: read it again, so the
                // frame shows the whole console.
                let mut signed = Signed::own_account(&state, req).await?;
                signed.frame.notice = Some(format!(
                    "Two-step sign-in is on: “{}” added.",
                    added.factor.name
                ));
                let shown = codes.iter().map(|c| c.shown()).collect();
                account_page(&state, &console, signed, None, Some(shown), StatusCode::OK).await
            }
            None => Ok(redirect(&signed.path("/account?done=factor_added"))),
        },
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(format!(
                "{message} Nothing was added; start the setup again if the app shows no account for {}.",
                signed.tenant.tenant.display_name
            ));
            account_page(&state, &console, signed, None, None, status).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ConfirmedForm {
    csrf_token: String,
    confirmation: String,
}

#[handler]
pub(super) async fn remove_factor(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<ConfirmedForm>,
) -> poem::Result<Response> {
    let mut signed = Signed::own_account_posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let id = FactorId::parse(&id)?;
        confirm_identity(&state, &signed.caller, form.confirmation).await?;
        let fresh = Signed::own_account(&state, req)
            .await
            .map_err(|_| DomainError::InvalidToken)?;
        state.services.staff_factor_remove(&fresh.caller, id).await
    }
    .await;
    match outcome {
        Ok(()) => Ok(redirect(&signed.path("/account?done=factor_removed"))),
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            account_page(&state, &console, signed, None, None, status).await
        }
    }
}

#[handler]
pub(super) async fn renew_recovery_codes(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<ConfirmedForm>,
) -> poem::Result<Response> {
    let mut signed = Signed::own_account_posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        confirm_identity(&state, &signed.caller, form.confirmation).await?;
        let fresh = Signed::own_account(&state, req)
            .await
            .map_err(|_| DomainError::InvalidToken)?;
        state
            .services
            .staff_recovery_codes_renew(&fresh.caller)
            .await
    }
    .await;
    match outcome {
        Ok(codes) => {
            signed.frame.notice =
                Some("New recovery codes made. The old ones no longer work.".into());
            let shown = codes.iter().map(|c| c.shown()).collect();
            account_page(&state, &console, signed, None, Some(shown), StatusCode::OK).await
        }
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            account_page(&state, &console, signed, None, None, status).await
        }
    }
}

/// A passkey challenge for the login page's button: to sign in with the
/// passkey alone, or, after a right password, as the second step.
#[handler]
pub(super) async fn passkey_options(
    req: &Request,
    state: Data<&AppState>,
) -> poem::Result<Response> {
    let tenant = tenant_of(req)?;
    let rp = state.links.relying_party(&tenant.tenant)?;
    let visitor = Caller::visitor(tenant.tenant.clone(), client_info(req));
    let pending = page_session::pending_login(Pages::Console, req);
    let purpose = match &pending {
        Some(token) => ChallengeFor::SecondStep(token),
        None => ChallengeFor::SignIn,
    };
    let options = state
        .services
        .staff_passkey_challenge(&visitor, &rp, purpose)
        .await
        .map_err(ApiError::from)?;
    Ok(portico_web::two_step::challenge_json(options))
}

#[derive(Deserialize)]
pub(super) struct PasskeyAnswer {
    ceremony_id: String,
    credential: serde_json::Value,
}

/// The browser's answer to a login's passkey challenge: the session, and
/// where to go.
#[handler]
pub(super) async fn passkey_sign_in(
    req: &Request,
    state: Data<&AppState>,
    poem::web::Json(body): poem::web::Json<PasskeyAnswer>,
) -> poem::Result<Response> {
    let tenant = tenant_of(req)?;
    let rp = state.links.relying_party(&tenant.tenant)?;
    let visitor = Caller::visitor(tenant.tenant.clone(), client_info(req));
    let (ceremony, credential) =
        portico_web::two_step::browser_answer(&body.ceremony_id, body.credential)?;
    let services = &state.services;
    let issued = match page_session::pending_login(Pages::Console, req) {
        Some(pending) => {
            services
                .staff_login_second_step_passkey(&visitor, &rp, &pending, ceremony, &credential)
                .await
        }
        None => {
            services
                .staff_login_passkey(&visitor, &rp, ceremony, &credential)
                .await
        }
    }
    .map_err(ApiError::from)?;
    page_session::signed_in_json(Pages::Console, &state, req, tenant, &issued.token, "/")
}

#[handler]
pub(super) async fn begin_passkey(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<BeginForm>,
) -> poem::Result<Response> {
    let mut signed = Signed::own_account_posting(&state, req, &form.csrf_token).await?;
    let rp = state.links.relying_party(&signed.tenant.tenant)?;
    let outcome = async {
        let name = DisplayName::parse("name", &form.name)?;
        if !form.confirmation.is_empty() {
            confirm_identity(&state, &signed.caller, form.confirmation).await?;
            signed = Signed::own_account(&state, req)
                .await
                .map_err(|_| DomainError::InvalidToken)?;
        }
        state
            .services
            .staff_passkey_begin(&signed.caller, &rp)
            .await
            .map(|options| (options, name))
    }
    .await;
    match outcome {
        Ok((options, name)) => {
            let view = PasskeySetupView {
                ceremony_id: options.ceremony_id.to_string(),
                name: name.to_string(),
                options_json: options.options.to_string(),
            };
            account_page_with(
                &state,
                &console,
                signed,
                Extra {
                    passkey: Some(view),
                    ..Extra::default()
                },
                StatusCode::OK,
            )
            .await
        }
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            account_page(&state, &console, signed, None, None, status).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct FinishPasskeyForm {
    csrf_token: String,
    ceremony_id: String,
    name: String,
    credential: String,
}

#[handler]
pub(super) async fn finish_passkey(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<FinishPasskeyForm>,
) -> poem::Result<Response> {
    let mut signed = Signed::own_account_posting(&state, req, &form.csrf_token).await?;
    let rp = state.links.relying_party(&signed.tenant.tenant)?;
    let outcome = async {
        let ceremony = passkey::parse_ceremony_id(&form.ceremony_id)?;
        let name = DisplayName::parse("name", &form.name)?;
        let credential = serde_json::from_str(&form.credential).map_err(|_| {
            DomainError::refused(
                portico_tenants::RefusalKind::Malformed,
                "invalid_credential",
                "the browser's answer did not arrive whole; try adding the passkey again",
            )
        })?;
        state
            .services
            .staff_passkey_finish(&signed.caller, &rp, ceremony, &name, &credential)
            .await
    }
    .await;
    match outcome {
        Ok(added) => match added.recovery_codes {
            Some(codes) => {
                let mut signed = Signed::own_account(&state, req).await?;
                signed.frame.notice = Some(format!(
                    "Two-step sign-in is on: the passkey “{}” added.",
                    added.factor.name
                ));
                let shown = codes.iter().map(|c| c.shown()).collect();
                account_page(&state, &console, signed, None, Some(shown), StatusCode::OK).await
            }
            None => Ok(redirect(&signed.path("/account?done=passkey_added"))),
        },
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            account_page(&state, &console, signed, None, None, status).await
        }
    }
}
