//! The clinic console's HTTP side: login, the landing page and logout,
//! with the session cookie for pages, and the helpers every console page
//! shares. The pages themselves are rendered by the `portico-admin` crate.

mod access;
mod account;
mod clinic;
mod confirm;
mod forms;
mod integrity;
mod oversight;
mod patients;
mod plugins;
mod roles;
mod shared;
mod two_step;

use portico_tenants::acts;
use std::sync::Arc;

use crate::views::{Console, FollowUpCount, HomeView, InboxRow, LoginView, all_sections};
use poem::http::StatusCode;
use poem::web::{Data, Form};
use poem::{Endpoint, IntoResponse, Request, Response, Route, get, handler, post};
use portico_tenants::DomainError;
use portico_tenants::acts::staff::StaffLogin;
use portico_tenants::domain::{EmailAddress, PlainPassword, Timestamp};
use portico_tenants::staff::{SessionKind, StaffAuthenticated};
use portico_tenants::{Act, Caller};
use serde::Deserialize;

use portico_web::AppState;
use portico_web::auth::tenant_of;
use portico_web::client_info::client_info;
use portico_web::error::ApiError;
use portico_web::page_session::{self, PageSession, Pages, redirect};
use portico_web::tenancy::ResolvedTenant;

/// Pages load only from our own origin and cannot be framed.
/// `connect-src 'self'`: the passkey script asks the server for its
/// challenges.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// An error on a console page (a refusal, an unknown address, a fault) as
/// a page in the console's layout, not the API's JSON.
pub async fn errors_as_pages<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let tenant = req.extensions().get::<ResolvedTenant>().cloned();
    let console = req.data::<Arc<Console>>().cloned();
    let wants_json = portico_web::error_pages::wants_json(&req);
    let answer = ep.call(req).await.map(IntoResponse::into_response);
    let (Some(tenant), Some(console)) = (tenant, console) else {
        return answer;
    };
    portico_web::error_pages::drawn_as_pages(answer, wants_json, CONTENT_SECURITY_POLICY, |error| {
        console
            .error_page(
                tenant.tenant.display_name.as_str(),
                &console_path(&tenant),
                error,
            )
            .ok()
    })
    .await
}

pub fn routes() -> Route {
    Route::new()
        .at("/", get(home))
        .at("/login", get(login_form).post(login))
        .at(
            "/login/second-step",
            get(two_step::second_step_form).post(two_step::second_step),
        )
        .at("/account", get(account::password_form))
        .at(
            "/two-step/authenticator",
            post(two_step::begin_authenticator),
        )
        .at(
            "/two-step/authenticator/:id",
            post(two_step::confirm_authenticator),
        )
        .at(
            "/two-step/recovery-codes",
            post(two_step::renew_recovery_codes),
        )
        .at("/two-step/:id/remove", post(two_step::remove_factor))
        .at("/logout", post(logout))
        .at(
            "/password",
            get(account::password_form).post(account::change_password),
        )
        .at("/console.css", get(stylesheet))
        .at("/print.js", get(print_script))
        .at("/settings.js", get(settings_script))
        .at("/passkeys.js", get(passkeys_script))
        .at("/login/passkey/options", post(two_step::passkey_options))
        .at("/login/passkey", post(two_step::passkey_sign_in))
        .at("/two-step/passkey", post(two_step::begin_passkey))
        .at("/two-step/passkey/finish", post(two_step::finish_passkey))
        .at("/preview.css", get(clinic::preview_colours))
        .at("/patients", get(patients::list).post(patients::create))
        .at("/patients/:id", get(patients::workspace))
        .at("/patients/:id/portal-access", post(patients::portal_access))
        .at("/patients/:id/details", post(patients::save_details))
        .at(
            "/patients/:id/send-link",
            get(access::send_link_form).post(access::send_link),
        )
        .at(
            "/patients/:id/handout",
            get(access::handout_again).post(access::handout),
        )
        .at("/codes/:id/revoke", post(access::revoke_code))
        .at("/grants/:id/revoke", post(access::revoke_grant))
        .at("/grants/:id/reset-two-step", post(access::reset_two_step))
        .at("/patients/:id/documents", post(shared::upload))
        .at("/patients/:id/documents/:document", get(shared::download))
        .at(
            "/patients/:id/documents/:document/withdraw",
            post(shared::withdraw),
        )
        .at("/patients/:id/notes", post(shared::note))
        .at("/patients/:id/appointments", post(shared::book))
        .at(
            "/patients/:id/appointments/:appointment/cancel",
            post(shared::cancel),
        )
        .at("/patients/:id/messages", post(shared::message))
        .at("/forms", get(forms::list).post(forms::define))
        .at("/patients/:id/forms", post(forms::assign))
        .at(
            "/settings",
            get(clinic::settings).post(clinic::save_settings),
        )
        .at("/settings/portal-host", post(clinic::request_portal_host))
        .at("/staff", get(clinic::staff).post(clinic::add_staff))
        .at("/staff/:id/deactivate", post(clinic::deactivate_staff))
        .at("/staff/:id/reactivate", post(clinic::reactivate_staff))
        .at("/staff/:id/reset-two-step", post(clinic::reset_two_step))
        .at("/staff/:id/roles", post(clinic::give_role))
        .at("/staff/:id/roles/:role/remove", post(clinic::take_role))
        .at("/roles", get(roles::show).post(roles::save))
        .at("/policies", post(roles::create))
        .at("/plugins", get(plugins::list).post(plugins::upload))
        .at("/plugins/dry-run", post(plugins::dry_run))
        .at("/plugins/:id/activate", post(plugins::activate))
        .at("/plugins/:id/deactivate", post(plugins::deactivate))
        .at("/plugins/:id/delete", post(plugins::delete))
        .at("/follow-up", get(oversight::follow_up))
        .at("/audit", get(oversight::audit))
        .at("/audit.csv", get(oversight::audit_csv))
        .at("/audit/integrity", get(integrity::show))
        .at("/audit/heads", post(integrity::sign))
        .at("/audit/heads/:file", get(integrity::head_file))
        .at("/audit/proof-bundle.jsonl", get(integrity::proof_bundle))
}

