//! The one place where failures become HTTP answers: a JSON body
//! `{"code": "...", "message": "...", "field": "..."}` with a stable,
//! documented code, a message for people and, where one is at fault, the
//! input field. Internal details are logged, never sent.

use std::borrow::Cow;

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use portico_tenants::DomainError;
use portico_tenants::domain::AskedField;
use portico_tenants::domain::InvalidValue;
use portico_tenants::storage::StorageError;
use serde::Serialize;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The input field at fault: a body's field (a path such as
    /// `new_patient.full_name` when nested) or a parameter.
    pub field: Option<Cow<'static, str>>,
    pub retry_after_secs: Option<u64>,
    /// With `more_information_needed`: the fields the clinic's rule asks
    /// for, to send back as `answers`.
    pub fields: Vec<AskedField>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "<[AskedField]>::is_empty")]
    fields: &'a [AskedField],
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
            fields: Vec::new(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// The same error, naming the input field at fault.
    pub fn with_field(mut self, field: &'static str) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side; it has been logged",
        )
    }
}

/// An answer's error code, kept on the response for the trail of refused
/// requests (`refusals`).
#[derive(Debug, Clone, Copy)]
pub struct RefusalCode(pub &'static str);

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let body = serde_json::to_vec(&Body {
            code: self.code,
            message: &self.message,
            field: self.field.as_deref(),
            fields: &self.fields,
        })
        .unwrap_or_default();
        let mut resp = Response::builder()
            .status(self.status)
            .content_type("application/json; charset=utf-8")
            .body(body);
        resp.extensions_mut().insert(RefusalCode(self.code));
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut().insert(
                "retry-after",
                secs.to_string().parse().expect("digits are a valid header"),
            );
        }
        resp
    }
}

impl From<crate::input_errors::InputError> for ApiError {
    fn from(err: crate::input_errors::InputError) -> Self {
        let mut e = ApiError::new(err.status, err.code, err.message);
        e.field = err.field.map(Cow::Owned);
        e
    }
}

impl From<InvalidValue> for ApiError {
    fn from(err: InvalidValue) -> Self {
        let mut e = ApiError::unprocessable(invalid_code(err.field), err.to_string());
        e.field = Some(err.field.into());
        e
    }
}

/// A specific code for each kind of invalid input the API names.
fn invalid_code(field: &str) -> &'static str {
    match field {
        "email" | "new_email" | "account.email" => "invalid_email",
        "slug" => "invalid_slug",
        "code" => "invalid_code",
        "password" | "new_password" | "account.password" => "invalid_password",
        "role" => "invalid_role",
        "resource" => "invalid_resource",
        "action" => "invalid_action",
        "date_of_birth" => "invalid_date_of_birth",
        "phone" => "invalid_phone",
        "home_zip" => "invalid_zip",
        "delivery" => "invalid_delivery",
        "code_lifetime_hours" => "invalid_code_lifetime",
        "full_name" => "invalid_name",
        "username" | "account.username" => "invalid_username",
        "custom_domain" | "requested_host" => "invalid_domain",
        "time_zone" => "invalid_time_zone",
        "display_name" | "name" => "invalid_name",
        "questions" => "invalid_questions",
        "primary_colour" | "accent_colour" => "invalid_colour",
        "logo_url" => "invalid_logo_url",
        "answers" => "invalid_answers",
        "title" => "invalid_title",
        "settings" | "input.settings" => "invalid_settings",
        "body" => "invalid_text",
        "starts_at" => "invalid_starts_at",
        "duration_minutes" => "invalid_duration",
        "with" | "location" | "reason" => "invalid_appointment",
        "file_name" => "invalid_file_name",
        "relation" => "invalid_relation",
        "adult_age" | "proxy_limited_from_age" => "invalid_age_rule",
        "audit_retention_days" => "invalid_retention",
        "seq" | "first" | "from" => "invalid_proof_request",
        _ => "invalid_field",
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        use DomainError as D;
        match err {
            D::Invalid(invalid) => invalid.into(),
            D::NotFound(what) => ApiError::not_found("not_found", format!("{what} not found")),
            D::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            D::InvalidCredentials => ApiError::unauthorized("invalid_credentials", err.to_string()),
            D::WrongSecondFactor => {
                let mut e = ApiError::unauthorized("wrong_code", err.to_string());
                e.field = Some("code".into());
                e
            }
            D::LockedOut { retry_after } => {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    err.to_string(),
                );
                e.retry_after_secs = Some(retry_after.as_secs().max(1));
                e
            }
            D::RateLimited { retry_after } => {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    err.to_string(),
                );
                e.retry_after_secs = Some(retry_after.as_secs().max(1));
                e
            }
            D::SessionExpired => ApiError::unauthorized("session_expired", err.to_string()),
            D::InvalidToken => ApiError::unauthorized("invalid_session", err.to_string()),
            D::Forbidden(_) => ApiError::forbidden("permission_denied", err.to_string()),
            D::NotAllowed(message) => ApiError::forbidden("not_allowed", message),
            D::StepUpRequired => ApiError::forbidden("step_up_required", err.to_string()),
            D::SecondFactorSetupRequired => {
                ApiError::forbidden("second_factor_setup_required", err.to_string())
            }
            D::PasswordChangeRequired => {
                ApiError::forbidden("password_change_required", err.to_string())
            }
            D::Storage(StorageError::UniqueViolation(_)) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "this conflicts with existing data",
            ),
            D::Refused(r) => {
                use portico_tenants::RefusalKind as K;
                let status = match r.kind {
                    K::Missing => StatusCode::BAD_REQUEST,
                    K::Malformed => StatusCode::UNPROCESSABLE_ENTITY,
                    K::Unauthenticated => StatusCode::UNAUTHORIZED,
                    K::Forbidden => StatusCode::FORBIDDEN,
                    K::NotFound => StatusCode::NOT_FOUND,
                    K::Gone => StatusCode::GONE,
                    K::Conflict => StatusCode::CONFLICT,
                    K::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                    K::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                };
                let mut e = ApiError::new(status, r.code, r.message);
                e.field = r.field.map(Cow::Borrowed);
                e
            }
            D::MoreInformationNeeded(ref fields) => {
                let mut e = ApiError::unprocessable("more_information_needed", err.to_string());
                e.fields = fields.clone();
                e
            }
            D::Storage(StorageError::Unavailable(ref cause)) => {
                tracing::warn!(error = %cause, "database unavailable");
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "the service cannot reach its database just now; try again in a few seconds",
                );
                e.retry_after_secs = Some(5);
                e
            }
            D::Storage(_) | D::Hash(_) | D::Policy(_) => {
                tracing::error!(error = %err, "request failed");
                ApiError::internal()
            }
        }
    }
}

