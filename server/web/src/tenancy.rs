//! Finds the tenant a request is for, before any handler runs: from a
//! `/t/{slug}/` path prefix (local use), from `{slug}.{base domain}`, or from
//! a custom domain stored on the tenant. An unknown tenant is a 404 and a
//! suspended one a 403, answered here.

use std::sync::Arc;

use poem::http::Uri;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use portico_tenants::coherence::{CoherentCache, Subject};
use portico_tenants::domain::Slug;
use portico_tenants::registry::{Tenant, TenantStatus};
use portico_tenants::{DomainError, Services};

use crate::error::ApiError;

/// The tenant a request was resolved to, in the request's extensions.
#[derive(Clone, Debug)]
pub struct ResolvedTenant {
    pub tenant: Tenant,
    /// `/t/{slug}` when resolved from the path; cookies are scoped to it so
    /// two clinics opened side by side on one host keep separate sessions.
    pub path_prefix: Option<String>,
}

impl ResolvedTenant {
    pub fn cookie_path(&self) -> &str {
        self.path_prefix.as_deref().unwrap_or("/")
    }
}

/// Clinics by slug and by custom domain: the first read of every request,
/// kept in memory. An entry is stale as soon as its clinic changes on any
/// node (status, host, settings, role policies), and a lookup that found
/// no clinic as soon as any clinic is created or changes its names
/// ([`portico_tenants::coherence`]).
#[derive(Clone)]
pub struct TenantDirectory {
    services: Services,
    base_domain: Arc<str>,
    by_slug: CoherentCache<String, Option<Tenant>>,
    by_domain: CoherentCache<String, Option<Tenant>>,
}

/// How many names a node keeps, of each kind.
const CAPACITY: u64 = 100_000;

impl TenantDirectory {
    pub fn new(services: Services, base_domain: &str) -> Self {
        let coherence = services.coherence().clone();
        Self {
            services,
            base_domain: base_domain.to_ascii_lowercase().into(),
            by_slug: CoherentCache::new("clinics_by_slug", &coherence, CAPACITY),
            by_domain: CoherentCache::new("clinics_by_host", &coherence, CAPACITY),
        }
    }

    pub async fn by_slug(&self, slug: &str) -> Result<Option<Tenant>, DomainError> {
        if Slug::parse(slug).is_err() {
            return Ok(None);
        }
        if let Some(hit) = self.by_slug.get(slug) {
            return Ok(hit);
        }
        let stamp = self.by_slug.stamp();
        let found = self.services.find_tenant_by_slug(slug).await?;
        self.by_slug
            .insert(slug.to_owned(), found.clone(), stamp, depends_on(&found));
        Ok(found)
    }

    async fn by_domain(&self, host: &str) -> Result<Option<Tenant>, DomainError> {
        if let Some(hit) = self.by_domain.get(host) {
            return Ok(hit);
        }
        let stamp = self.by_domain.stamp();
        let found = self.services.find_tenant_by_domain(host).await?;
        self.by_domain
            .insert(host.to_owned(), found.clone(), stamp, depends_on(&found));
        Ok(found)
    }

    /// What a Host header says: a tenant, the platform itself, or a
    /// subdomain of ours that names no tenant.
    async fn resolve_host(&self, host: &str) -> Result<HostMatch, DomainError> {
        let host = host_without_port(host).to_ascii_lowercase();
        if host == *self.base_domain
            || host == "localhost"
            || host.parse::<std::net::IpAddr>().is_ok()
        {
            return Ok(HostMatch::Platform);
        }
        if let Some(label) = host
            .strip_suffix(&*self.base_domain)
            .and_then(|h| h.strip_suffix('.'))
        {
            if label.contains('.') {
                return Ok(HostMatch::UnknownTenant);
            }
            return Ok(match self.by_slug(label).await? {
                Some(t) => HostMatch::Tenant(Box::new(t)),
                None => HostMatch::UnknownTenant,
            });
        }
        Ok(match self.by_domain(&host).await? {
            Some(t) => HostMatch::Tenant(Box::new(t)),
            None => HostMatch::Platform,
        })
    }
}

