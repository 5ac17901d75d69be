//! Forms are taken only from our own pages. Every page form (console and
//! portal, before and after login) passes here, so a login, a registration
//! or a password-reset request cannot be sent from another site: logging a
//! victim into an attacker's portal account (login CSRF) would let the
//! attacker read whatever the victim then uploads. Signed-in forms also
//! carry their session's CSRF token, checked by their handlers.

use std::sync::Arc;

use poem::http::Method;
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::error::ApiError;

/// Whether the browser says the request comes from our own origin:
/// `Sec-Fetch-Site` where sent (every current browser), else `Origin`
/// against `Host` for older ones. (Our pages send no referrer, so a modern
/// browser's `Origin` on them is `null`; it sends `Sec-Fetch-Site` though.)
/// A request with neither is not from a browser form.
pub fn is_same_origin(req: &Request) -> bool {
    if let Some(site) = req.header("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    let Some(origin) = req.header("origin") else {
        return true;
    };
    let host = req.header("host").unwrap_or_default();
    origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// Wraps a tree of pages: a POST from anywhere but our own origin is
/// refused before any handler reads it.
pub async fn own_forms_only<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    if req.method() == Method::POST && !is_same_origin(&req) {
        return Err(ApiError::forbidden(
            "cross_origin",
            "this form must be sent from the clinic's own page",
        )
        .into());
    }
    ep.call(req).await.map(IntoResponse::into_response)
}
