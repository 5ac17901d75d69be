//! The staff member's own account page: their password, and (drawn by
//! `two_step`) their second factors.

use std::sync::Arc;

use crate::views::Console;
use poem::http::StatusCode;
use poem::web::{Data, Form};
use poem::{Request, Response, handler};
use portico_tenants::domain::{NewPassword, PlainPassword};
use serde::Deserialize;

use super::{Signed, redirect, refusal};
use portico_web::AppState;

#[handler]
pub(super) async fn password_form(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let mut signed = Signed::own_account(&state, req).await?;
    signed.notice_from(
        req,
        &[
            ("factor_added", "Authenticator app added."),
            ("factor_removed", "Removed. It no longer signs you in."),
            ("passkey_added", "Passkey added."),
        ],
    );
    super::two_step::account_page(&state, &console, signed, None, None, StatusCode::OK).await
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
            super::two_step::account_page(&state, &console, signed, None, None, status).await
        }
    }
}
