//! A patient's two-step sign-in on the portal's pages: the second step of
//! a login (a code from an app or the mail, a recovery code, a passkey, and
//! "trust this device"), signing in with a passkey alone, and the account
//! page's section that sets it all up.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query};
use poem::{Request, Response, handler};
use portico_tenants::acts::factors::FactorAdded;
use portico_tenants::acts::passkeys::ChallengeFor;
use portico_tenants::acts::portal_factors::{PortalFactors, PortalSecondStep};
use portico_tenants::acts::portal_login::PortalSessionIssued;
use portico_tenants::auth::SecretToken;
use portico_tenants::domain::{DisplayName, FactorId, PlainPassword};
use portico_tenants::factors::{
    DeviceTrusted, FactorKind, SecondFactorAnswer, TRUSTED_DEVICE_TTL, TotpCode, passkey,
};
use portico_tenants::{Caller, DomainError};
use serde::{Deserialize, Serialize};

use super::account::Visitor;
use super::settings::{self, AccountExtras};
use super::{Clinic, PortalPages, html, portal_path, redirect};
use portico_web::AppState;
use portico_web::auth::tenant_of;
use portico_web::client_info::{client_info, is_secure};
use portico_web::cookies::{cookie_header, named_cookie};
use portico_web::error::ApiError;
use portico_web::page_session::{self, Pages};
use portico_web::tenancy::ResolvedTenant;

/// The cookie of a browser the patient trusts: a random token, whose hash
/// the clinic keeps for 30 days.
const DEVICE_COOKIE: &str = "portico_portal_device";

/// The trusted-device token this browser presents, if any.
pub(super) fn device_token(req: &Request) -> Option<SecretToken> {
    named_cookie(req, DEVICE_COOKIE)
}

/// The answer to a right password when a second step follows: the page
/// of the step, told which ways the account has.
pub(super) fn to_second_step(
    req: &Request,
    t: &ResolvedTenant,
    step: &PortalSecondStep,
) -> poem::Result<Response> {
    let to = format!(
        "/login/second-step?ways={}{}",
        step.pending.methods.join("."),
        if step.email_code_sent { "&sent=1" } else { "" }
    );
    page_session::second_step(Pages::Portal, req, t, &step.pending, &to)
}

/// The session a second step earned, with the device's cookie when the
/// patient chose to trust it.
fn signed_in(
    state: &AppState,
    req: &Request,
    t: &ResolvedTenant,
    session: &PortalSessionIssued,
    trusted: Option<&DeviceTrusted>,
    json: bool,
) -> poem::Result<Response> {
    let mut resp = if json {
        page_session::signed_in_json(Pages::Portal, state, req, t, &session.token, "/")?
    } else {
        page_session::signed_in(Pages::Portal, state, req, t, &session.token, "/")?
    };
    if let Some(device) = trusted {
        let cookie = cookie_header(
            DEVICE_COOKIE,
            device.token.expose(),
            t.cookie_path(),
            TRUSTED_DEVICE_TTL.as_secs(),
            is_secure(req),
        );
        resp.headers_mut().append(
            "set-cookie",
            cookie.parse().map_err(|_| ApiError::internal())?,
        );
    }
    Ok(resp)
}

