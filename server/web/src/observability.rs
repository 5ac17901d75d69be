//! Request ids, the access log and the request figures. Only the method
//! and the path are logged, never the query string or headers, so no code,
//! token or password that a client put in a URL or header can reach a log;
//! the figures name the route's template, not the path.

use std::time::Instant;

use poem::http::{HeaderValue, Method};

use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response};
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
        let method = method_label(req.method());
        async move {
            let (mut resp, route) = match self.inner.call(req).await {
                Ok(r) => {
                    let r = r.into_response();
                    let route = route_label(r.data::<PathPattern>());
                    (r, route)
                }
                Err(err) => {
                    let route = route_label(err.data::<PathPattern>());
                    (super::error::to_response(err), route)
                }
            };
            let status = resp.status().as_u16();
            let elapsed = started.elapsed();
            let micros = elapsed.as_micros() as u64;
            metrics::counter!(
                "portico_http_requests_total",
                "route" => route.clone(),
                "method" => method,
                "status" => status_label(status),
            )
            .increment(1);
            metrics::histogram!(
                "portico_http_request_duration_seconds",
                "route" => route,
                "method" => method,
            )
            .record(elapsed.as_secs_f64());
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

/// The route table's template a request matched (`/api/v1/patients/:param0`),
/// never its path: a path carries ids. Requests that matched no route
/// share one label.
fn route_label(pattern: Option<&PathPattern>) -> metrics::SharedString {
    match pattern {
        Some(pattern) => metrics::SharedString::from(pattern.0.to_string()),
        None => metrics::SharedString::const_str("unmatched"),
    }
}

/// A client may send any method name; only the ones we serve get their own
/// label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_label(status: u16) -> metrics::SharedString {
    metrics::SharedString::from(status.to_string())
}
