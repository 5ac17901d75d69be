//! The patient portal's pages. This first piece is the registration page
//! an access link opens: the code arrives in the URL fragment, a small
//! script puts it in the field, and the form works without JavaScript too.

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::{Data, Form};
use poem::{Request, Response, Route, get, handler};
use portico_plugins::model::{Answer, FieldRequest, InputKind};
use portico_tenants::DomainError;
use portico_tenants::domain::{EmailAddress, NewPassword, Username};
use portico_tenants::portal::{NewAccount, Redeemer};
use serde::{Deserialize, Serialize};

use crate::http::AppState;
use crate::http::auth::{PORTAL_COOKIE, cookie_header, named_cookie, tenant_of};
use crate::http::client_info::{client_info, is_secure};
use crate::http::error::ApiError;
use crate::http::tenancy::ResolvedTenant;

/// Scripts and styles only from our own origin; no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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
        let mut env = minijinja::Environment::new();
        // Paths are ours, not user input; escape what HTML needs but keep
        // the slashes readable (minijinja's default escapes `/` too).
        env.add_filter("path", |value: String| {
            minijinja::Value::from_safe_string(
                value
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;"),
            )
        });
        for (name, source) in [
            (
                "layout.html",
                include_str!("../templates/portal/layout.html"),
            ),
            (
                "register.html",
                include_str!("../templates/portal/register.html"),
            ),
            ("home.html", include_str!("../templates/portal/home.html")),
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

pub fn routes() -> Route {
    Route::new()
        .at("/", get(home))
        .at("/register", get(register_form).post(register))
        .at("/assets/register.js", get(script))
        .at("/assets/portal.css", get(stylesheet))
}

fn portal_path(t: &ResolvedTenant) -> String {
    format!("{}/portal", t.path_prefix.as_deref().unwrap_or(""))
}

fn html(body: String, status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("cache-control", "no-store")
        .body(body)
}

fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", to)
        .finish()
}

#[handler]
fn script() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(include_str!("../assets/register.js"))
}

#[handler]
fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(include_str!("../assets/portal.css"))
}

#[derive(Serialize, Default)]
struct RegisterPage {
    clinic_name: String,
    portal_path: String,
    code: String,
    email: String,
    username: String,
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
    fn from_request(field: &FieldRequest, value: String) -> Self {
        let (input_type, autocomplete) = match field.kind {
            InputKind::Date => (
                "date",
                if field.name == "date_of_birth" {
                    "bday"
                } else {
                    "off"
                },
            ),
            InputKind::ZipCode => ("text", "postal-code"),
            InputKind::Text => ("text", "off"),
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
        let mut label = name.replace('_', " ");
        if let Some(first) = label.get(..1) {
            label = first.to_uppercase() + &label[1..];
        }
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
        clinic_name: t.tenant.display_name.to_string(),
        portal_path: portal_path(t),
        ..RegisterPage::default()
    };
    Ok(html(pages.render("register.html", page)?, StatusCode::OK))
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
    fn answers(&self) -> Vec<Answer> {
        self.rest
            .iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix(ANSWER_PREFIX)?;
                (!value.trim().is_empty() && name.len() <= 40 && value.len() <= 500).then(|| {
                    Answer {
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
    let outcome = async {
        let account = NewAccount {
            username: Some(form.username.trim())
                .filter(|u| !u.is_empty())
                .map(Username::parse)
                .transpose()?,
            email: EmailAddress::parse(&form.email)?,
            password: NewPassword::parse(form.password.clone())?,
        };
        state
            .services
            .redeem_code(
                &t.tenant,
                &form.code,
                Redeemer::NewAccount(account),
                form.answers(),
                &client_info(req),
            )
            .await
    }
    .await;
    let mut asked: Vec<AskedField> = form
        .answers()
        .into_iter()
        .map(|a| AskedField::answered(&a.name, a.value))
        .collect();
    let (status, error) = match outcome {
        Ok(done) => {
            let session = done.session.ok_or_else(ApiError::internal)?;
            let cookie = cookie_header(
                PORTAL_COOKIE,
                session.token.expose(),
                t.cookie_path(),
                state.config.portal_session_secs,
                is_secure(req),
            );
            let mut resp = redirect(&format!("{}/", portal_path(t)));
            resp.headers_mut().insert(
                "set-cookie",
                cookie.parse().map_err(|_| ApiError::internal())?,
            );
            return Ok(resp);
        }
        Err(
            e @ (DomainError::Invalid(_) | DomainError::Refused(_) | DomainError::LockedOut { .. }),
        ) => {
            let api = ApiError::from(e);
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
        clinic_name: t.tenant.display_name.to_string(),
        portal_path: portal_path(t),
        code: form.code,
        email: form.email,
        username: form.username,
        error: Some(error),
        asked,
    };
    Ok(html(pages.render("register.html", page)?, status))
}

#[derive(Serialize)]
struct HomePage {
    clinic_name: String,
    portal_path: String,
    username: String,
    records: Vec<String>,
}

#[handler]
async fn home(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&std::sync::Arc<PortalPages>>,
) -> poem::Result<Response> {
    let t = tenant_of(req)?;
    let who = match named_cookie(req, PORTAL_COOKIE) {
        Some(token) => state
            .services
            .portal_authenticate(&t.tenant, &token)
            .await
            .ok(),
        None => None,
    };
    let Some(who) = who else {
        return Ok(redirect(&format!("{}/register", portal_path(t))));
    };
    let (account, records) = state
        .services
        .portal_me(&t.tenant, &who)
        .await
        .map_err(ApiError::from)?;
    let page = HomePage {
        clinic_name: t.tenant.display_name.to_string(),
        portal_path: portal_path(t),
        username: account.username.to_string(),
        records: records.iter().map(|r| r.patient_name.clone()).collect(),
    };
    Ok(html(pages.render("home.html", page)?, StatusCode::OK))
}
