//! Request ids and the access log. Only the method and the path are logged,
//! never the query string or headers, so no code, token or password that a
//! client put in a URL or header can reach a log.

use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

pub struct Observability;

impl<E: Endpoint> Middleware<E> for Observability {
    type Output = ObservabilityEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        ObservabilityEndpoint { inner: ep }
    }
}

pub struct ObservabilityEndpoint<E> {
    inner: E,
}

/// Keeps a caller's request id when it is short and plain; makes one up
/// otherwise.
fn request_id(req: &Request) -> String {
    req.header(REQUEST_ID_HEADER)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

impl<E: Endpoint> Endpoint for ObservabilityEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let id = request_id(&req);
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.uri().path(),
        );
        let started = Instant::now();
        async move {
            let mut resp = match self.inner.call(req).await {
                Ok(r) => r.into_response(),
                Err(err) => super::error::to_response(err),
            };
            let status = resp.status().as_u16();
            let micros = started.elapsed().as_micros() as u64;
            if status >= 500 {
                tracing::error!(status, micros, "request failed");
            } else {
                tracing::info!(status, micros, "request");
            }
            if let Ok(v) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert(REQUEST_ID_HEADER, v);
            }
            Ok(resp)
        }
        .instrument(span)
        .await
    }
}
