//! The patient portal's pages, branded per clinic: registration from an
//! access link (the code arrives in the URL fragment, a small script puts
//! it in the field, and the form works without JavaScript too), login,
//! and the records an account holds with what the clinic shares on them.

mod account;
mod forms;
mod links;
mod record;
mod settings;
mod sharing;
mod two_step;

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::{Data, Form};
use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response, Route, get, handler, post};
use portico_tenants::acts::redeem::{AccountForm, CodeCheck, Unlocked};
use portico_tenants::domain::{AskedField as RuleField, AskedKind, GivenAnswer};
use portico_tenants::{Caller, DomainError};
use serde::{Deserialize, Serialize};

use portico_web::AppState;
use portico_web::auth::tenant_of;
use portico_web::client_info::client_info;
use portico_web::error::ApiError;
use portico_web::error_pages::{self, ErrorPage};
use portico_web::page_session::{self, Pages};
use portico_web::tenancy::ResolvedTenant;

pub struct PortalPages {
    env: minijinja::Environment<'static>,
}

impl Default for PortalPages {
    fn default() -> Self {
        Self::new()
    }
}

impl PortalPages {
    pub fn new() -> Self {
        let mut env = portico_web::templates::environment();
        macro_rules! templates {
            ($($name:literal),+ $(,)?) => {
                [$(($name, include_str!(concat!("../../templates/portal/", $name)))),+]
            };
        }
        for (name, source) in templates![
            "layout.html",
            "register.html",
            "login.html",
            "home.html",
            "form.html",
            "verify.html",
            "reset.html",
            "error.html",
            "document.html",
            "account.html",
            "second_step.html",
        ] {
            env.add_template(name, source)
                .expect("portal templates parse");
        }
        Self { env }
    }

    fn render(&self, name: &str, page: impl Serialize) -> Result<String, ApiError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(minijinja::context! { page => minijinja::value::Serde(page) }))
            .map_err(|e| {
                tracing::error!(error = %e, page = name, "portal page failed to render");
                ApiError::internal()
            })
    }
}

/// An error on a portal page (a refusal, an unknown address, a fault) as a
/// page in the clinic's layout, not the API's JSON. A page script that asks
/// for JSON still gets it.
pub async fn errors_as_pages<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let tenant = req.extensions().get::<ResolvedTenant>().cloned();
    let pages = req.data::<Arc<PortalPages>>().cloned();
    let wants_json = error_pages::wants_json(&req);
    let answer = ep.call(req).await.map(IntoResponse::into_response);
    let (Some(tenant), Some(pages)) = (tenant, pages) else {
        return answer;
    };
    #[derive(Serialize)]
    struct ErrorView<'a> {
        clinic: Clinic,
        error: &'a ErrorPage,
    }
    let policy = content_security_policy(&tenant);
    error_pages::drawn_as_pages(answer, wants_json, &policy, |error| {
        pages
            .render(
                "error.html",
                ErrorView {
                    clinic: Clinic::of(&tenant),
                    error,
                },
            )
            .ok()
    })
    .await
}

pub fn routes() -> Route {
    Route::new()
        .at("/", get(record::home))
        .at("/register", get(register_form).post(register))
        .at("/code-check", post(code_check))
        .at("/login", get(account::login_form).post(account::login))
        .at(
            "/login/second-step",
            get(two_step::second_step_form).post(two_step::second_step),
        )
        .at("/login/email-code", post(two_step::send_email_code))
        .at("/login/passkey/options", post(two_step::passkey_options))
        .at("/login/passkey", post(two_step::passkey_sign_in))
        .at("/logout", post(account::logout))
        .at("/account", get(settings::show))
        .at("/account/password", post(settings::change_password))
        .at("/account/email", post(settings::change_email))
        .at(
            "/account/two-step/authenticator",
            post(two_step::begin_authenticator),
        )
        .at(
            "/account/two-step/authenticator/:id",
            post(two_step::confirm_authenticator),
        )
        .at("/account/two-step/passkey", post(two_step::begin_passkey))
        .at(
            "/account/two-step/passkey/finish",
            post(two_step::finish_passkey),
        )
        .at("/account/two-step/email", post(two_step::email_codes))
        .at(
            "/account/two-step/recovery-codes",
            post(two_step::renew_recovery_codes),
        )
        .at(
            "/account/two-step/:id/remove",
            post(two_step::remove_factor),
        )
        .at("/account/devices/:id/revoke", post(two_step::revoke_device))
        .at(
            "/account/logout-everywhere",
            post(settings::logout_everywhere),
        )
        .at("/switch", post(account::switch))
        .at("/redeem", post(account::redeem))
        .at("/records/:id/documents", post(record::upload))
        .at("/records/:id/documents/:document", get(record::download))
        .at("/records/:id/messages", post(record::message))
        .at("/records/:id/caregivers", post(sharing::invite))
        .at(
            "/records/:id/caregiver-invitations/:invitation/cancel",
            post(sharing::cancel_invitation),
        )
        .at("/records/:id/proxies/:proxy/end", post(sharing::end))
        .at(
            "/records/:id/proxies/:proxy/confidential",
            post(sharing::confidential),
        )
        .at("/forms/:id", get(forms::show).post(forms::answer))
        .at("/verify-email", get(links::verify_form).post(links::verify))
        .at("/reset-password", get(links::reset_form).post(links::reset))
        .at(
            "/forgot-password",
            get(links::forgot_form).post(links::forgot),
        )
        .at("/assets/brand.css", get(brand))
        .at("/assets/:name", get(asset))
}

