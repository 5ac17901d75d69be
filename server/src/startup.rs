//! Turns a [`Config`] into a running server. Tests call the very same
//! [`Application::build`] with port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::Server;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use portico_tenants::Services;
use portico_tenants::auth::PasswordHasher;
use portico_tenants::storage::Database;

use crate::config::Config;
use crate::demo::{self, DemoCredentials};
use crate::http::tenancy::TenantDirectory;
use crate::http::{self, AppState};
use crate::mail::{ClinicRenderer, MailTransport, MailWorker};

pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    state: AppState,
    demo: Option<DemoCredentials>,
    mail: MailTransport,
}

impl Application {
    /// Opens (and migrates) the database, creates the demo clinic when due,
    /// and binds the listener. Nothing is served until [`run`](Self::run).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = Database::open(&config.database()?).await?;
        let services = Services::new(
            db,
            PasswordHasher::new(config.hash_concurrency()),
            config.auth_settings(),
            config.code_key()?,
            config.plugin_host()?,
        );
        let demo = if config.demo_enabled() {
            demo::ensure(&services).await?
        } else {
            None
        };
        let tenants = TenantDirectory::new(
            services.clone(),
            &config.base_domain,
            Duration::from_millis(config.tenant_cache_ms),
        );
        let mail = config.mail_transport()?;
        let acceptor = TcpListener::bind(config.listen).into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| anyhow::anyhow!("the listener has no address"))?;
        let public_base = config.public_base(addr).into();
        Ok(Self {
            acceptor,
            addr,
            state: AppState {
                services,
                config: Arc::new(config),
                tenants,
                public_base,
            },
            demo,
            mail,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn services(&self) -> &Services {
        &self.state.services
    }

    /// The demo clinic's credentials, when this start created it.
    pub fn take_demo_credentials(&mut self) -> Option<DemoCredentials> {
        self.demo.take()
    }

    pub fn public_base(&self) -> String {
        self.state.config.public_base(self.addr)
    }

    /// Serves until `shutdown` resolves, then lets requests in flight finish
    /// (for up to 10 seconds).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let services = self.state.services.clone();
        let config = self.state.config.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = MailWorker {
            state: self.state.clone(),
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
        let mut worker = AbortOnDrop(Some(tokio::spawn(worker.run(stopped))));
        let app = http::app(self.state);
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(Duration::from_secs(10)))
            .await;
        let _ = stop.send(true);
        if let Some(handle) = worker.0.take() {
            let _ = handle.await;
        }
        services.close().await;
        result
    }

    /// Where mail goes, for people to read.
    pub fn mail_destination(&self) -> String {
        self.mail.describe()
    }
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