/// Turns any error that reached the top of the stack into the JSON shape,
/// giving framework errors (bad parameters, unknown routes, oversized
/// bodies) codes of their own.
pub fn to_response(err: poem::Error) -> Response {
    if let Some(api) = err.downcast_ref::<ApiError>() {
        return poem::error::ResponseError::as_response(api);
    }
    let status = err.status();
    // A page's "log in first" is a redirect carried as an error; it stays one.
    if status.is_redirection() {
        return err.into_response();
    }
    let api = if let Some(param) = err.downcast_ref::<poem_openapi::error::ParseParamError>() {
        crate::input_errors::explain_param(param.name, &param.reason).into()
    } else if let Some(path) = err.downcast_ref::<poem_openapi::error::ParsePathError>() {
        crate::input_errors::explain_param(path.name, &path.reason).into()
    } else if err.is::<poem_openapi::error::ContentTypeError>() {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body in the format this endpoint takes: application/json, \
             multipart/form-data for files, or application/octet-stream for a plugin",
        )
    } else if let Some(form) = err.downcast_ref::<poem_openapi::error::ParseMultipartError>() {
        crate::input_errors::explain_multipart(&form.reason).into()
    } else if err.is::<poem_openapi::error::ParseRequestPayloadError>() {
        ApiError::bad_request(
            "invalid_body",
            "the body could not be read in the format this endpoint takes",
        )
    } else if err.is::<poem_openapi::error::AuthorizationError>() {
        ApiError::unauthorized("unauthenticated", "log in first")
    } else {
        match status {
            StatusCode::NOT_FOUND => {
                ApiError::not_found("no_such_endpoint", "there is nothing at this address")
            }
            StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
                status,
                "method_not_allowed",
                "this address does not accept that method",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(status, "payload_too_large", "the request body is too large")
            }
            s if s.is_server_error() => {
                tracing::error!(error = %err, "request failed");
                ApiError::internal()
            }
            // A framework's own refusal: its text may name types or repeat
            // what was sent, so only the status is told.
            s => {
                tracing::debug!(error = %err, "request refused by the framework");
                ApiError::new(
                    s,
                    "bad_request",
                    format!(
                        "this request could not be handled ({})",
                        s.canonical_reason().unwrap_or("refused").to_lowercase()
                    ),
                )
            }
        }
    };
    poem::error::ResponseError::as_response(&api)
}

/// Shorthand for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        poem::error::ResponseError::as_response(&self)
    }
}

/// The error body as documented in the OpenAPI schema.
#[derive(poem_openapi::Object)]
#[oai(rename = "Error", skip_serializing_if_is_none)]
pub struct ErrorDoc {
    /// A stable machine-readable code, such as `invalid_email`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The input field at fault, when there is one: a field of the body
    /// (a path such as `new_patient.full_name` when nested, `questions[0]`
    /// for an item of a list) or a parameter.
    pub field: Option<String>,
    /// With `more_information_needed`: what the clinic's rule asks for, to
    /// send back as `answers`.
    #[oai(default, skip_serializing_if_is_empty)]
    pub fields: Vec<AskedFieldDoc>,
}

/// A detail a clinic's verification rule asks for.
#[derive(poem_openapi::Object)]
#[oai(rename = "AskedField")]
pub struct AskedFieldDoc {
    /// The name to send the answer back under, in `answers`.
    pub name: String,
    /// The question as the patient reads it.
    pub label: String,
    /// `date`, `text` or `zip_code`.
    pub kind: String,
}

impl poem_openapi::ApiResponse for ApiError {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses};
        use poem_openapi::types::Type;
        let content = || {
            vec![MetaMediaType {
                content_type: "application/json; charset=utf-8",
                schema: ErrorDoc::schema_ref(),
            }]
        };
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "The request was refused; `code` says why.",
                    status: None,
                    status_range: Some("4XX".into()),
                    content: content(),
                    headers: vec![],
                },
                MetaResponse {
                    description: "The server failed; the details are in its log.",
                    status: None,
                    status_range: Some("5XX".into()),
                    content: content(),
                    headers: vec![],
                },
            ],
        }
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        use poem_openapi::types::Type;
        ErrorDoc::register(registry);
    }
}