/// The portal's own scripts and stylesheet, part of the binary.
#[handler]
fn asset(poem::web::Path(name): poem::web::Path<String>) -> poem::Result<Response> {
    let (content_type, body) = match name.as_str() {
        "portal.css" => ("text/css", include_str!("../../assets/portal.css")),
        "register.js" => ("text/javascript", include_str!("../../assets/register.js")),
        "link.js" => ("text/javascript", include_str!("../../assets/link.js")),
        "strength.js" => ("text/javascript", include_str!("../../assets/strength.js")),
        "passkeys.js" => ("text/javascript", portico_web::two_step::PASSKEYS_SCRIPT),
        _ => return Err(ApiError::not_found("not_found", "no such asset").into()),
    };
    Ok(Response::builder()
        .content_type(format!("{content_type}; charset=utf-8"))
        .header("cache-control", "public, max-age=3600")
        .body(body))
}

/// The clinic's colours for its pages. Both are checked `#rrggbb` values,
/// so nothing else can reach the stylesheet.
#[handler]
fn brand(req: &Request) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let b = &t.tenant.settings.branding;
    Ok(Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(format!(
            ":root {{ --brand: {}; --accent: {}; }}\n",
            b.primary_colour.as_str(),
            b.accent_colour.as_str()
        )))
}

/// What every portal page shows of the clinic.
#[derive(Serialize, Default)]
pub(crate) struct Clinic {
    name: String,
    portal_path: String,
    logo_url: Option<String>,
}

impl Clinic {
    fn of(t: &ResolvedTenant) -> Self {
        Self {
            name: t.tenant.display_name.to_string(),
            portal_path: portal_path(t),
            logo_url: t
                .tenant
                .settings
                .branding
                .logo_url
                .as_ref()
                .map(|l| l.as_str().to_owned()),
        }
    }
}

