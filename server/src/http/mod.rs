//! The HTTP layer: how a request finds its tenant and its caller, how
//! failures become answers, and the route tree that ties the API together.

pub mod auth;
pub mod body_limit;
pub mod client_info;
pub mod error;
pub mod files;
pub mod json_body;
pub mod observability;
pub mod same_origin;
pub mod tenancy;
pub mod text;

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::middleware::{CatchPanic, SetHeader};
use poem::web::Json;
use poem::{EndpointExt, IntoResponse, Response, Route, get, handler};
use poem_openapi::OpenApiService;
use portico_tenants::Services;

use crate::api;
use crate::config::Config;
use tenancy::{TenantDirectory, TenantResolution};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub config: Arc<Config>,
    pub tenants: TenantDirectory,
    /// Where people reach this server, for links.
    pub public_base: Arc<str>,
}

impl AppState {
    /// The root of a clinic's portal: its custom domain, its subdomain of
    /// the base domain, or `/t/{slug}` on this server.
    pub fn tenant_base(&self, tenant: &portico_tenants::registry::Tenant) -> String {
        let scheme = if self.config.serves_tls() {
            "https"
        } else {
            "http"
        };
        if let Some(domain) = &tenant.custom_domain {
            return format!("{scheme}://{domain}");
        }
        let base = &self.config.base_domain;
        if base != "localhost" && self.config.public_url.is_some() {
            return format!("{scheme}://{}.{base}", tenant.slug);
        }
        format!("{}/t/{}", self.public_base, tenant.slug)
    }

    /// The registration page with `code` in its fragment: browsers never
    /// send a fragment to a server or in a Referer header, so the code
    /// cannot reach a log or a third party.
    pub fn access_link(&self, tenant: &portico_tenants::registry::Tenant, code: &str) -> String {
        format!("{}/portal/register#code={code}", self.tenant_base(tenant))
    }
}

pub fn openapi_service() -> OpenApiService<api::Apis, ()> {
    OpenApiService::new(api::apis(), "Portico", env!("CARGO_PKG_VERSION"))
        .description(
            "Portico gives clinics' patients online access to their medical records. \
             Tenant endpoints (`/api/v1/...`) are reached on a clinic's host, \
             `{slug}.{base domain}`, or under `/t/{slug}/`; operator endpoints \
             (`/api/operator/v1/...`) on the platform host.",
        )
        .server("/api")
}

/// The whole application as one endpoint.
pub fn app(state: AppState) -> BoxEndpoint<'static, Response> {
    let api = openapi_service();
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let directory = state.tenants.clone();
    Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/api/openapi.json", spec)
        .nest("/api/docs", docs)
        .nest("/api", api)
        .nest(
            "/console",
            crate::console::routes().around(same_origin::own_forms_only),
        )
        .nest(
            "/portal",
            crate::portal_pages::routes().around(same_origin::own_forms_only),
        )
        .at("/", get(root))
        .with(TenantResolution { directory })
        .with(body_limit::BodyLimit {
            max_bytes: state.config.max_body_bytes,
            max_upload_bytes: state.config.plugins.max_component_bytes,
            max_file_bytes: portico_tenants::records::MAX_DOCUMENT_BYTES,
        })
        .with(
            SetHeader::new()
                .overriding("x-content-type-options", "nosniff")
                .overriding("referrer-policy", "no-referrer"),
        )
        .data(state)
        .data(Arc::new(portico_admin::Console::new()))
        .data(Arc::new(crate::portal_pages::PortalPages::new()))
        .with(CatchPanic::new())
        .with(observability::Observability)
        .map_to_response()
        .boxed()
}

/// A clinic's address leads to its console; the platform's to the API docs.
#[handler]
fn root(req: &poem::Request) -> Response {
    let to = match req.extensions().get::<tenancy::ResolvedTenant>() {
        Some(t) => format!("{}/console/", t.path_prefix.as_deref().unwrap_or("")),
        None => "/api/docs".to_owned(),
    };
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", to)
        .finish()
}

/// Alive: the process answers.
#[handler]
fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready: the database answers too.
#[handler]
async fn readyz(state: poem::web::Data<&AppState>) -> Response {
    match state.services.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            Json(serde_json::json!({ "status": "unavailable", "code": "database_unavailable" }))
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
                .into_response()
        }
    }
}