/// A signed-in staff member on a console page: their clinic, their session
/// and the frame every page shares.
pub(crate) struct Signed {
    pub tenant: ResolvedTenant,
    /// Who acts, for every act this page asks of the domain.
    pub caller: Caller,
    pub frame: crate::views::Frame,
}

impl Signed {
    /// The staff member behind the request's console cookie, or a redirect
    /// to the login page.
    /// A staff member whose password someone else chose is sent to choose
    /// their own first.
    async fn of(state: &AppState, req: &Request) -> poem::Result<Self> {
        let session = PageSession::required(Pages::Console, state, req).await?;
        Self::framed(state, session).await?.own_password_first()
    }

    /// As [`Signed::of`], for a form post: the form must carry this
    /// session's CSRF token.
    async fn posting(state: &AppState, req: &Request, csrf_token: &str) -> poem::Result<Self> {
        let session = PageSession::posting(Pages::Console, state, req, csrf_token).await?;
        Self::framed(state, session).await?.own_password_first()
    }

    /// As [`Signed::of`], for the pages of the staff member's own account,
    /// which stay open whatever their password.
    async fn own_account(state: &AppState, req: &Request) -> poem::Result<Self> {
        let session = PageSession::required(Pages::Console, state, req).await?;
        Self::framed(state, session).await
    }

    async fn own_account_posting(
        state: &AppState,
        req: &Request,
        csrf_token: &str,
    ) -> poem::Result<Self> {
        let session = PageSession::posting(Pages::Console, state, req, csrf_token).await?;
        Self::framed(state, session).await
    }

    /// Sends a staff member who must first choose their own password, or
    /// set up the second factor their clinic requires, to their account
    /// page: nothing else opens until then.
    fn own_password_first(self) -> poem::Result<Self> {
        let who = self.who();
        let setup_needed = self.tenant.tenant.settings.staff_second_factor_required
            && !who.session.has_second_factor;
        if self.frame.first_password || setup_needed {
            return Err(poem::Error::from_response(redirect(&self.path("/account"))));
        }
        Ok(self)
    }

    async fn framed(state: &AppState, session: PageSession) -> poem::Result<Self> {
        let PageSession { tenant, caller, .. } = session;
        let who = caller
            .staff()
            .expect("a console session is a staff member's");
        let me = state
            .services
            .staff_get(&caller, who.staff_id())
            .await
            .map_err(ApiError::from)?;
        let frame = crate::views::Frame {
            clinic_name: tenant.tenant.display_name.to_string(),
            console_path: Pages::Console.root(&tenant),
            staff_name: me.display_name.to_string(),
            csrf_token: who.session.csrf_token.clone(),
            notice: None,
            notice_at: None,
            error: None,
            nav: crate::views::Navigation::default(),
            first_password: who.session.must_change_password,
        };
        let mut signed = Self {
            tenant,
            caller,
            frame,
        };
        signed.frame.nav = crate::views::Navigation {
            patients: signed.may(state, &acts::PATIENT_READ).await?,
            forms: signed.may(state, &acts::FORMS_READ).await?,
            follow_up: signed.may(state, &acts::CODES_READ).await?,
            audit: signed.may(state, &acts::AUDIT_READ).await?,
            staff: signed.may(state, &acts::STAFF_LIST).await?,
            settings: signed.may(state, &acts::SETTINGS_READ).await?,
            plugins: signed.may(state, &acts::PLUGINS_READ).await?,
        };
        Ok(signed)
    }

