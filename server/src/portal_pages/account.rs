//! The account's pages and acts: login (with the code-typed-as-password
//! mix-up explained), logout, switching between the records of a family,
//! and adding a record with another code.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form};
use poem::{Request, Response, handler};
use portico_tenants::acts::portal_factors::PortalSignIn;
use portico_tenants::acts::portal_login::PortalLogin;
use portico_tenants::acts::redeem::Unlocked;
use portico_tenants::domain::{PatientId, PlainPassword};
use portico_tenants::portal::PortalAuthenticated;
use portico_tenants::{Caller, DomainError};
use serde::{Deserialize, Serialize};

use super::{Clinic, PortalPages, html, portal_path};
use portico_web::AppState;
use portico_web::auth::tenant_of;
use portico_web::client_info::client_info;
use portico_web::error::ApiError;
use portico_web::page_session::redirect;
use portico_web::page_session::{self, PageSession, Pages};
use portico_web::tenancy::ResolvedTenant;

/// A logged-in patient on a portal page, and the caller every act of
/// theirs goes through the door with (the shared page session).
pub(super) struct Visitor {
    pub tenant: ResolvedTenant,
    pub caller: Caller,
}

impl From<PageSession> for Visitor {
    fn from(session: PageSession) -> Self {
        Self {
            tenant: session.tenant,
            caller: session.caller,
        }
    }
}

impl Visitor {
    /// The account behind the portal cookie, if the session is live.
    pub(super) async fn current(state: &AppState, req: &Request) -> poem::Result<Option<Self>> {
        Ok(PageSession::current(Pages::Portal, state, req)
            .await?
            .map(Self::from))
    }

    pub(super) fn who(&self) -> &PortalAuthenticated {
        self.caller
            .patient()
            .expect("a portal session is an account's")
    }

    /// As [`Visitor::current`], for a page that needs one: otherwise the
    /// login page.
    pub(super) async fn required(state: &AppState, req: &Request) -> poem::Result<Self> {
        Ok(PageSession::required(Pages::Portal, state, req)
            .await?
            .into())
    }

    /// For a form post: a live session whose CSRF token the form carries.
    pub(super) async fn posting(
        state: &AppState,
        req: &Request,
        csrf_token: &str,
    ) -> poem::Result<Self> {
        Ok(PageSession::posting(Pages::Portal, state, req, csrf_token)
            .await?
            .into())
    }

    pub(super) fn home(&self, done: &str) -> Response {
        redirect(&format!("{}/?done={done}", portal_path(&self.tenant)))
    }
}

#[derive(Serialize, Default)]
struct LoginPage {
    clinic: Clinic,
    login: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct LoginQuery {
    done: Option<String>,
}

#[handler]
pub(super) async fn login_form(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    poem::web::Query(q): poem::web::Query<LoginQuery>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    if Visitor::current(&state, req).await?.is_some() {
        return Ok(redirect(&format!("{}/", portal_path(t))));
    }
    let page = LoginPage {
        clinic: Clinic::of(t),
        notice: match q.done.as_deref() {
            Some("logged_out") => Some("You have logged out.".to_owned()),
            Some("logged_out_everywhere") => Some(
                "You have logged out everywhere: every session of your account has ended."
                    .to_owned(),
            ),
            Some("password_reset") => {
                Some("Your new password is saved. Log in with it.".to_owned())
            }
            Some("sign_in_expired") => Some(
                "That sign-in took too long or was already finished. Enter your password again."
                    .to_owned(),
            ),
            _ => None,
        },
        ..LoginPage::default()
    };
    Ok(html(t, pages.render("login.html", page)?, StatusCode::OK))
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    login: String,
    password: String,
}

#[handler]
pub(super) async fn login(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<LoginForm>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let outcome = async {
        let login = PortalLogin {
            login: form.login.clone(),
            password: PlainPassword::new(form.password)?,
        };
        let caller = Caller::visitor(t.tenant.clone(), client_info(req));
        let device = super::two_step::device_token(req);
        state
            .services
            .portal_login(&caller, &login, device.as_ref())
            .await
    }
    .await;
    let error = match outcome {
        Ok(PortalSignIn::Signed(issued)) => {
            return page_session::signed_in(Pages::Portal, &state, req, t, &issued.token, "/");
        }
        Ok(PortalSignIn::SecondStep(step)) => {
            return super::two_step::to_second_step(req, t, &step);
        }
        Err(err) => ApiError::from(err),
    };
    if error.status.is_server_error() {
        return Err(error.into());
    }
    // A code typed as a password is a mix-up, not a failure: it is
    // explained calmly, as a notice, not as an error.
    let mix_up = error.code == "code_is_not_a_password";
    let page = LoginPage {
        clinic: Clinic::of(t),
        login: form.login,
        notice: mix_up.then(|| error.message.clone()),
        error: (!mix_up).then_some(error.message),
    };
    Ok(html(t, pages.render("login.html", page)?, error.status))
}

/// A form that carries nothing but the session's CSRF token.
#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    pub(super) csrf_token: String,
}

#[handler]
pub(super) async fn logout(
    req: &Request,
    state: Data<&AppState>,
    Form(form): Form<CsrfOnly>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    state
        .services
        .portal_logout(&visitor.caller)
        .await
        .map_err(ApiError::from)?;
    let t = &visitor.tenant;
    let to = format!("{}/login?done=logged_out", portal_path(t));
    page_session::signed_out(Pages::Portal, req, t, &to)
}

#[derive(Deserialize)]
pub(super) struct SwitchForm {
    csrf_token: String,
    patient: String,
}

#[handler]
pub(super) async fn switch(
    req: &Request,
    state: Data<&AppState>,
    Form(form): Form<SwitchForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let patient = PatientId::parse(&form.patient)
        .map_err(|_| ApiError::not_found("not_found", "record not found"))?;
    state
        .services
        .portal_switch(&visitor.caller, patient)
        .await
        .map_err(ApiError::from)?;
    Ok(visitor.home("switched"))
}

#[derive(Deserialize)]
pub(super) struct RedeemForm {
    csrf_token: String,
    code: String,
}

/// Adds the record another code opens to this account; a refusal shows on
/// the home page with the code kept in the field.
#[handler]
pub(super) async fn redeem(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Form(form): Form<RedeemForm>,
) -> poem::Result<Response> {
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let outcome = state
        .services
        .redeem_code(&visitor.caller, &form.code, None, Vec::new())
        .await;
    let problem = match outcome {
        Ok(done) => {
            return Ok(match done.unlocked {
                Unlocked::Form { assignment_id, .. } => redirect(&format!(
                    "{}/forms/{assignment_id}",
                    portal_path(&visitor.tenant)
                )),
                Unlocked::Record(_) => visitor.home("record_added"),
            });
        }
        Err(DomainError::MoreInformationNeeded(_)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{} needs a detail confirmed for this code. Use the link in its email or the registration page to add it.",
                visitor.tenant.tenant.display_name
            ),
        ),
        Err(err) => {
            let api = ApiError::from(err);
            if api.status.is_server_error() {
                return Err(api.into());
            }
            (api.status, api.message)
        }
    };
    let drafts = super::record::Drafts {
        code: form.code,
        ..Default::default()
    };
    super::record::home_page(&state, &pages, visitor, req, drafts, Some(problem)).await
}