#[derive(Serialize, Default)]
struct SecondStepPage {
    clinic: Clinic,
    totp: bool,
    passkey: bool,
    email_code: bool,
    recovery_code: bool,
    email_code_sent: bool,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct WaysQuery {
    #[serde(default)]
    ways: String,
    sent: Option<String>,
}

impl WaysQuery {
    fn page(&self, t: &ResolvedTenant) -> SecondStepPage {
        let has = |way: &str| self.ways.split('.').any(|w| w == way);
        // An address typed by hand names no way: offer what a code can be.
        let none = !["totp", "passkey", "email_code"].iter().any(|w| has(w));
        SecondStepPage {
            clinic: Clinic::of(t),
            totp: has("totp") || none,
            passkey: has("passkey"),
            email_code: has("email_code"),
            recovery_code: has("recovery_code"),
            email_code_sent: self.sent.is_some(),
            ..SecondStepPage::default()
        }
    }
}

fn second_step_page(
    pages: &PortalPages,
    t: &ResolvedTenant,
    page: SecondStepPage,
    status: StatusCode,
) -> poem::Result<Response> {
    Ok(html(t, pages.render("second_step.html", page)?, status))
}

fn back_to_login(t: &ResolvedTenant) -> Response {
    redirect(&format!("{}/login?done=sign_in_expired", portal_path(t)))
}

#[handler]
pub(super) async fn second_step_form(
    req: &Request,
    pages: Data<&Arc<PortalPages>>,
    Query(q): Query<WaysQuery>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    if page_session::pending_login(Pages::Portal, req).is_none() {
        return Ok(back_to_login(t));
    }
    second_step_page(&pages, t, q.page(t), StatusCode::OK)
}

#[derive(Deserialize)]
pub(super) struct SecondStepForm {
    code: String,
    /// The "trust this device" box: present when ticked.
    trust: Option<String>,
    #[serde(default)]
    ways: String,
}

#[handler]
pub(super) async fn second_step(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<SecondStepForm>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let Some(pending) = page_session::pending_login(Pages::Portal, req) else {
        return Ok(back_to_login(t));
    };
    let outcome = async {
        let answer = SecondFactorAnswer::parse(&form.code)?;
        let visitor = Caller::visitor(t.tenant.clone(), client_info(req));
        state
            .services
            .portal_login_second_step(&visitor, &pending, &answer, form.trust.is_some())
            .await
    }
    .await;
    match outcome {
        Ok(done) => signed_in(&state, req, t, &done.session, done.trusted.as_ref(), false),
        Err(DomainError::Refused(r)) if r.code == "login_expired" => Ok(back_to_login(t)),
        Err(err) => {
            let (status, message) = refusal(err)?;
            let mut page = WaysQuery {
                ways: form.ways,
                sent: None,
            }
            .page(t);
            page.error = Some(message);
            second_step_page(&pages, t, page, status)
        }
    }
}

#[derive(Deserialize)]
pub(super) struct EmailCodeForm {
    #[serde(default)]
    ways: String,
}

/// Mails a code for the waiting login, and shows the step again.
#[handler]
pub(super) async fn send_email_code(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<EmailCodeForm>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let Some(pending) = page_session::pending_login(Pages::Portal, req) else {
        return Ok(back_to_login(t));
    };
    let visitor = Caller::visitor(t.tenant.clone(), client_info(req));
    let outcome = state
        .services
        .portal_send_sign_in_code(&visitor, &pending)
        .await;
    let mut page = WaysQuery {
        ways: form.ways,
        sent: None,
    }
    .page(t);
    let status = match outcome {
        Ok((sent_to, _)) => {
            page.email_code_sent = true;
            page.notice = Some(format!(
                "We sent a 6-digit code to {sent_to}. It works for 10 minutes."
            ));
            StatusCode::OK
        }
        Err(DomainError::Refused(r)) if r.code == "login_expired" => return Ok(back_to_login(t)),
        Err(err) => {
            let (status, message) = refusal(err)?;
            page.error = Some(message);
            status
        }
    };
    second_step_page(&pages, t, page, status)
}

/// A passkey challenge for the login page's button (the passkey alone) or
/// the second step's (after a right password).
#[handler]
pub(super) async fn passkey_options(
    req: &Request,
    state: Data<&AppState>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let rp = state.links.relying_party(&t.tenant)?;
    let visitor = Caller::visitor(t.tenant.clone(), client_info(req));
    let pending = page_session::pending_login(Pages::Portal, req);
    let purpose = match &pending {
        Some(token) => ChallengeFor::SecondStep(token),
        None => ChallengeFor::SignIn,
    };
    let options = state
        .services
        .portal_passkey_challenge(&visitor, &rp, purpose)
        .await
        .map_err(ApiError::from)?;
    Ok(portico_web::two_step::challenge_json(options))
}

#[derive(Deserialize)]
pub(super) struct PasskeyAnswer {
    ceremony_id: String,
    credential: serde_json::Value,
    #[serde(default)]
    trust_device: bool,
}

/// The browser's answer to a passkey challenge: the session, and where to
/// go, as JSON for the page's script.
#[handler]
pub(super) async fn passkey_sign_in(
    req: &Request,
    state: Data<&AppState>,
    poem::web::Json(body): poem::web::Json<PasskeyAnswer>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let rp = state.links.relying_party(&t.tenant)?;
    let visitor = Caller::visitor(t.tenant.clone(), client_info(req));
    let (ceremony, credential) =
        portico_web::two_step::browser_answer(&body.ceremony_id, body.credential)?;
    let services = &state.services;
    let (session, trusted) = match page_session::pending_login(Pages::Portal, req) {
        Some(pending) => {
            let done = services
                .portal_login_second_step_passkey(
                    &visitor,
                    &rp,
                    &pending,
                    ceremony,
                    &credential,
                    body.trust_device,
                )
                .await
                .map_err(ApiError::from)?;
            (done.session, done.trusted)
        }
        None => (
            services
                .portal_login_passkey(&visitor, &rp, ceremony, &credential)
                .await
                .map_err(ApiError::from)?,
            None,
        ),
    };
    signed_in(&state, req, t, &session, trusted.as_ref(), true)
}

/// What a refused form tells the patient, or the server's own failure.
fn refusal(err: DomainError) -> poem::Result<(StatusCode, String)> {
    let api = ApiError::from(err);
    if api.status.is_server_error() {
        return Err(api.into());
    }
    let message = match api.code {
        "invalid_credentials" => "That is not your current password.".to_owned(),
        "wrong_code" => {
            "That code is not right, or was already used. Check it and try again.".to_owned()
        }
        _ => portico_web::wording::sentence(&api.message),
    };
    Ok((api.status, message))
}

/// The account page's section on two-step sign-in.
#[derive(Serialize)]
pub(super) struct TwoStepSection {
    factors: Vec<FactorRow>,
    email_codes: bool,
    email_codes_chosen: bool,
    email_verified: bool,
    required: bool,
    recovery_codes_left: u32,
    devices: Vec<DeviceRow>,
    has_any: bool,
}

#[derive(Serialize)]
struct FactorRow {
    id: String,
    kind: &'static str,
    name: String,
    added: String,
    last_used: String,
}

#[derive(Serialize)]
struct DeviceRow {
    id: String,
    label: String,
    added: String,
    last_used: String,
    until: String,
}

impl TwoStepSection {
    pub(super) fn of(t: &ResolvedTenant, mine: PortalFactors, email_verified: bool) -> Self {
        let zone = &t.tenant.settings.time_zone;
        let never = || "never".to_owned();
        Self {
            has_any: !mine.factors.is_empty() || mine.email_codes,
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
                        .map(|at| zone.human(at))
                        .unwrap_or_else(never),
                })
                .collect(),
            email_codes: mine.email_codes,
            email_codes_chosen: mine.email_codes_chosen,
            email_verified,
            required: mine.required_by_clinic,
            recovery_codes_left: mine.recovery_codes_left,
            devices: mine
                .trusted_devices
                .iter()
                .map(|d| DeviceRow {
                    id: d.id.clone(),
                    label: d.label.clone(),
                    added: zone.human(d.created_at),
                    last_used: d
                        .last_used_at
                        .map(|at| zone.human(at))
                        .unwrap_or_else(never),
                    until: zone.human(d.expires_at),
                })
                .collect(),
        }
    }
}

