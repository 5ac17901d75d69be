//! This node's figures for operators: Prometheus text at `/metrics` on an
//! address of its own (`metrics_listen`), off by default.
//!
//! Figures are recorded where they happen, through the `metrics` facade:
//! requests in the web layer, caches, refusals, lockouts, redemptions and
//! plugin calls in the domain, mail in the worker. Without a recorder each
//! is a no-op. This module installs the recorder
//! (`metrics-exporter-prometheus`, the facade's own exporter), serves its
//! text with poem, and samples the figures that are read rather than
//! counted: the database pool and the mail queue.
//!
//! No label carries a patient, an account, a code, a token or any other
//! value a client chooses: routes are the route table's templates,
//! methods and statuses come from fixed sets, and the rest are the names
//! of acts, caches, mail kinds and plugin families.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Response, Route, Server, get, handler};
use portico_tenants::Services;
use portico_tenants::domain::Timestamp;

/// How often the sampled figures are read, and the recorder tidied.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Latency buckets, in seconds: from a cached read to a slow plugin.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Instructions a plugin call used, in powers of ten up to the largest
/// budget a family has.
const FUEL: &[f64] = &[1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// The process's one recorder; every application built in this process
/// records into it (the tests build many).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_fuel".into()), FUEL))
            .expect("bucket lists are not empty")
            .install_recorder()
            .expect("nothing else installs a metrics recorder");
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "portico_http_requests_total",
        "Requests answered, by route template, method and status."
    );
    describe_histogram!(
        "portico_http_request_duration_seconds",
        "Time to answer a request, by route template and method."
    );
    describe_gauge!(
        "portico_mail_queue_depth",
        "Mails waiting to be sent or tried again."
    );
    describe_gauge!(
        "portico_mail_queue_overdue_seconds",
        "How long the most overdue waiting mail is past its time."
    );
    describe_counter!(
        "portico_mail_total",
        "Mail tries, by kind and outcome (sent, retry, dead)."
    );
    describe_counter!(
        "portico_plugin_calls_total",
        "Plugin calls, by hook family and outcome (ok or the failure's kind)."
    );
    describe_histogram!(
        "portico_plugin_call_seconds",
        "Time a plugin call took, by hook family."
    );
    describe_histogram!(
        "portico_plugin_call_fuel",
        "Instructions a plugin call used, by hook family."
    );
    describe_counter!(
        "portico_redemptions_total",
        "Access-code redemptions, by outcome (redeemed or the refusal's reason)."
    );
    describe_counter!("portico_refusals_total", "Acts refused, by act and reason.");
    describe_counter!(
        "portico_throttle_lockouts_total",
        "Secrets checks refused because the caller is locked out, by act."
    );
    describe_gauge!(
        "portico_db_connections",
        "Database connections of this node's pool, by state (idle, in_use)."
    );
    describe_counter!(
        "portico_cache_lookups_total",
        "Cache lookups, by cache and outcome (hit, miss, stale)."
    );
    describe_gauge!(
        "portico_listener_connected",
        "1 while this node hears other nodes' changes (PostgreSQL), else 0."
    );
    describe_counter!(
        "portico_listener_reconnects_total",
        "Times the listener for other nodes' changes connected again."
    );
}

/// The bound `/metrics` listener, before it serves.
pub struct MetricsListener {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
}

impl MetricsListener {
    /// Installs the recorder and binds `addr`.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        recorder();
        let acceptor = TcpListener::bind(addr).into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| std::io::Error::other("the metrics listener has no address"))?;
        Ok(Self { acceptor, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `/metrics` and samples the read figures until `stop`.
    pub async fn serve(self, services: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
        let sampler = sample(services, stop.clone());
        let app = Route::new()
            .at("/metrics", get(metrics_text))
            .data(recorder().clone());
        let server = Server::new_with_acceptor(self.acceptor).run_with_graceful_shutdown(
            app,
            async move {
                // A closed channel means the server is gone too.
                let _ = stop.wait_for(|stopped| *stopped).await;
            },
            Some(Duration::from_secs(1)),
        );
        let (served, ()) = tokio::join!(server, sampler);
        if let Err(err) = served {
            tracing::error!(error = %err, "the metrics listener failed");
        }
    }
}

#[handler]
fn metrics_text(handle: Data<&PrometheusHandle>) -> Response {
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}

/// Reads the pool and the mail queue, and tidies the recorder, at once and
/// then every few seconds until `stop`.
async fn sample(services: Services, stop: tokio::sync::watch::Receiver<bool>) {
    crate::schedule::repeat(Duration::ZERO, SAMPLE_EVERY, stop, || {
        sample_once(&services)
    })
    .await;
}

async fn sample_once(services: &Services) {
    let (size, idle) = services.database_connections();
    metrics::gauge!("portico_db_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("portico_db_connections", "state" => "in_use")
        .set(size.saturating_sub(idle) as f64);
    match services.mail_backlog().await {
        Ok(backlog) => {
            metrics::gauge!("portico_mail_queue_depth").set(backlog.waiting as f64);
            let overdue = backlog
                .oldest_due
                .map(|due| (Timestamp::now().unix_millis() - due.unix_millis()).max(0))
                .unwrap_or(0);
            metrics::gauge!("portico_mail_queue_overdue_seconds").set(overdue as f64 / 1e3);
        }
        Err(err) => tracing::warn!(error = %err, "reading the mail queue's depth failed"),
    }
    recorder().run_upkeep();
}
