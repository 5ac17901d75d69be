//! The pages emailed links open: confirming an email address, and choosing
//! a new password; and the page that asks for a reset link. The token
//! arrives in the link's fragment and `assets/link.js` puts it in the form.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form};
use poem::{Request, Response, handler};
use portico_tenants::auth::SecretToken;
use portico_tenants::domain::NewPassword;
use portico_tenants::{Caller, DomainError};
use serde::{Deserialize, Serialize};

use super::{Clinic, PortalPages, html, redirect};
use portico_web::AppState;
use portico_web::auth::tenant_of;
use portico_web::client_info::client_info;
use portico_web::error::ApiError;
use portico_web::tenancy::ResolvedTenant;

#[derive(Serialize, Default)]
struct LinkPage {
    clinic: Clinic,
    token: String,
    login: String,
    /// The reset page: choosing a new password, or asking for a link.
    choosing: bool,
    notice: Option<String>,
    error: Option<String>,
}

/// What a refused link says, or the server's own failure.
fn refusal(err: DomainError) -> poem::Result<(StatusCode, String)> {
    let api = ApiError::from(err);
    if api.status.is_server_error() {
        return Err(api.into());
    }
    Ok((api.status, api.message))
}

/// An emailed link needs no session (its token is the proof), nor does
/// asking for one, so these pages act as a visitor.
fn visitor(t: &ResolvedTenant, req: &Request) -> Caller {
    Caller::visitor(t.tenant.clone(), client_info(req))
}

fn expired() -> (StatusCode, String) {
    (
        StatusCode::GONE,
        "This link has expired or was already used. Ask for a new one.".into(),
    )
}

#[handler]
pub(super) fn verify_form(req: &Request, pages: Data<&Arc<PortalPages>>) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let page = LinkPage {
        clinic: Clinic::of(t),
        ..LinkPage::default()
    };
    Ok(html(t, pages.render("verify.html", page)?, StatusCode::OK))
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    token: String,
}

#[handler]
pub(super) async fn verify(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<TokenForm>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let outcome = match SecretToken::presented(form.token.trim()) {
        Some(token) => state
            .services
            .portal_confirm_email(&visitor(t, req), &token)
            .await
            .map(|_| ())
            .map_err(refusal),
        None => Err(Ok(expired())),
    };
    let mut page = LinkPage {
        clinic: Clinic::of(t),
        ..LinkPage::default()
    };
    let status = match outcome {
        Ok(()) => {
            page.notice = Some("Thank you: your email address is confirmed.".into());
            StatusCode::OK
        }
        Err(refused) => {
            let (status, message) = refused?;
            page.error = Some(message);
            page.token = form.token;
            status
        }
    };
    Ok(html(t, pages.render("verify.html", page)?, status))
}

#[handler]
pub(super) fn reset_form(req: &Request, pages: Data<&Arc<PortalPages>>) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let page = LinkPage {
        clinic: Clinic::of(t),
        choosing: true,
        ..LinkPage::default()
    };
    Ok(html(t, pages.render("reset.html", page)?, StatusCode::OK))
}

#[derive(Deserialize)]
pub(super) struct ResetForm {
    token: String,
    new_password: String,
}

#[handler]
pub(super) async fn reset(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<ResetForm>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let outcome = match SecretToken::presented(form.token.trim()) {
        Some(token) => async {
            let password = NewPassword::parse(form.new_password)?;
            state
                .services
                .portal_reset_password(&visitor(t, req), &token, &password)
                .await
        }
        .await
        .map(|_| ())
        .map_err(refusal),
        None => Err(Ok(expired())),
    };
    match outcome {
        Ok(()) => Ok(redirect(&format!(
            "{}/login?done=password_reset",
            super::portal_path(t)
        ))),
        Err(refused) => {
            let (status, message) = refused?;
            let page = LinkPage {
                clinic: Clinic::of(t),
                choosing: status != StatusCode::GONE,
                token: form.token,
                error: Some(message),
                ..LinkPage::default()
            };
            Ok(html(t, pages.render("reset.html", page)?, status))
        }
    }
}

#[handler]
pub(super) fn forgot_form(req: &Request, pages: Data<&Arc<PortalPages>>) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let page = LinkPage {
        clinic: Clinic::of(t),
        ..LinkPage::default()
    };
    Ok(html(t, pages.render("reset.html", page)?, StatusCode::OK))
}

#[derive(Deserialize)]
pub(super) struct ForgotForm {
    login: String,
}

/// Asks for a reset link. The answer is the same whether or not the login
/// names an account, so the page cannot be used to find who has one.
#[handler]
pub(super) async fn forgot(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<ForgotForm>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let mut page = LinkPage {
        clinic: Clinic::of(t),
        login: form.login.clone(),
        ..LinkPage::default()
    };
    let status = match state
        .services
        .portal_request_password_reset(&visitor(t, req), form.login.trim())
        .await
    {
        Ok(_) => {
            page.notice = Some(
                "If that is an account here, a link to choose a new password is on its way. It works for a short time."
                    .into(),
            );
            StatusCode::OK
        }
        Err(err) => {
            let (status, message) = refusal(err)?;
            page.error = Some(message);
            status
        }
    };
    Ok(html(t, pages.render("reset.html", page)?, status))
}