/// What a lookup's answer stays true for: the clinic it found, or, when it
/// found none, every clinic's names.
fn depends_on(found: &Option<Tenant>) -> Vec<Subject> {
    match found {
        Some(tenant) => vec![Subject::Clinic(tenant.id)],
        None => vec![Subject::Directory],
    }
}

enum HostMatch {
    Platform,
    Tenant(Box<Tenant>),
    UnknownTenant,
}

fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split(']').next().map(|h| &h[1..]).unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

/// Paths that only make sense for a tenant.
fn needs_tenant(path: &str) -> bool {
    path.starts_with("/api/v1/")
        || path == "/api/v1"
        || path.starts_with("/console")
        || path.starts_with("/portal")
}

fn unknown_tenant() -> Response {
    ApiError::not_found(
        "tenant_not_found",
        "there is no clinic at this address; check the link, or use /t/{slug}/",
    )
    .into_response()
}

/// A clinic's host asked for another clinic's path or the platform's API.
fn not_here() -> Response {
    ApiError::not_found(
        "no_such_endpoint",
        "there is nothing at this address on this clinic's host",
    )
    .into_response()
}

fn suspended() -> Response {
    ApiError::forbidden(
        "tenant_suspended",
        "this clinic's portal is suspended; contact the clinic",
    )
    .into_response()
}

pub struct TenantResolution {
    pub directory: TenantDirectory,
}

impl<E: Endpoint> Middleware<E> for TenantResolution {
    type Output = TenantResolutionEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        TenantResolutionEndpoint {
            inner: ep,
            directory: self.directory.clone(),
        }
    }
}

pub struct TenantResolutionEndpoint<E> {
    inner: E,
    directory: TenantDirectory,
}

impl<E: Endpoint> Endpoint for TenantResolutionEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_owned();
        let host = match req.header("host").map(str::to_owned) {
            Some(host) => self
                .directory
                .resolve_host(&host)
                .await
                .map_err(ApiError::from)?,
            None => HostMatch::Platform,
        };
        let mut resolved = None;

        match host {
            // A clinic's own host (its domain or subdomain) serves that
            // clinic alone: no other clinic's pages under its name, and no
            // platform endpoints.
            HostMatch::Tenant(tenant) => {
                if path.starts_with("/t/") || path.starts_with("/api/operator") {
                    return Ok(not_here());
                }
                resolved = Some(ResolvedTenant {
                    tenant: *tenant,
                    path_prefix: None,
                });
            }
            HostMatch::UnknownTenant => return Ok(unknown_tenant()),
            HostMatch::Platform => {
                if let Some(rest) = path.strip_prefix("/t/") {
                    let (slug, remainder) = match rest.find('/') {
                        Some(i) => (&rest[..i], &rest[i..]),
                        None => (rest, "/"),
                    };
                    let Some(tenant) =
                        self.directory.by_slug(slug).await.map_err(ApiError::from)?
                    else {
                        return Ok(unknown_tenant());
                    };
                    let new_path = match req.uri().query() {
                        Some(q) => format!("{remainder}?{q}"),
                        None => remainder.to_owned(),
                    };
                    let uri: Uri = new_path.parse().map_err(|_| {
                        ApiError::bad_request("invalid_path", "the request path is not valid")
                    })?;
                    *req.uri_mut() = uri;
                    resolved = Some(ResolvedTenant {
                        path_prefix: Some(format!("/t/{}", tenant.slug)),
                        tenant,
                    });
                }
            }
        }

        match resolved {
            Some(r) if r.tenant.status == TenantStatus::Suspended => return Ok(suspended()),
            Some(r) => {
                req.extensions_mut().insert(r);
            }
            None if needs_tenant(req.uri().path()) => return Ok(unknown_tenant()),
            None => {}
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// The tenant of the request; 404 when there is none.
pub fn tenant_of(req: &Request) -> Result<&ResolvedTenant, crate::error::ApiError> {
    req.extensions().get::<ResolvedTenant>().ok_or_else(|| {
        crate::error::ApiError::not_found("tenant_not_found", "there is no clinic at this address")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_brackets_are_stripped() {
        assert_eq!(host_without_port("demo.localhost:8080"), "demo.localhost");
        assert_eq!(host_without_port("[::1]:8080"), "::1");
        assert_eq!(
            host_without_port("clinic.example.org"),
            "clinic.example.org"
        );
    }
}
