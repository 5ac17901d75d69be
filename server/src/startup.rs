//! The composition root: turns a [`Config`] into a running server. It
//! builds the domain's services and the web state, mounts the JSON API, the
//! clinic console (`admin`) and the portal's pages on one route tree, and
//! starts the mail worker. Tests call the very same [`Application::build`]
//! with port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::middleware::{CatchPanic, SetHeader};
use poem::web::Json;
use poem::{EndpointExt, IntoResponse, Response, Route, Server, get, handler};
use poem_openapi::OpenApiService;
use portico_tenants::Services;
use portico_tenants::auth::PasswordHasher;
use portico_tenants::domain::Timestamp;
use portico_tenants::storage::Database;
use portico_web::page_session::Pages;
use portico_web::refusals::RecordRefusals;
use portico_web::tenancy::{ResolvedTenant, TenantDirectory, TenantResolution};
use portico_web::{AppState, Links, WebSettings, body_limit, observability, same_origin};

use crate::api;
use crate::config::Config;
use crate::demo::{self, DemoCredentials};
use crate::mail::{ClinicRenderer, MailTransport, MailWorker};
use crate::portal_pages::PortalPages;
use crate::schedule::repeat;

pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    /// `/metrics`, on its own address, when configured.
    metrics: Option<crate::exporter::MetricsListener>,
    state: AppState,
    config: Arc<Config>,
    demo: Option<DemoCredentials>,
    mail: MailTransport,
}

impl Application {
    /// Opens (and migrates) the database, creates the demo clinic when due,
    /// and binds the listener. Nothing is served until [`run`](Self::run).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = Database::open(&config.database()?).await?;
        let code_key = config.code_key()?;
        let audit_key = config.audit_key(&code_key)?;
        let services = Services::new(
            db,
            PasswordHasher::new(config.hash_concurrency()),
            config.auth_settings(),
            code_key,
            config.plugin_host()?,
        )
        .with_audit_key(audit_key)
        .with_retired_audit_keys(config.retired_audit_keys()?);
        let started = services.start_audit_ledgers().await?;
        if started > 0 {
            tracing::info!(
                clinics = started,
                "audit logs started from the events so far"
            );
        }
        let demo = if config.demo_enabled() {
            demo::ensure(&services).await?
        } else {
            None
        };
        let tenants = TenantDirectory::new(services.clone(), &config.base_domain);
        if config.tenant_cache_ms.is_some() {
            tracing::warn!(
                "tenant_cache_ms (PORTICO_TENANT_CACHE_MS) is no longer used: a clinic stays in memory until it changes, on any node"
            );
        }
        let metrics = match config.metrics_listen {
            Some(addr) => Some(crate::exporter::MetricsListener::bind(addr).await?),
            None => None,
        };
        let mail = config.mail_transport()?;
        let acceptor = TcpListener::bind(config.listen).into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| anyhow::anyhow!("the listener has no address"))?;
        let links = Links::new(
            &config.public_base(addr),
            &config.base_domain,
            config.public_url.is_some(),
            config.serves_tls(),
        );
        let settings = WebSettings {
            trust_proxy: config.trust_proxy,
            trusted_proxy_hops: config.trusted_proxy_hops,
            tls: config.serves_tls(),
            cookie_session_secs: config.cookie_session_secs,
            portal_session_secs: config.portal_session_secs,
            max_body_bytes: config.max_body_bytes,
            max_upload_bytes: config.plugins.max_component_bytes,
        };
        Ok(Self {
            acceptor,
            addr,
            metrics,
            state: AppState {
                services,
                settings: Arc::new(settings),
                tenants,
                links,
            },
            config: Arc::new(config),
            demo,
            mail,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served, when it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.addr())
    }

    pub fn services(&self) -> &Services {
        &self.state.services
    }

    /// The demo clinic's credentials, when this start created it.
    pub fn take_demo_credentials(&mut self) -> Option<DemoCredentials> {
        self.demo.take()
    }

    pub fn public_base(&self) -> String {
        self.config.public_base(self.addr)
    }

    /// Serves until `shutdown` resolves, then lets requests in flight finish
    /// (for up to 10 seconds).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let services = self.state.services.clone();
        let config = self.config.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = MailWorker {
            services: self.state.services.clone(),
            links: self.state.links.clone(),
            transport: self.mail.clone(),
            renderer: Arc::new(ClinicRenderer::new(self.state.services.clone())),
            from: config
                .mail_from
                .parse()
                .map_err(|e| std::io::Error::other(format!("mail_from: {e}")))?,
            retry: config.mail_retry(),
            poll: Duration::from_millis(config.mail_poll_ms),
            lease: Duration::from_secs(
                config
                    .mail_lease_secs
                    .unwrap_or(config.smtp_timeout_secs + 60),
            ),
        };
        // If this future is dropped (the process is going down hard), the
        // worker goes with it; its claimed mail is taken again when the lease
        // runs out.
        let mut worker = AbortOnDrop(Some(tokio::spawn(worker.run(stopped.clone()))));
        let mut birthdays = AbortOnDrop(Some(tokio::spawn(birthday_job(
            self.state.services.clone(),
            stopped.clone(),
        ))));
        let mut ledger = AbortOnDrop(Some(tokio::spawn(audit_ledger_job(
            self.state.services.clone(),
            Duration::from_secs(config.audit_head_every_secs.max(1)),
            stopped.clone(),
        ))));
        // Other nodes' changes (PostgreSQL): until it listens, this node
        // answers every request from the database.
        let changes = self.state.services.clone();
        let heard = stopped.clone();
        let mut listener = AbortOnDrop(Some(tokio::spawn(async move {
            changes.follow_changes(heard).await;
        })));
        let mut exporter = AbortOnDrop(
            self.metrics
                .map(|metrics| tokio::spawn(metrics.serve(self.state.services.clone(), stopped))),
        );
        let app = app(self.state);
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(Duration::from_secs(10)))
            .await;
        let _ = stop.send(true);
        if let Some(handle) = worker.0.take() {
            let _ = handle.await;
        }
        for job in [&mut birthdays, &mut ledger, &mut listener, &mut exporter] {
            if let Some(handle) = job.0.take() {
                let _ = handle.await;
            }
        }
        services.close().await;
        result
    }

    /// Where mail goes, for people to read.
    pub fn mail_destination(&self) -> String {
        self.mail.describe()
    }
}