/// A page's policy: our own origin only, plus the clinic's logo's origin
/// for images.
fn content_security_policy(t: &ResolvedTenant) -> String {
    let logo_origin = t
        .tenant
        .settings
        .branding
        .logo_url
        .as_ref()
        .and_then(|l| {
            let url = l.as_str();
            let (scheme, rest) = url.split_once("://")?;
            let host = rest.split(['/', '?', '#']).next()?;
            Some(format!(" {scheme}://{host}"))
        })
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'{logo_origin}; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

fn portal_path(t: &ResolvedTenant) -> String {
    Pages::Portal.root(t)
}

/// A portal page. No page sends a referrer: the registration page can
/// carry a code, and a record page's address names the record.
fn html(t: &ResolvedTenant, body: String, status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header("content-security-policy", content_security_policy(t))
        .header("referrer-policy", "no-referrer")
        .header("cache-control", "no-store")
        .body(body)
}

pub(crate) use portico_web::page_session::redirect;

#[derive(Serialize, Default)]
struct RegisterPage {
    clinic: Clinic,
    code: String,
    email: String,
    username: String,
    /// The username field is shown only when the email is one another
    /// account of the family already logs in with.
    ask_username: bool,
    error: Option<String>,
    /// Fields the clinic's verification rule asks for.
    asked: Vec<AskedField>,
}

#[derive(Serialize)]
struct AskedField {
    /// The form field's name: `answer_` and the rule's name for it.
    input_name: String,
    label: String,
    /// The HTML input type.
    input_type: &'static str,
    autocomplete: &'static str,
    value: String,
}

impl AskedField {
    fn from_request(field: &RuleField, value: String) -> Self {
        let (input_type, autocomplete) = match field.kind {
            AskedKind::Date => (
                "date",
                if field.name == "date_of_birth" {
                    "bday"
                } else {
                    "off"
                },
            ),
            AskedKind::ZipCode => ("text", "postal-code"),
            AskedKind::Text => ("text", "off"),
        };
        Self {
            input_name: format!("{ANSWER_PREFIX}{}", field.name),
            label: field.label.clone(),
            input_type,
            autocomplete,
            value,
        }
    }

    /// A field answered before, shown again when the rule refused.
    fn answered(name: &str, value: String) -> Self {
        let label = portico_web::wording::capitalised(&name.replace('_', " "));
        Self {
            input_name: format!("{ANSWER_PREFIX}{name}"),
            label,
            input_type: if name.contains("date") {
                "date"
            } else {
                "text"
            },
            autocomplete: if name == "date_of_birth" {
                "bday"
            } else {
                "off"
            },
            value,
        }
    }
}

/// Form fields that answer the clinic's rule are named `answer_<name>`.
const ANSWER_PREFIX: &str = "answer_";

#[handler]
fn register_form(
    req: &Request,
    pages: Data<&std::sync::Arc<PortalPages>>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let page = RegisterPage {
        clinic: Clinic::of(t),
        ..RegisterPage::default()
    };
    Ok(html(
        t,
        pages.render("register.html", page)?,
        StatusCode::OK,
    ))
}

#[derive(Deserialize)]
struct CodeCheckForm {
    code: String,
}

/// The registration page's first look at the code from its link: a code
/// that will not work (cancelled, replaced by a newer one, expired, used)
/// is told at once, before the patient fills in the form. Answers JSON:
/// `{"usable": true}`, `{"usable": null}` when the clinic is under attack
/// and the form's own answer will tell, or the refusal as the API gives it.
#[handler]
async fn code_check(
    req: &Request,
    state: Data<&AppState>,
    Form(form): Form<CodeCheckForm>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let caller = Caller::visitor(t.tenant.clone(), client_info(req));
    let usable = match state.services.check_code(&caller, &form.code).await {
        Ok(CodeCheck::Usable(_)) => serde_json::Value::Bool(true),
        Ok(CodeCheck::NotChecked) => serde_json::Value::Null,
        Err(err) => return Err(ApiError::from(err).into()),
    };
    Ok(Response::builder()
        .content_type("application/json")
        .header("cache-control", "no-store")
        .body(serde_json::json!({ "usable": usable }).to_string()))
}

#[derive(Deserialize)]
struct RegisterForm {
    code: String,
    email: String,
    #[serde(default)]
    username: String,
    password: String,
    /// Answers to the clinic's rule (`answer_<name>`), and anything else.
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

impl RegisterForm {
    fn answers(&self) -> Vec<GivenAnswer> {
        self.rest
            .iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix(ANSWER_PREFIX)?;
                (!value.trim().is_empty() && name.len() <= 40 && value.len() <= 500).then(|| {
                    GivenAnswer {
                        name: name.to_owned(),
                        value: value.trim().to_owned(),
                    }
                })
            })
            .take(16)
            .collect()
    }
}

#[handler]
async fn register(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&std::sync::Arc<PortalPages>>,
    Form(form): Form<RegisterForm>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    // Always as a visitor: this page sets up a new account, even in a
    // browser that is signed in to another. The account goes in as typed,
    // so a refusal of it is audited inside the act.
    let caller = Caller::visitor(t.tenant.clone(), client_info(req));
    let account = AccountForm {
        username: Some(form.username.clone()),
        email: form.email.clone(),
        password: form.password.clone(),
    };
    let outcome = state
        .services
        .redeem_code(&caller, &form.code, Some(account), form.answers())
        .await;
    let mut asked: Vec<AskedField> = form
        .answers()
        .into_iter()
        .map(|a| AskedField::answered(&a.name, a.value))
        .collect();
    let mut ask_username = false;
    let (status, error) = match outcome {
        Ok(done) => {
            let session = done.session.ok_or_else(ApiError::internal)?;
            // A SmartForm code opens its form; a records code, the records.
            let to = match &done.unlocked {
                Unlocked::Form { assignment_id, .. } => format!("/forms/{assignment_id}"),
                Unlocked::Record(_) => "/".to_owned(),
            };
            return page_session::signed_in(Pages::Portal, &state, req, t, &session.token, &to);
        }
        Err(
            e @ (DomainError::Invalid(_) | DomainError::Refused(_) | DomainError::LockedOut { .. }),
        ) => {
            let api = ApiError::from(e);
            ask_username = matches!(api.code, "username_required" | "username_taken");
            (api.status, api.message)
        }
        Err(DomainError::MoreInformationNeeded(fields)) => {
            let given = form.answers();
            asked = fields
                .iter()
                .map(|f| {
                    let value = given
                        .iter()
                        .find(|a| a.name == f.name)
                        .map(|a| a.value.clone())
                        .unwrap_or_default();
                    AskedField::from_request(f, value)
                })
                .collect();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "{} asks you to confirm a detail before your account is set up. Fill it in and enter your password again.",
                    t.tenant.display_name
                ),
            )
        }
        Err(other) => return Err(ApiError::from(other).into()),
    };
    let page = RegisterPage {
        clinic: Clinic::of(t),
        code: form.code,
        email: form.email,
        ask_username: ask_username || !form.username.trim().is_empty(),
        username: form.username,
        error: Some(error),
        asked,
    };
    Ok(html(t, pages.render("register.html", page)?, status))
}
