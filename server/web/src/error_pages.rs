//! The page trees (the console and the portal) answer a person, not a
//! program: an error that reaches their edge as the API's JSON shape
//! (a refusal, an unknown address, a fault) is drawn as a page in the
//! tree's own layout instead. Each tree renders it; this module reads what
//! went wrong and says it in words.

use poem::http::{StatusCode, header};
use poem::{Body, Request, Response};

/// What an error page says.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ErrorPage {
    pub status: u16,
    pub heading: &'static str,
    pub message: String,
}

/// Calls the tree's endpoint and, when its answer is an error in the
/// API's JSON shape and the request is a person's (not a script's
/// `fetch`), hands it to `draw` for a page. Headers such as `Retry-After`
/// stay; the page's own content type and `policy` (the tree's CSP) replace
/// the JSON's.
pub async fn drawn_as_pages<F>(
    answer: poem::Result<Response>,
    wants_json: bool,
    policy: &str,
    draw: F,
) -> poem::Result<Response>
where
    F: FnOnce(&ErrorPage) -> Option<String>,
{
    let resp = match answer {
        Ok(resp) => resp,
        Err(err) => err.into_response(),
    };
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if wants_json || !is_json || resp.status().as_u16() < 400 {
        return Ok(resp);
    }
    let (parts, body) = resp.into_parts();
    let bytes = body.into_bytes().await.unwrap_or_default();
    let said: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let page = ErrorPage::of(parts.status, said["message"].as_str());
    let Some(html) = draw(&page) else {
        return Ok(Response::from_parts(parts, Body::from(bytes)));
    };
    let mut resp = Response::builder()
        .status(parts.status)
        .content_type("text/html; charset=utf-8")
        .body(html);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            resp.headers_mut().append(name.clone(), value.clone());
        }
    }
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if let Ok(policy) = header::HeaderValue::from_str(policy) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    Ok(resp)
}

/// Whether a request came from a page's script asking for JSON.
pub fn wants_json(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

impl ErrorPage {
    pub fn of(status: StatusCode, message: Option<&str>) -> Self {
        let said = message.map(crate::wording::sentence);
        let (heading, fallback) = match status.as_u16() {
            404 => (
                "This page does not exist",
                "Check the address, or start again from the home page.",
            ),
            401 => ("Please log in again", "Your session has ended."),
            403 => ("This is not open to you", "You cannot do that here."),
            413 => ("That is too large", "Send something smaller."),
            429 => (
                "Too many tries for now",
                "Wait a few minutes and try again.",
            ),
            400..=499 => ("That did not work", "Check what you sent and try again."),
            _ => (
                "Something went wrong on our side",
                "Nothing you did caused it. Try again in a minute.",
            ),
        };
        // A fault's own words are for the log, not the page.
        let message = match said {
            Some(said) if status.is_client_error() && status != StatusCode::NOT_FOUND => said,
            _ => fallback.to_owned(),
        };
        Self {
            status: status.as_u16(),
            heading,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_said_in_its_own_words_and_a_fault_is_not() {
        let refused = ErrorPage::of(
            StatusCode::FORBIDDEN,
            Some("this form must be sent from the clinic's own page"),
        );
        assert_eq!(
            refused.message,
            "This form must be sent from the clinic's own page."
        );
        let fault = ErrorPage::of(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("database: relation missing"),
        );
        assert!(!fault.message.contains("database"));
        let unknown = ErrorPage::of(StatusCode::NOT_FOUND, Some("not found"));
        assert_eq!(unknown.heading, "This page does not exist");
    }
}