/// An authenticator-app setup under way, for the account page.
#[derive(Serialize)]
pub(super) struct TotpSetupView {
    factor_id: String,
    name: String,
    qr_svg: String,
    secret_text: String,
}

/// A passkey registration under way: the options for the page's script.
#[derive(Serialize)]
pub(super) struct PasskeySetupView {
    ceremony_id: String,
    name: String,
    options_json: String,
}

#[derive(Deserialize)]
pub(super) struct BeginForm {
    csrf_token: String,
    #[serde(default)]
    name: String,
    password: String,
}

async fn show_refusal(
    state: &AppState,
    pages: &PortalPages,
    visitor: &Visitor,
    err: DomainError,
) -> poem::Result<Response> {
    let refused = refusal(err)?;
    settings::account_page(
        state,
        pages,
        visitor,
        None,
        Some(refused),
        AccountExtras::default(),
    )
    .await
}

/// The account page after a factor was added: what was added, and with a
/// first one the recovery codes, shown this once.
async fn added_page(
    state: &AppState,
    pages: &PortalPages,
    visitor: &Visitor,
    notice: &'static str,
    added: FactorAdded,
) -> poem::Result<Response> {
    let extras = AccountExtras {
        recovery_codes: added
            .recovery_codes
            .map(|codes| codes.iter().map(|c| c.shown()).collect()),
        ..AccountExtras::default()
    };
    settings::account_page(state, pages, visitor, Some(notice), None, extras).await
}

fn done(visitor: &Visitor, what: &str) -> Response {
    redirect(&format!(
        "{}/account?done={what}#two-step",
        portal_path(&visitor.tenant)
    ))
}

#[handler]
pub(super) async fn begin_authenticator(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<BeginForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let name = DisplayName::parse("name", &form.name)?;
        let password = PlainPassword::new(form.password)?;
        let setup = state
            .services
            .portal_totp_begin(&visitor.caller, &name, &password)
            .await?;
        Ok::<_, DomainError>((name, setup))
    }
    .await;
    match outcome {
        Ok((name, setup)) => {
            let qr_svg =
                portico_web::two_step::qr_svg(&setup.enrolment).ok_or_else(ApiError::internal)?;
            let extras = AccountExtras {
                totp: Some(TotpSetupView {
                    factor_id: setup.factor_id.to_string(),
                    name: name.to_string(),
                    qr_svg,
                    secret_text: setup.enrolment.secret_text,
                }),
                ..AccountExtras::default()
            };
            settings::account_page(&state, &pages, &visitor, None, None, extras).await
        }
        Err(err) => show_refusal(&state, &pages, &visitor, err).await,
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
    pages: Data<&Arc<PortalPages>>,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let id = FactorId::parse(&id)?;
        let code = TotpCode::parse(&form.code)?;
        state
            .services
            .portal_totp_confirm(&visitor.caller, id, &code)
            .await
    }
    .await;
    match outcome {
        Ok(added) => {
            let notice = "Authenticator app added: sign-ins now ask for its code.";
            added_page(&state, &pages, &visitor, notice, added).await
        }
        Err(err) => show_refusal(&state, &pages, &visitor, err).await,
    }
}