    /// Shows the notice a redirect's `done=<key>` names, from the page's
    /// own fixed list, so no text from the address is ever echoed.
    fn notice_from(&mut self, req: &Request, notices: &[(&str, &str)]) {
        let done = req.uri().query().and_then(|q| q.strip_prefix("done="));
        self.frame.notice = notices
            .iter()
            .find(|(key, _)| Some(*key) == done)
            .map(|(_, text)| (*text).to_owned());
    }

    /// The end of a form post on a page of its own: back to `page` with
    /// `done` on success, or the page again, drawn by `redraw`, with the
    /// reason.
    async fn finish<T, F, Fut>(
        mut self,
        outcome: Result<T, DomainError>,
        page: &str,
        done: &str,
        redraw: F,
    ) -> poem::Result<Response>
    where
        F: FnOnce(Self, StatusCode) -> Fut,
        Fut: std::future::Future<Output = poem::Result<Response>>,
    {
        match outcome {
            Ok(_) => Ok(redirect(&self.path(&format!("{page}?done={done}")))),
            Err(err) => {
                let (status, message) = refusal(err)?;
                self.frame.error = Some(message);
                redraw(self, status).await
            }
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("{}{rest}", self.frame.console_path)
    }

    pub fn who(&self) -> &StaffAuthenticated {
        self.caller.staff().expect("a staff caller")
    }

    /// Whether to draw the control for `act`: the door answers, and still
    /// guards the act itself when it is asked for.
    async fn may(&self, state: &AppState, act: &Act) -> poem::Result<bool> {
        Ok(state
            .services
            .may(&self.caller, act)
            .await
            .map_err(ApiError::from)?)
    }
}

/// What a refused action tells the staff member, and the page's status.
/// Failures of the server itself stay errors.
fn refusal(err: DomainError) -> poem::Result<(StatusCode, String)> {
    let api = ApiError::from(err);
    if api.status.is_server_error() {
        return Err(api.into());
    }
    let mut message = api.message;
    // "primary_colour must be…" names the field as the API does; a page
    // names it by the label its form shows.
    if let Some(field) = api.field.as_deref()
        && let Some(label) = field_label(field)
        && let Some(reason) = message.strip_prefix(field)
    {
        message = format!("{label}{reason}");
    }
    Ok((api.status, portico_web::wording::sentence(&message)))
}

/// The label a console form shows for a field the domain names.
fn field_label(field: &str) -> Option<&'static str> {
    Some(match field {
        "display_name" => "Name",
        "time_zone" => "Time zone",
        "primary_colour" => "Main colour",
        "accent_colour" => "Accent colour",
        "logo_url" => "Logo address",
        "reply_to" => "Replies to mail go to",
        "code_lifetime_hours" => "A code works for",
        "default_delivery" => "Given by default",
        "requested_host" => "Host",
        "full_name" => "Full name",
        "date_of_birth" => "Date of birth",
        "email" => "Email",
        "phone" => "Phone",
        "home_zip" => "Home zip code",
        "password" => "Password",
        "new_password" => "New password",
        "current_password" => "Current password",
        "role" => "Role",
        "permission" => "Its first permission",
        "starts_at" => "When",
        "duration_minutes" => "Minutes",
        "title" => "Title",
        "body" => "Message",
        _ => return None,
    })
}

fn console_path(tenant: &ResolvedTenant) -> String {
    Pages::Console.root(tenant)
}

/// A file to save rather than a page: `name` as the browser offers it,
/// never cached.
fn download(body: impl Into<poem::Body>, content_type: &str, name: &str) -> Response {
    Response::builder()
        .content_type(content_type)
        .header(
            "content-disposition",
            portico_web::files::content_disposition(false, name),
        )
        .header("cache-control", "no-store")
        .body(body)
}

fn page(html: String, status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("cache-control", "no-store")
        .body(html)
}

fn render_failed(err: crate::views::RenderError) -> poem::Error {
    tracing::error!(error = %err, "console page failed to render");
    ApiError::internal().into()
}

#[handler]
async fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(crate::STYLESHEET)
}

#[handler]
async fn settings_script() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(crate::SETTINGS_SCRIPT)
}

#[handler]
async fn passkeys_script() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(crate::PASSKEYS_SCRIPT)
}

#[handler]
async fn print_script() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(crate::PRINT_SCRIPT)
}

