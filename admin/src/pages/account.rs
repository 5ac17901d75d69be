//! The staff member's own account: changing their password.

use std::sync::Arc;

use crate::views::Console;
use poem::http::StatusCode;
use poem::web::{Data, Form};
use poem::{Request, Response, handler};
use portico_tenants::domain::{NewPassword, PlainPassword};
use serde::Deserialize;

use super::{Signed, page, redirect, refusal, render_failed};
use portico_web::AppState;

#[handler]
pub(super) async fn password_form(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let signed = Signed::own_account(&state, req).await?;
    let html = console
        .password_page(&signed.frame)
        .map_err(render_failed)?;
    Ok(page(html, StatusCode::OK))
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
    console: Data<&Arc<Console>>,
    Form(form): Form<PasswordForm>,
) -> poem::Result<Response> {
    let mut signed = Signed::own_account_posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let current = PlainPassword::new(form.current_password)?;
        let new = NewPassword::parse(form.new_password)?;
        state
            .services
            .staff_change_password(&signed.caller, &current, &new)
            .await
    }
    .await;
    match outcome {
        Ok(()) => Ok(redirect(&signed.path("/?done=password_changed"))),
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            let html = console
                .password_page(&signed.frame)
                .map_err(render_failed)?;
            Ok(page(html, status))
        }
    }
}
