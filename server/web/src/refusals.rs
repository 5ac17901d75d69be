//! Requests refused before any act: a body that is not JSON, a value that
//! does not parse, a field that is too long. The door records every
//! refusal of an act; this records the rest, for a caller the request had
//! already proven (or an anonymous visitor of an act such as redeeming a
//! code), so that every attempt is on the trail with its reason and the
//! client's address.

use std::sync::{Arc, Mutex};

use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use portico_tenants::Caller;

use crate::AppState;
use crate::error::RefusalCode;

/// The caller a request's extractor built, if any.
#[derive(Default)]
struct Attempt(Mutex<Option<Caller>>);

/// Notes that this request acts as `caller`; called by the extractors that
/// build one.
pub fn attempted_by(req: &Request, caller: &Caller) {
    if let Some(attempt) = req.extensions().get::<Arc<Attempt>>()
        && let Ok(mut slot) = attempt.0.lock()
    {
        *slot = Some(caller.clone());
    }
}

/// Records a client error that no act recorded.
pub struct RecordRefusals;

impl<E: Endpoint> Middleware<E> for RecordRefusals {
    type Output = RecordRefusalsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RecordRefusalsEndpoint { inner: ep }
    }
}

pub struct RecordRefusalsEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for RecordRefusalsEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let attempt = Arc::new(Attempt::default());
        req.extensions_mut().insert(attempt.clone());
        let what = format!("{} {}", req.method(), req.original_uri().path());
        let state = req.data::<AppState>().cloned();
        // Errors become their JSON answer here already (as the access log
        // would make them), so their code can be read.
        let resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => crate::error::to_response(err),
        };
        let status = resp.status();
        // 401 never reaches an act; 404 and 405 are addresses, not attempts;
        // 429 comes from the door, which recorded it.
        let refused = status.is_client_error() && !matches!(status.as_u16(), 401 | 404 | 405 | 429);
        if !refused {
            return Ok(resp);
        }
        let caller = attempt.0.lock().ok().and_then(|slot| slot.clone());
        if let (Some(caller), Some(state)) = (caller, state)
            && !caller.refusal_recorded()
        {
            let reason = resp
                .extensions()
                .get::<RefusalCode>()
                .map_or("refused", |c| c.0);
            if let Err(err) = state
                .services
                .record_refused_request(&caller, what, reason)
                .await
            {
                tracing::error!(tenant = %caller.tenant.id, error = %err, "recording a refused request failed");
            }
        }
        Ok(resp)
    }
}
