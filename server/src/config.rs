//! Configuration: built-in defaults, then an optional TOML file, then
//! environment variables (`PORTICO_*`, and `DATABASE_URL`). Layering is done
//! by `figment`, which reports which source a bad value came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use portico_plugins::SandboxConfig;
use portico_tenants::auth::{PasswordHasher, ThrottlePolicy};
use portico_tenants::codes::CodeKey;
use portico_tenants::ledger::AuditKey;
use portico_tenants::plugins::PluginHost;

use crate::mail::{MailTransport, RetryPolicy, SmtpSecurity, SmtpSettings};
use portico_tenants::storage::DatabaseSettings;
use portico_tenants::{AcrossClinics, AuthSettings, RedeemThrottle, RegistrationLimits};
use serde::{Deserialize, Serialize};

/// Every setting, with its default. See docs/operations.md for each.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to serve on. `PORTICO_LISTEN`.
    pub listen: SocketAddr,
    /// Where the SQLite database (and, later, mail and uploads) live.
    /// `PORTICO_DATA_DIR`.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL; when unset, SQLite in `data_dir` is used.
    /// `DATABASE_URL`.
    pub database_url: Option<String>,
    /// Tenants are served at `{slug}.{base_domain}`. `PORTICO_BASE_DOMAIN`.
    pub base_domain: String,
    /// The address people reach this server at, used in printed links and
    /// to decide whether cookies are `Secure`. `PORTICO_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// Production mode: no demo clinic, JSON logs by default.
    /// `PORTICO_PRODUCTION`.
    pub production: bool,
    /// Create the demo clinic on first start (never in production).
    /// `PORTICO_DEMO`.
    pub demo: bool,
    /// `pretty` or `json`. `PORTICO_LOG_FORMAT`.
    pub log_format: Option<LogFormat>,
    /// Largest accepted request body, in bytes. `PORTICO_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// Password hashes run at once; default all cores but one.
    pub hash_concurrency: Option<usize>,
    /// Trust `X-Forwarded-For` and `X-Forwarded-Proto` (only behind a proxy
    /// that sets them). `PORTICO_TRUST_PROXY`.
    pub trust_proxy: bool,
    /// How many proxies of our own stand in front of the server, each
    /// appending the address it saw to `X-Forwarded-For`. The client's
    /// address is that many entries from the right; what a client writes
    /// itself stands further left and is never believed.
    /// `PORTICO_TRUSTED_PROXY_HOPS`.
    pub trusted_proxy_hops: u32,
    /// How long a request waits for a database connection before it is
    /// answered `503 service_unavailable`. `PORTICO_DATABASE_ACQUIRE_TIMEOUT_MS`.
    pub database_acquire_timeout_ms: u64,
    /// No longer used: clinics stay in memory until they change, on any
    /// node. Still accepted, so that a node started with it (a rolling
    /// release) does not refuse to start; it says so in the log.
    /// `PORTICO_TENANT_CACHE_MS`.
    pub tenant_cache_ms: Option<u64>,
    /// Where Prometheus reads this node's figures (`/metrics`); off when
    /// unset. Keep it off the public network. `PORTICO_METRICS_LISTEN`.
    pub metrics_listen: Option<SocketAddr>,
    pub cookie_session_secs: u64,
    pub bearer_token_secs: u64,
    pub step_up_secs: u64,
    pub login_max_failures_per_account: u32,
    pub login_max_failures_per_ip: u32,
    pub login_window_secs: u64,
    pub login_lockout_secs: u64,
    /// Consecutive failed second-factor checks of one account, however far
    /// apart, before it locks until an owner (or the operator) resets its
    /// factors. NIST SP 800-63B allows at most 100.
    /// `PORTICO_SECOND_FACTOR_MAX_CONSECUTIVE_FAILURES`.
    pub second_factor_max_consecutive_failures: u32,
    pub portal_session_secs: u64,
    /// Failed code redemptions allowed per client address, per portal
    /// account and per clinic in `redeem_window_secs` before a lockout of
    /// `redeem_lockout_secs` (doubling on repeats, up to a day).
    pub redeem_max_failures_per_ip: u32,
    pub redeem_max_failures_per_account: u32,
    pub redeem_max_failures_per_tenant: u32,
    pub redeem_window_secs: u64,
    pub redeem_lockout_secs: u64,
    /// Online registrations without a code allowed per client address and
    /// per clinic in `registration_window_secs`; and registration mails to
    /// one address in that window (more are answered alike, not sent).
    pub registration_max_per_address: u32,
    pub registration_max_per_clinic: u32,
    pub registration_mails_per_recipient: u32,
    pub registration_window_secs: u64,
    /// Failed checks of any secret from one client address at any clinic
    /// in `across_clinics_window_secs`, before that address is refused
    /// everywhere (locked as long as the window, doubling up to a day).
    pub across_clinics_max_failures_per_address: u32,
    pub across_clinics_window_secs: u64,
    /// `files` (the embedded default: `.eml` files in `data_dir/mail`) or
    /// `smtp`. `PORTICO_MAIL_TRANSPORT`.
    pub mail_transport: MailTransportKind,
    /// The sender of every mail. `PORTICO_MAIL_FROM`.
    pub mail_from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls`.
    pub smtp_security: SmtpSecurity,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    pub smtp_timeout_secs: u64,
    /// Tries before a mail is given up as dead.
    pub mail_max_attempts: u32,
    /// The first retry's wait; doubles each time, up to an hour.
    pub mail_retry_base_ms: u64,
    /// How often the worker looks for due mail when idle.
    pub mail_poll_ms: u64,
    /// How long a worker holds a claimed mail before another may take it;
    /// by default the SMTP timeout plus a minute.
    pub mail_lease_secs: Option<u64>,
    /// The plugin sandbox: limits per hook family, upload cap, instance
    /// pool. A `[plugins]` table in portico.toml (see docs/plugins.md).
    pub plugins: SandboxConfig,
    /// 64 hex characters: the key access codes are hashed with. Required
    /// with PostgreSQL (every node must share it); with SQLite it is
    /// created in `data_dir/code.key` on first start. `PORTICO_CODE_KEY`.
    pub code_key: Option<String>,
    /// 64 hex characters: the seed of the Ed25519 key that signs the audit
    /// logs' tree heads. Without it the key is derived from the code key,
    /// so nodes that share one share the other. `PORTICO_AUDIT_KEY`.
    pub audit_key: Option<String>,
    /// The public keys (hex, comma-separated) of audit keys the platform
    /// rotated away from, as `/.well-known/portico-audit-key` published
    /// them: heads they signed are still trusted, and the well-known
    /// address lists them as retired. `PORTICO_AUDIT_RETIRED_KEYS`.
    pub audit_retired_keys: Option<String>,
    /// How often each clinic's audit log gets a signed tree head (when it
    /// grew), and retention runs. `PORTICO_AUDIT_HEAD_EVERY_SECS`.
    pub audit_head_every_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    Files,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        let auth = AuthSettings::default();
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            base_domain: "localhost".into(),
            public_url: None,
            production: false,
            demo: true,
            log_format: None,
            max_body_bytes: 1024 * 1024,
            hash_concurrency: None,
            trust_proxy: false,
            trusted_proxy_hops: 1,
            database_acquire_timeout_ms: 2_000,
            tenant_cache_ms: None,
            metrics_listen: None,
            cookie_session_secs: auth.cookie_session_ttl.as_secs(),
            bearer_token_secs: auth.bearer_token_ttl.as_secs(),
            step_up_secs: auth.step_up_ttl.as_secs(),
            login_max_failures_per_account: auth.throttle.max_failures_per_account,
            login_max_failures_per_ip: auth.throttle.max_failures_per_ip,
            login_window_secs: auth.throttle.window.as_secs(),
            login_lockout_secs: auth.throttle.lockout.as_secs(),
            second_factor_max_consecutive_failures: auth.max_consecutive_factor_failures,
            portal_session_secs: auth.portal_session_ttl.as_secs(),
            redeem_max_failures_per_ip: auth.redeem_throttle.max_failures_per_ip,
            redeem_max_failures_per_account: auth.redeem_throttle.max_failures_per_account,
            redeem_max_failures_per_tenant: auth.redeem_throttle.max_failures_per_tenant,
            redeem_window_secs: auth.redeem_throttle.window.as_secs(),
            redeem_lockout_secs: auth.redeem_throttle.lockout.as_secs(),
            registration_max_per_address: auth.registration.per_address,
            registration_max_per_clinic: auth.registration.per_clinic,
            registration_mails_per_recipient: auth.registration.mails_per_recipient,
            registration_window_secs: auth.registration.window.as_secs(),
            across_clinics_max_failures_per_address: auth.across_clinics.max_failures_per_address,
            across_clinics_window_secs: auth.across_clinics.window.as_secs(),
            code_key: None,
            audit_key: None,
            audit_retired_keys: None,
            audit_head_every_secs: 3_600,
            mail_transport: MailTransportKind::Files,
            mail_from: "Portico <portico@localhost>".into(),
            smtp_host: "localhost".into(),
            smtp_port: 587,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout_secs: 20,
            mail_max_attempts: 8,
            mail_retry_base_ms: 30_000,
            mail_poll_ms: 500,
            mail_lease_secs: None,
            plugins: SandboxConfig::default(),
        }
    }
}

impl Config {
    /// Defaults, then `file` (or `./portico.toml` when it exists), then the
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("portico.toml")),
        }
        figment
            // Read by the command line itself, not settings of the server.
            .merge(Env::prefixed("PORTICO_").ignore(&["CONFIG", "LOG", "PLUGIN_SDK", "TOKEN"]))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            )
            .extract()
            .map_err(Box::new)
    }

    pub fn database(&self) -> Result<DatabaseSettings, portico_tenants::storage::StorageError> {
        Ok(
            DatabaseSettings::from_parts(self.database_url.as_deref(), &self.data_dir)?
                .with_acquire_timeout(Duration::from_millis(self.database_acquire_timeout_ms)),
        )
    }

    pub fn plugin_host(&self) -> anyhow::Result<PluginHost> {
        Ok(PluginHost::new(self.plugins)?)
    }

    pub fn auth_settings(&self) -> AuthSettings {
        let defaults = ThrottlePolicy::default();
        AuthSettings {
            throttle: ThrottlePolicy {
                max_failures_per_account: self.login_max_failures_per_account,
                max_failures_per_ip: self.login_max_failures_per_ip,
                window: Duration::from_secs(self.login_window_secs),
                lockout: Duration::from_secs(self.login_lockout_secs),
                max_lockout: defaults
                    .max_lockout
                    .max(Duration::from_secs(self.login_lockout_secs)),
            },
            cookie_session_ttl: Duration::from_secs(self.cookie_session_secs),
            bearer_token_ttl: Duration::from_secs(self.bearer_token_secs),
            step_up_ttl: Duration::from_secs(self.step_up_secs),
            portal_session_ttl: Duration::from_secs(self.portal_session_secs),
            redeem_throttle: RedeemThrottle {
                max_failures_per_ip: self.redeem_max_failures_per_ip,
                max_failures_per_account: self.redeem_max_failures_per_account,
                max_failures_per_tenant: self.redeem_max_failures_per_tenant,
                window: Duration::from_secs(self.redeem_window_secs),
                lockout: Duration::from_secs(self.redeem_lockout_secs),
                max_lockout: Duration::from_secs(24 * 3600)
                    .max(Duration::from_secs(self.redeem_lockout_secs)),
            },
            registration: RegistrationLimits {
                per_address: self.registration_max_per_address,
                per_clinic: self.registration_max_per_clinic,
                mails_per_recipient: self.registration_mails_per_recipient,
                window: Duration::from_secs(self.registration_window_secs),
            },
            across_clinics: AcrossClinics {
                max_failures_per_address: self.across_clinics_max_failures_per_address,
                window: Duration::from_secs(self.across_clinics_window_secs),
                lockout: Duration::from_secs(self.across_clinics_window_secs),
                max_lockout: Duration::from_secs(24 * 3600)
                    .max(Duration::from_secs(self.across_clinics_window_secs)),
            },
            max_consecutive_factor_failures: self
                .second_factor_max_consecutive_failures
                .clamp(1, 100),
        }
    }

    /// The access-code key: configured, or (on the embedded default) kept
    /// in the data directory.
    pub fn code_key(&self) -> anyhow::Result<CodeKey> {
        if let Some(hex) = &self.code_key {
            return Ok(CodeKey::from_hex(hex)?);
        }
        match self.database()? {
            DatabaseSettings::Sqlite { .. } => {
                std::fs::create_dir_all(&self.data_dir)?;
                Ok(CodeKey::load_or_create(&self.data_dir.join("code.key"))?)
            }
            DatabaseSettings::Postgres { .. } => anyhow::bail!(
                "set PORTICO_CODE_KEY (64 hex characters, e.g. from `openssl rand -hex 32`); \
                 every server node sharing this database must use the same key"
            ),
        }
    }

    /// The audit head signing key: configured, or derived from the code key.
    pub fn audit_key(&self, code_key: &CodeKey) -> anyhow::Result<AuditKey> {
        Ok(match &self.audit_key {
            Some(hex) => AuditKey::from_hex(hex)?,
            None => AuditKey::derived_from(code_key),
        })
    }

    /// The retired audit keys' public halves, as configured.
    pub fn retired_audit_keys(&self) -> anyhow::Result<Vec<[u8; 32]>> {
        self.audit_retired_keys
            .iter()
            .flat_map(|list| list.split(','))
            .filter(|key| !key.trim().is_empty())
            .map(|key| {
                portico_tenants::ledger::heads::parse_public_key(key)
                    .map_err(|e| anyhow::anyhow!("audit_retired_keys: {e}"))
            })
            .collect()
    }

    /// Where mail goes, as configured.
    pub fn mail_transport(&self) -> anyhow::Result<MailTransport> {
        Ok(match self.mail_transport {
            MailTransportKind::Files => MailTransport::Files(self.data_dir.join("mail")),
            MailTransportKind::Smtp => MailTransport::smtp(&SmtpSettings {
                host: self.smtp_host.clone(),
                port: self.smtp_port,
                security: self.smtp_security,
                username: self.smtp_username.clone(),
                password: self.smtp_password.clone(),
                timeout_secs: self.smtp_timeout_secs,
            })?,
        })
    }

    pub fn mail_retry(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.mail_max_attempts.max(1),
            base: Duration::from_millis(self.mail_retry_base_ms),
            max_backoff: Duration::from_secs(3600),
        }
    }

    pub fn hash_concurrency(&self) -> usize {
        self.hash_concurrency
            .unwrap_or_else(PasswordHasher::default_concurrency)
    }

    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(if self.production {
            LogFormat::Json
        } else {
            LogFormat::Pretty
        })
    }

    /// Whether the demo clinic may be created.
    pub fn demo_enabled(&self) -> bool {
        self.demo && !self.production
    }

    /// The base URL printed for people: the configured public URL, or the
    /// listening address.
    pub fn public_base(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{bound}"))
    }

    pub fn serves_tls(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert!(c.database_url.is_none());
        assert!(c.demo_enabled());
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "portico.toml",
                "listen = \"127.0.0.1:9000\"\ndata_dir = \"/var/lib/x\"",
            )?;
            jail.set_env("PORTICO_LISTEN", "0.0.0.0:7000");
            jail.set_env("DATABASE_URL", "postgres://localhost/portico");
            let c = Config::load(None).map_err(|e| *e)?;
            assert_eq!(c.listen.to_string(), "0.0.0.0:7000");
            assert_eq!(c.data_dir, PathBuf::from("/var/lib/x"));
            assert_eq!(
                c.database_url.as_deref(),
                Some("postgres://localhost/portico")
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_settings_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("portico.toml", "lisen = \"127.0.0.1:9000\"")?;
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    fn retired_audit_keys_are_public_keys_from_the_environment() {
        let current = AuditKey::from_hex(&"11".repeat(32)).unwrap();
        let older = AuditKey::from_hex(&"22".repeat(32)).unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "PORTICO_AUDIT_RETIRED_KEYS",
                format!(
                    "{}, {}",
                    hex::encode(current.public_key()),
                    hex::encode(older.public_key())
                ),
            );
            let c = Config::load(None).map_err(|e| *e)?;
            assert_eq!(
                c.retired_audit_keys().unwrap(),
                vec![current.public_key(), older.public_key()]
            );
            Ok(())
        });
        let seed_not_key = Config {
            audit_retired_keys: Some("not hex".into()),
            ..Config::default()
        };
        let refused = seed_not_key.retired_audit_keys().unwrap_err().to_string();
        assert!(refused.starts_with("audit_retired_keys: "), "{refused}");
        assert!(Config::default().retired_audit_keys().unwrap().is_empty());
    }

    #[test]
    fn production_turns_the_demo_off() {
        let c = Config {
            production: true,
            ..Config::default()
        };
        assert!(!c.demo_enabled());
        assert_eq!(c.log_format(), LogFormat::Json);
    }
}
