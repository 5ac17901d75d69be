//! The account's own page: who it is, changing its password or email,
//! two-step sign-in (its forms are in `two_step`), and logging out
//! everywhere.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form, Query};
use poem::{Request, Response, handler};
use portico_tenants::DomainError;
use portico_tenants::domain::{EmailAddress, NewPassword, PlainPassword};
use serde::{Deserialize, Serialize};

use super::account::{CsrfOnly, Visitor};
use super::two_step::{PasskeySetupView, TotpSetupView, TwoStepSection};
use super::{Clinic, PortalPages, html, portal_path, redirect};
use portico_web::AppState;
use portico_web::error::ApiError;
use portico_web::page_session::{self, Pages};

#[derive(Serialize)]
struct AccountPage {
    clinic: Clinic,
    csrf_token: String,
    username: String,
    email: String,
    email_verified: bool,
    new_email: String,
    notice: Option<&'static str>,
    error: Option<String>,
    two_step: TwoStepSection,
    totp_setup: Option<TotpSetupView>,
    passkey_setup: Option<PasskeySetupView>,
    new_recovery_codes: Option<Vec<String>>,
}

/// What the page shows besides the account: a value to keep in a refused
/// form, a setup under way, recovery codes just made (shown once).
#[derive(Default)]
pub(super) struct AccountExtras {
    pub new_email: String,
    pub totp: Option<TotpSetupView>,
    pub passkey: Option<PasskeySetupView>,
    pub recovery_codes: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub(super) struct AccountQuery {
    done: Option<String>,
}

pub(super) async fn account_page(
    state: &AppState,
    pages: &PortalPages,
    visitor: &Visitor,
    notice: Option<&'static str>,
    refused: Option<(StatusCode, String)>,
    extras: AccountExtras,
) -> poem::Result<Response> {
    let (account, _) = state
        .services
        .portal_me(&visitor.caller)
        .await
        .map_err(ApiError::from)?;
    let factors = state
        .services
        .portal_factors(&visitor.caller)
        .await
        .map_err(ApiError::from)?;
    let (status, error) = match refused {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let page = AccountPage {
        clinic: Clinic::of(&visitor.tenant),
        csrf_token: visitor.who().session.csrf_token.clone(),
        username: account.username.to_string(),
        email: account.email.to_string(),
        email_verified: account.email_verified_at.is_some(),
        new_email: extras.new_email,
        notice,
        error,
        two_step: TwoStepSection::of(
            &visitor.tenant,
            factors,
            account.email_verified_at.is_some(),
        ),
        totp_setup: extras.totp,
        passkey_setup: extras.passkey,
        new_recovery_codes: extras.recovery_codes,
    };
    Ok(html(
        &visitor.tenant,
        pages.render("account.html", page)?,
        status,
    ))
}

#[handler]
pub(super) async fn show(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Query(q): Query<AccountQuery>,
) -> poem::Result<Response> {
    let visitor = Visitor::required(&state, req).await?;
    let notice = match q.done.as_deref() {
        Some("password_changed") => Some(
            "Password changed. Your other sessions have ended, and no device is trusted any more.",
        ),
        Some("email_link_sent") => Some(
            "We sent a link to the new address. Open it to finish the change; until then, mail goes to your current address.",
        ),
        Some("email_codes_on") => {
            Some("Codes by email are on: each sign-in now asks for the code we mail you.")
        }
        Some("email_codes_off") => Some("Codes by email are off."),
        Some("factor_removed") => Some("Removed."),
        Some("device_revoked") => {
            Some("That device is no longer trusted: its next sign-in asks for the second step.")
        }
        _ => None,
    };
    account_page(
        &state,
        &pages,
        &visitor,
        notice,
        None,
        AccountExtras::default(),
    )
    .await
}

/// What a refused form tells the patient, or the server's own failure.
fn refusal(err: DomainError) -> poem::Result<(StatusCode, String)> {
    let api = ApiError::from(err);
    if api.status.is_server_error() {
        return Err(api.into());
    }
    let message = match api.code {
        "invalid_credentials" => "That is not your current password.".to_owned(),
        _ => portico_web::wording::sentence(&api.message),
    };
    Ok((api.status, message))
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    csrf_token: String,
    current_password: String,
    new_password: String,
}

#[handler]
pub(super) async fn change_password(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<PasswordForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let current = PlainPassword::new(form.current_password)?;
        let new = NewPassword::parse(form.new_password)?;
        state
            .services
            .portal_change_password(&visitor.caller, &current, &new)
            .await
    }
    .await;
    match outcome {
        Ok(()) => Ok(redirect(&format!(
            "{}/account?done=password_changed",
            portal_path(&visitor.tenant)
        ))),
        Err(err) => {
            let refused = refusal(err)?;
            account_page(
                &state,
                &pages,
                &visitor,
                None,
                Some(refused),
                AccountExtras::default(),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct EmailForm {
    csrf_token: String,
    new_email: String,
    password: String,
}

#[handler]
pub(super) async fn change_email(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<EmailForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let email = EmailAddress::parse(&form.new_email)?;
        let password = PlainPassword::new(form.password)?;
        state
            .services
            .portal_request_email_change(&visitor.caller, &email, &password)
            .await
    }
    .await;
    match outcome {
        Ok(()) => Ok(redirect(&format!(
            "{}/account?done=email_link_sent",
            portal_path(&visitor.tenant)
        ))),
        Err(err) => {
            let refused = refusal(err)?;
            account_page(
                &state,
                &pages,
                &visitor,
                None,
                Some(refused),
                AccountExtras {
                    new_email: form.new_email,
                    ..AccountExtras::default()
                },
            )
            .await
        }
    }
}

#[handler]
pub(super) async fn logout_everywhere(
    req: &Request,
    state: Data<&AppState>,
    Form(form): Form<CsrfOnly>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    state
        .services
        .portal_logout_everywhere(&visitor.caller)
        .await
        .map_err(ApiError::from)?;
    let t = &visitor.tenant;
    let to = format!("{}/login?done=logged_out_everywhere", portal_path(t));
    page_session::signed_out(Pages::Portal, req, t, &to)
}