#[handler]
pub(super) async fn begin_passkey(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<BeginForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let rp = state.links.relying_party(&visitor.tenant.tenant)?;
    let outcome = async {
        let name = DisplayName::parse("name", &form.name)?;
        let password = PlainPassword::new(form.password)?;
        let options = state
            .services
            .portal_passkey_begin(&visitor.caller, &rp, &password)
            .await?;
        Ok::<_, DomainError>((name, options))
    }
    .await;
    match outcome {
        Ok((name, options)) => {
            let extras = AccountExtras {
                passkey: Some(PasskeySetupView {
                    ceremony_id: options.ceremony_id.to_string(),
                    name: name.to_string(),
                    options_json: options.options.to_string(),
                }),
                ..AccountExtras::default()
            };
            settings::account_page(&state, &pages, &visitor, None, None, extras).await
        }
        Err(err) => show_refusal(&state, &pages, &visitor, err).await,
    }
}

#[derive(Deserialize)]
pub(super) struct PasskeyFinishForm {
    csrf_token: String,
    ceremony_id: String,
    name: String,
    credential: String,
}

#[handler]
pub(super) async fn finish_passkey(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<PasskeyFinishForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let rp = state.links.relying_party(&visitor.tenant.tenant)?;
    let outcome = async {
        let ceremony = passkey::parse_ceremony_id(&form.ceremony_id)?;
        let name = DisplayName::parse("name", &form.name)?;
        let credential = serde_json::from_str(&form.credential).map_err(|_| {
            DomainError::refused(
                portico_tenants::RefusalKind::Malformed,
                "passkey_rejected",
                "your browser did not make the passkey; try again, or use an authenticator app",
            )
        })?;
        state
            .services
            .portal_passkey_finish(&visitor.caller, &rp, ceremony, &name, &credential)
            .await
    }
    .await;
    match outcome {
        Ok(added) => {
            let notice = "Passkey added: you can now sign in with it, without your password.";
            added_page(&state, &pages, &visitor, notice, added).await
        }
        Err(err) => show_refusal(&state, &pages, &visitor, err).await,
    }
}

#[derive(Deserialize)]
pub(super) struct EmailCodesForm {
    csrf_token: String,
    enabled: String,
    password: String,
}

#[handler]
pub(super) async fn email_codes(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<EmailCodesForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let on = form.enabled == "true";
    let outcome = async {
        let password = PlainPassword::new(form.password)?;
        state
            .services
            .portal_set_email_codes(&visitor.caller, on, &password)
            .await
    }
    .await;
    match outcome {
        Ok(()) => Ok(done(
            &visitor,
            if on {
                "email_codes_on"
            } else {
                "email_codes_off"
            },
        )),
        Err(err) => show_refusal(&state, &pages, &visitor, err).await,
    }
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    csrf_token: String,
    password: String,
}

#[handler]
pub(super) async fn remove_factor(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path(id): Path<String>,
    Form(form): Form<PasswordForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let id = FactorId::parse(&id)?;
        let password = PlainPassword::new(form.password)?;
        state
            .services
            .portal_factor_remove(&visitor.caller, id, &password)
            .await
    }
    .await;
    match outcome {
        Ok(()) => Ok(done(&visitor, "factor_removed")),
        Err(err) => show_refusal(&state, &pages, &visitor, err).await,
    }
}

#[handler]
pub(super) async fn renew_recovery_codes(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<PasswordForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let password = PlainPassword::new(form.password)?;
        state
            .services
            .portal_recovery_codes_renew(&visitor.caller, &password)
            .await
    }
    .await;
    match outcome {
        Ok(codes) => {
            let extras = AccountExtras {
                recovery_codes: Some(codes.iter().map(|c| c.shown()).collect()),
                ..AccountExtras::default()
            };
            settings::account_page(&state, &pages, &visitor, None, None, extras).await
        }
        Err(err) => show_refusal(&state, &pages, &visitor, err).await,
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf_token: String,
}

#[handler]
pub(super) async fn revoke_device(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    match state
        .services
        .portal_trusted_device_revoke(&visitor.caller, &id)
        .await
    {
        Ok(()) => Ok(done(&visitor, "device_revoked")),
        Err(err) => show_refusal(&state, &pages, &visitor, err).await,
    }
}
