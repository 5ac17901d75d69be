use crate::audit::ClientInfo;
use crate::auth::{AuthSettings, CodeKey, PasswordHasher, SecretToken};
use crate::coherence::CoherentCache;
use crate::domain::{TenantId, Timestamp};
use crate::door::{Act, Caller, Door, Passage};
use crate::error::DomainError;
use crate::ledger::AuditKey;
use crate::plugins::PluginHost;
use crate::rbac::Authorizer;
use crate::registry::Tenant;
use crate::storage::Database;
use portico_plugins::HookFamily;
use std::sync::Arc;

/// The domain's entry point: everything a request handler or the command
/// line needs, cheap to clone. Its acts live in `acts/`, one module per
/// capability, as `impl Services` blocks; each goes through [`Door`].
#[derive(Clone)]
pub struct Services {
    /// The one way into a clinic's storage.
    pub(crate) door: Door,
    pub hasher: PasswordHasher,
    pub authz: Authorizer,
    pub auth: Arc<AuthSettings>,
    /// Hashes access codes; shared by every server node.
    pub code_key: CodeKey,
    /// Runs clinics' WebAssembly plugins.
    pub plugins: PluginHost,
    /// Each clinic's active version of each family, read on every
    /// redemption and every mail, and nearly always none.
    pub(crate) active_plugins:
        CoherentCache<(TenantId, HookFamily), Option<crate::plugins::store::Activation>>,
    /// Signs the audit logs' tree heads; derived from the code key unless
    /// the platform configures its own ([`Services::with_audit_key`]).
    pub audit_key: AuditKey,
    /// Public keys the platform signed heads with before rotating to
    /// `audit_key`: their heads are still trusted.
    pub retired_audit_keys: Vec<[u8; 32]>,
}

impl Services {
    pub fn new(
        db: Database,
        hasher: PasswordHasher,
        auth: AuthSettings,
        code_key: CodeKey,
        plugins: PluginHost,
    ) -> Self {
        let auth = Arc::new(auth);
        let active_plugins = CoherentCache::new("active_plugins", db.coherence(), 100_000);
        let door = Door::new(db, hasher.clone(), auth.clone());
        Self {
            active_plugins,
            authz: door.authorizer().clone(),
            door,
            hasher,
            auth,
            audit_key: AuditKey::derived_from(&code_key),
            retired_audit_keys: Vec::new(),
            code_key,
            plugins,
        }
    }

    /// Signs audit heads with `key` rather than the one derived from the
    /// code key.
    pub fn with_audit_key(mut self, key: AuditKey) -> Self {
        self.audit_key = key;
        self
    }

    /// Trusts the heads signed by `keys` (public keys) besides the current
    /// audit key's: the keys the platform rotated away from.
    pub fn with_retired_audit_keys(mut self, keys: Vec<[u8; 32]>) -> Self {
        self.retired_audit_keys = keys;
        self
    }

    /// The ids of the keys whose signed heads are trusted: the current
    /// key's first, then the retired ones'.
    pub fn trusted_audit_key_ids(&self) -> Vec<String> {
        std::iter::once(self.audit_key.key_id())
            .chain(
                self.retired_audit_keys
                    .iter()
                    .map(crate::ledger::heads::key_id),
            )
            .collect()
    }
}

/// The door's public face: handlers build a [`Caller`] once per request
/// and every act enters with it.
impl Services {
    pub async fn enter<'a>(
        &'a self,
        caller: &'a Caller,
        act: &'static Act,
    ) -> Result<Passage<'a>, DomainError> {
        self.door.enter(caller, act, None).await
    }

    /// [`Services::enter`], naming what the act is about (`patient:…`)
    /// for its audit events, refusals by the guards included.
    pub async fn enter_about<'a>(
        &'a self,
        caller: &'a Caller,
        act: &'static Act,
        target: impl Into<String>,
    ) -> Result<Passage<'a>, DomainError> {
        self.door.enter(caller, act, Some(target.into())).await
    }

    /// Whether to draw a control for `act` (see [`Door::may`]).
    pub async fn may(&self, caller: &Caller, act: &Act) -> Result<bool, DomainError> {
        self.door.may(caller, act).await
    }

    /// The staff member whose session `token` is, as a caller.
    pub async fn staff_caller(
        &self,
        tenant: Tenant,
        token: &SecretToken,
        client: ClientInfo,
    ) -> Result<Caller, DomainError> {
        self.door.staff_caller(tenant, token, client).await
    }

    /// The portal account whose session `token` is, as a caller.
    pub async fn patient_caller(
        &self,
        tenant: Tenant,
        token: &SecretToken,
        client: ClientInfo,
    ) -> Result<Caller, DomainError> {
        self.door.patient_caller(tenant, token, client).await
    }

    /// When the caller's step-up confirmation stops counting, if there is
    /// one, for pages that say so.
    pub fn step_up_valid_until(&self, caller: &Caller) -> Option<Timestamp> {
        crate::door::step_up_valid_until(caller, self.auth.step_up_ttl)
    }

    /// This node's news of changes, for caches kept outside the domain
    /// (the web layer's directory of clinics).
    pub fn coherence(&self) -> &crate::coherence::Coherence {
        self.door.platform().coherence()
    }

    /// Follows other nodes' changes until `stop` says so; returns at once
    /// on SQLite (see [`crate::coherence::listener`]).
    pub async fn follow_changes(&self, stop: tokio::sync::watch::Receiver<bool>) {
        let db = self.door.platform();
        if let Some(url) = db.listen_url() {
            crate::coherence::listener::follow(db.coherence().clone(), &url, stop, || {
                db.connections_may_be_cut();
            })
            .await;
        }
    }

    /// This node's database connections: open, and idle among them.
    pub fn database_connections(&self) -> (usize, usize) {
        self.door.platform().connections()
    }

    /// How many mails wait in the queue, across clinics, and when the
    /// most overdue was due: for the operators' figures.
    pub async fn mail_backlog(&self) -> Result<crate::outbox::Backlog, DomainError> {
        Ok(crate::outbox::backlog(self.door.platform()).await?)
    }

    /// Checks that the database answers, for readiness probes.
    pub async fn ping(&self) -> Result<(), DomainError> {
        Ok(self.door.platform().ping().await?)
    }

    /// Lets the database connections go, at shutdown.
    pub async fn close(&self) {
        self.door.platform().close().await;
    }
}
