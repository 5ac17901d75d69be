//! The API's OpenAPI document and its docs page, served per clinic.
//!
//! A clinic's API answers at its own address (`{slug}.{base domain}/api`,
//! or `/t/{slug}/api` on the platform host). A document that named the
//! platform's `/api` as its server would send the docs page's "Try it out"
//! to the platform, which knows no clinic there. So each request gets the
//! document with the server it came through, and the clinic's name.
//!
//! The document is built once, with a mark where the server goes; a
//! request only swaps the mark for its own address.

use std::sync::Arc;

use poem::web::{Data, Html};
use poem::{Request, Response, handler};
use poem_openapi::OpenApiService;
use poem_openapi::ServerObject;
use portico_web::tenancy::ResolvedTenant;

use crate::api;

const URL_MARK: &str = "/__portico_api_server__";
const NAME_MARK: &str = "__portico_api_server_description__";

/// The document and the docs page, each with the marks in place.
pub struct ApiDocument {
    spec: String,
    page: String,
}

impl ApiDocument {
    pub fn new(service: OpenApiService<api::Apis, ()>) -> Self {
        let marked = service.server(ServerObject::new(URL_MARK).description(NAME_MARK));
        let spec = marked.spec();
        let page = marked.swagger_ui_html();
        debug_assert_eq!(spec.matches(URL_MARK).count(), 1);
        Self { spec, page }
    }

    /// The document for a request that came through `tenant` (or the
    /// platform host, when `None`).
    pub fn spec_for(&self, tenant: Option<&ResolvedTenant>) -> String {
        fill(&self.spec, tenant)
    }

    /// The docs page for such a request.
    pub fn page_for(&self, tenant: Option<&ResolvedTenant>) -> String {
        fill(&self.page, tenant)
    }
}

/// The marks replaced by the request's server and its description, as
/// JSON strings that are also safe inside the page's script element.
fn fill(template: &str, tenant: Option<&ResolvedTenant>) -> String {
    let (url, name) = match tenant {
        Some(t) => (
            format!("{}/api", t.path_prefix.as_deref().unwrap_or("")),
            format!("{}'s API", t.tenant.display_name),
        ),
        None => (
            "/api".to_owned(),
            "The platform: operator endpoints; a clinic's endpoints answer at its own address"
                .to_owned(),
        ),
    };
    template
        .replacen(&quoted(URL_MARK), &quoted(&url), 1)
        .replacen(&quoted(NAME_MARK), &quoted(&name), 1)
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text)
        .expect("a string serialises")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
}

#[handler]
pub fn served_spec(req: &Request, document: Data<&Arc<ApiDocument>>) -> Response {
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(document.spec_for(req.extensions().get::<ResolvedTenant>()))
}

#[handler]
pub fn served_page(req: &Request, document: Data<&Arc<ApiDocument>>) -> Html<String> {
    Html(document.page_for(req.extensions().get::<ResolvedTenant>()))
}