/// How often the birthday job looks for patients whose view or access
/// changes today. Views never wait for it (they follow the date on every
/// request); it makes the change durable and sends the mail, so a few
/// minutes' delay on the day is harmless.
const BIRTHDAY_JOB_EVERY: Duration = Duration::from_secs(300);

/// Runs the birthday job a minute after start (catching up after a
/// restart) and then every few minutes, until told to stop. Several nodes
/// may run it at once: each birthday is acted on once (see
/// `Services::run_age_transitions`).
async fn birthday_job(services: Services, stop: tokio::sync::watch::Receiver<bool>) {
    repeat(
        Duration::from_secs(60),
        BIRTHDAY_JOB_EVERY,
        stop,
        || async {
            match services.run_age_transitions(Timestamp::now()).await {
                Ok(done) if done.narrowed + done.came_of_age > 0 => tracing::info!(
                    narrowed = done.narrowed,
                    came_of_age = done.came_of_age,
                    proxies_ended = done.proxies_ended,
                    "birthday job"
                ),
                Ok(_) => {}
                Err(err) => tracing::error!(error = %err, "the birthday job failed"),
            }
        },
    )
    .await;
}

/// Signs each clinic's audit head whose log grew (see
/// `Services::sign_audit_heads_due`), then lets retention prune what the
/// new heads allow: a minute after start, then every `every`.
async fn audit_ledger_job(
    services: Services,
    every: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    repeat(Duration::from_secs(60).min(every), every, stop, || async {
        match services.sign_audit_heads_due(Timestamp::now()).await {
            Ok(run) if run.signed > 0 => tracing::info!(
                clinics = run.signed,
                examined = run.examined,
                "audit tree heads signed"
            ),
            Ok(_) => {}
            Err(err) => tracing::error!(error = %err, "signing audit heads failed"),
        }
        match services.prune_audit_trails(Timestamp::now()).await {
            Ok(done) if done.events > 0 => tracing::info!(
                clinics = done.clinics,
                events = done.events,
                "audit events past their clinic's retention pruned"
            ),
            Ok(_) => {}
            Err(err) => tracing::error!(error = %err, "audit retention failed"),
        }
    })
    .await;
}

struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// The API's OpenAPI service, with every resource's endpoints. Its server
/// address is the request's own (see `api_document`).
pub fn openapi_service() -> OpenApiService<api::Apis, ()> {
    OpenApiService::new(api::apis(), "Portico", env!("CARGO_PKG_VERSION")).description(
        "Portico gives clinics' patients online access to their medical records. \
             Tenant endpoints (`/api/v1/...`) are reached on a clinic's host, \
             `{slug}.{base domain}`, or under `/t/{slug}/`; operator endpoints \
             (`/api/operator/v1/...`) on the platform host.",
    )
}

/// The whole application as one endpoint: the API, the console and the
/// portal's pages, behind tenant resolution, body limits and the access
/// log. Every form post to either page tree must come from our own origin.
pub fn app(state: AppState) -> BoxEndpoint<'static, Response> {
    let api = openapi_service();
    let document = Arc::new(crate::api_document::ApiDocument::new(openapi_service()));
    // The documentation page may not be framed by another site.
    let docs_page = Arc::new(get(crate::api_document::served_page).with(
        SetHeader::new().overriding(
            "content-security-policy",
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    ));
    let directory = state.tenants.clone();
    let limits = body_limit::BodyLimit {
        max_bytes: state.settings.max_body_bytes,
        max_upload_bytes: state.settings.max_upload_bytes,
        max_file_bytes: portico_tenants::records::MAX_DOCUMENT_BYTES,
    };
    let tls = state.settings.tls;
    Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/.well-known/portico-audit-key", get(published_audit_key))
        .at("/api/openapi.json", get(crate::api_document::served_spec))
        .at("/api/docs", docs_page.clone())
        .at("/api/docs/", docs_page)
        .nest(
            "/api",
            // Every answer of a clinic's API may carry personal data: no
            // cache, shared or private, keeps it.
            api.with(RecordRefusals)
                .with(SetHeader::new().overriding("cache-control", "no-store")),
        )
        .nest(
            "/console",
            portico_admin::routes()
                .with(RecordRefusals)
                .around(same_origin::own_forms_only)
                .around(portico_admin::errors_as_pages),
        )
        .nest(
            "/portal",
            crate::portal_pages::routes()
                .with(RecordRefusals)
                .around(same_origin::own_forms_only)
                .around(crate::portal_pages::errors_as_pages),
        )
        .at("/", get(root))
        .with(TenantResolution { directory })
        .with(limits)
        .with(
            SetHeader::new()
                .overriding("x-content-type-options", "nosniff")
                .overriding("referrer-policy", "no-referrer"),
        )
        // Served over https: browsers keep to https for a year.
        .with_if(
            tls,
            SetHeader::new().overriding("strict-transport-security", "max-age=31536000"),
        )
        .data(state)
        .data(document)
        .data(Arc::new(portico_admin::Console::new()))
        .data(Arc::new(PortalPages::new()))
        .with(CatchPanic::new())
        .with(observability::Observability)
        .map_to_response()
        .boxed()
}

/// A clinic's address leads to its console; the platform's to the API docs.
#[handler]
fn root(req: &poem::Request) -> Response {
    let to = match req.extensions().get::<ResolvedTenant>() {
        Some(t) => format!("{}/", Pages::Console.root(t)),
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

/// The platform's key for audit tree heads, published so an auditor can
/// check a signed head without trusting the clinic that handed it over.
#[handler]
fn published_audit_key(state: poem::web::Data<&AppState>) -> Json<serde_json::Value> {
    let key = &state.services.audit_key;
    Json(serde_json::json!({
        "algorithm": "Ed25519",
        "key_id": key.key_id(),
        "public_key": hex::encode(key.public_key()),
        "signs": portico_tenants::ledger::heads::DOMAIN_NAME,
        "retired": state.services.retired_audit_keys.iter().map(|retired| serde_json::json!({
            "key_id": portico_tenants::ledger::heads::key_id(retired),
            "public_key": hex::encode(retired),
        })).collect::<Vec<_>>(),
        "documentation": "docs/audit.md",
    }))
}

/// Ready: the database answers too.
#[handler]
async fn readyz(state: poem::web::Data<&AppState>) -> Response {
    // A probe wants an answer, not a wait: a second at most.
    let ping = tokio::time::timeout(Duration::from_secs(1), state.services.ping()).await;
    match ping {
        Ok(Ok(())) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        failed => {
            let err = match failed {
                Ok(Err(err)) => err.to_string(),
                _ => "no answer within a second".to_owned(),
            };
            tracing::warn!(error = %err, "readiness check failed");
            Json(serde_json::json!({ "status": "unavailable", "code": "database_unavailable" }))
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
                .into_response()
        }
    }
}