#[handler]
async fn login_form(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let tenant = tenant_of(req)?;
    if PageSession::current(Pages::Console, &state, req)
        .await?
        .is_some()
    {
        return Ok(redirect(&format!("{}/", console_path(tenant))));
    }
    let html = console
        .login_page(&LoginView {
            clinic_name: tenant.tenant.display_name.to_string(),
            console_path: console_path(tenant),
            email: String::new(),
            // Back from a second step that took too long.
            error: (req.uri().query() == Some("expired=1")).then(|| {
                "That sign-in took too long or was already finished. Enter your email and password again.".to_owned()
            }),
        })
        .map_err(render_failed)?;
    Ok(page(html, StatusCode::OK))
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

#[handler]
async fn login(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<LoginForm>,
) -> poem::Result<Response> {
    let tenant = tenant_of(req)?;
    let outcome = async {
        let email = EmailAddress::parse(&form.email).map_err(DomainError::from)?;
        let password = PlainPassword::new(form.password.clone()).map_err(DomainError::from)?;
        let visitor = Caller::visitor(tenant.tenant.clone(), client_info(req));
        state
            .services
            .staff_login(&visitor, &email, &password, SessionKind::Cookie)
            .await
    }
    .await;
    let (status, message) = match outcome {
        Ok(StaffLogin::Signed(issued)) => {
            return page_session::signed_in(
                Pages::Console,
                &state,
                req,
                tenant,
                &issued.token,
                "/",
            );
        }
        Ok(StaffLogin::SecondStep(pending)) => {
            return page_session::second_step(
                Pages::Console,
                req,
                tenant,
                &pending,
                "/login/second-step",
            );
        }
        Err(DomainError::Invalid(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Check the {}: it {}.", e.field, e.reason),
        ),
        Err(DomainError::InvalidCredentials) => (
            StatusCode::UNAUTHORIZED,
            "The email or password is not correct.".to_owned(),
        ),
        Err(e @ DomainError::LockedOut { .. }) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed attempts. {e}."),
        ),
        Err(other) => return Err(ApiError::from(other).into()),
    };
    let html = console
        .login_page(&LoginView {
            clinic_name: tenant.tenant.display_name.to_string(),
            console_path: console_path(tenant),
            email: form.email,
            error: Some(message),
        })
        .map_err(render_failed)?;
    Ok(page(html, status))
}

#[handler]
async fn home(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let mut signed = Signed::of(&state, req).await?;
    if req.uri().query() == Some("done=password_changed") {
        signed.frame.notice = Some("Password changed. Your other sessions have ended.".into());
    }
    let services = &state.services;
    let caller = &signed.caller;
    let roles = services
        .authz
        .roles_of(&caller.tenant, signed.who().staff_id())
        .await
        .map_err(ApiError::from)?;
    let mut sections = Vec::new();
    for section in all_sections() {
        if signed.may(&state, section.opens).await? {
            sections.push(section);
        }
    }
    let zone = &signed.tenant.tenant.settings.time_zone;
    let follow_up = if signed.frame.nav.follow_up {
        let pending = services
            .pending_codes(caller, oversight::FOLLOW_UP_LIMIT)
            .await
            .map_err(ApiError::from)?;
        let soon = Timestamp::now().unix_millis() + oversight::DAY_MS;
        Some(FollowUpCount {
            pending: pending.len(),
            more: pending.len() as u32 == oversight::FOLLOW_UP_LIMIT,
            expiring: pending
                .iter()
                .filter(|p| p.code.expires_at.unix_millis() <= soon)
                .count(),
        })
    } else {
        None
    };
    let inbox = if signed.may(&state, &acts::UNREAD_MESSAGES).await? {
        let waiting = services
            .unread_messages(caller)
            .await
            .map_err(ApiError::from)?;
        Some(
            waiting
                .into_iter()
                .map(|t| InboxRow {
                    patient_id: t.patient.to_string(),
                    patient_name: t.patient_name,
                    unread: t.unread,
                    waiting_since: zone.human(t.waiting_since),
                })
                .collect(),
        )
    } else {
        None
    };
    let html = console
        .home_page(&HomeView {
            roles: roles.iter().map(ToString::to_string).collect(),
            may_find: signed.frame.nav.patients,
            may_add: signed.may(&state, &acts::PATIENT_CREATE).await?,
            frame: signed.frame,
            sections,
            follow_up,
            inbox,
        })
        .map_err(render_failed)?;
    Ok(page(html, StatusCode::OK))
}

/// A form that carries nothing but this session's CSRF token: a button
/// that acts on what its address names.
#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    pub(super) csrf_token: String,
}

#[handler]
async fn logout(
    req: &Request,
    state: Data<&AppState>,
    Form(form): Form<CsrfOnly>,
) -> poem::Result<Response> {
    let tenant = tenant_of(req)?;
    let login_page = format!("{}/login", console_path(tenant));
    if PageSession::current(Pages::Console, &state, req)
        .await?
        .is_none()
    {
        return Ok(redirect(&login_page));
    }
    let session = PageSession::posting(Pages::Console, &state, req, &form.csrf_token).await?;
    state
        .services
        .staff_logout(&session.caller)
        .await
        .map_err(ApiError::from)?;
    page_session::signed_out(Pages::Console, req, tenant, &login_page)
}
