//! The one door every act in a clinic goes through.
//!
//! A request becomes a [`Caller`] once, at the edge: the clinic, who is
//! calling (a staff session, a patient's portal session, an operator, an
//! anonymous visitor, the system itself) and the client. Every act of the
//! domain is declared once in [`crate::acts`] with its guards, and runs
//! like this:
//!
//! ```ignore
//! pub async fn revoke_code(&self, caller: &Caller, id: AccessCodeId) -> Result<CodeRecord, DomainError> {
//!     let mut pass = self.enter(caller, &acts::CODE_REVOKE).await?;   // guards 1-3
//!     let done = async {
//!         let mut tx = pass.write().await?;                             // 4
//!         pass.target(format!("code:{id}"));
//!         /* ... the act ... */
//!         pass.commit(tx).await?;                                       // 5, with the act
//!         Ok(record)
//!     }
//!     .await;
//!     pass.finish(done).await                                           // 5, for a refusal
//! }
//! ```
//!
//! [`Services::enter`] checks, in order:
//! 1. the permission (casbin, for staff), or that the caller is who the act
//!    is for (a portal account, an operator); a patient's record is
//!    checked against a live grant with [`Passage::require_grant`] inside
//!    the act's transaction, so a revocation counts at once;
//! 2. a fresh step-up, where the act demands one;
//! 3. the throttle buckets, where the act checks a secret (a password, a
//!    code, a token). A secret can only be checked through the passage
//!    ([`Passage::verify_password`], [`Passage::secret_missed`]), which
//!    counts a miss against the same buckets as a login.
//!
//! The passage then opens the tenant-bound transaction (4): storage takes an
//! [`Admission`], which only this module can make, so no act reaches a
//! clinic's tables without passing here. [`Passage::commit`] writes the
//! act's audit event in that transaction (5); [`Passage::finish`] audits
//! every refusal, with the reason and the client, in a transaction of its
//! own (the act's was rolled back).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::audit::{self, Actor, AuditEvent, ClientInfo, Outcome};
use crate::auth::{
    AuthSettings, Bucket, PasswordHash, PasswordHasher, SecretToken, Throttle, ThrottlePolicy,
    across_clinics, throttle_check, throttle_clear, throttle_record_failure,
};
use crate::domain::{AccountId, Permission, PlainPassword, StaffId, TenantId, Timestamp};
use crate::error::DomainError;
use crate::rbac::Authorizer;
use crate::registry::Tenant;
use crate::sessions::{self, PortalAuthenticated, StaffAuthenticated};
use crate::storage::{Database, StorageError, TenantTx};

/// Who is calling, in which clinic, from where. Built once per request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    pub who: Who,
    pub client: ClientInfo,
    /// Set when the door records a refusal of this caller's request, so
    /// that the web layer records a request it refused before any act
    /// (unreadable input), and only such a one.
    refusal_recorded: Arc<AtomicBool>,
}

/// The proven identity behind a request.
#[derive(Debug, Clone)]
pub enum Who {
    Staff(StaffAuthenticated),
    Patient(PortalAuthenticated),
    /// A platform operator, by name (the API's operator token or the
    /// command line).
    Operator(String),
    /// Someone not (yet) authenticated: a login, a redemption.
    Visitor,
    /// The server itself: the mail worker, demo data.
    System,
}

impl Caller {
    pub fn new(tenant: Tenant, who: Who, client: ClientInfo) -> Self {
        Self {
            tenant,
            who,
            client,
            refusal_recorded: Arc::default(),
        }
    }

    /// Whether the door has recorded a refusal of this request.
    pub fn refusal_recorded(&self) -> bool {
        self.refusal_recorded.load(Ordering::Relaxed)
    }

    pub fn visitor(tenant: Tenant, client: ClientInfo) -> Self {
        Self::new(tenant, Who::Visitor, client)
    }

    pub fn system(tenant: Tenant) -> Self {
        Self::new(tenant, Who::System, ClientInfo::default())
    }

    /// How the audit trail names the caller.
    pub fn actor(&self) -> Actor {
        match &self.who {
            Who::Staff(s) => Actor::Staff(s.staff_id()),
            Who::Patient(p) => Actor::Account(p.account_id()),
            Who::Operator(name) => Actor::Operator(name.clone()),
            Who::Visitor => Actor::Anonymous,
            Who::System => Actor::System,
        }
    }

    pub fn staff(&self) -> Option<&StaffAuthenticated> {
        match &self.who {
            Who::Staff(s) => Some(s),
            _ => None,
        }
    }

    pub fn patient(&self) -> Option<&PortalAuthenticated> {
        match &self.who {
            Who::Patient(p) => Some(p),
            _ => None,
        }
    }
}

/// An act of the domain, declared once with its guards (see `acts`).
#[derive(Debug)]
pub struct Act {
    /// The audit trail's name for it, such as `code.issue`.
    pub name: &'static str,
    pub guard: Guard,
    /// Needs a password confirmation from the last few minutes.
    pub step_up: bool,
    /// The secret it checks, whose misses are throttled.
    pub secret: Option<Secret>,
    /// Writes, or only reads.
    pub writes: bool,
    /// Records its success in the audit trail (every act that changes
    /// something a person did, by default). Refusals are recorded always.
    pub recorded: bool,
}

/// Who may ask for an act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// A staff member whose roles grant this permission.
    Permission(Permission),
    /// A staff member whose roles grant this permission, or an operator.
    PermissionOrOperator(Permission),
    /// Any signed-in staff member, on their own account.
    Staff,
    /// A signed-in portal account, on itself or a record it holds (checked
    /// with [`Passage::require_grant`]).
    Patient,
    /// A platform operator, or the command line.
    Operator,
    /// The server itself.
    System,
    /// Anyone at all: logins, registration, redemption.
    Anyone,
}

/// A secret an act checks. Each kind has its throttle family, shared by
/// every act that checks that kind: a wrong password at step-up counts
/// against the same buckets as a wrong password at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    StaffPassword,
    PortalPassword,
    /// A Medical Records or SmartForm Access Code.
    AccessCode,
    /// A one-time token from an emailed link (reset, verification).
    EmailedToken,
    /// A second factor: an authenticator app's code, a passkey, a
    /// recovery code.
    SecondFactor,
}

impl Secret {
    /// The family's name in bucket keys.
    pub fn scope(self) -> &'static str {
        match self {
            Self::StaffPassword => "staff",
            Self::PortalPassword => "portal",
            Self::AccessCode => "redeem",
            Self::EmailedToken => "token",
            Self::SecondFactor => "factor",
        }
    }
}

impl Act {
    const fn new(name: &'static str, guard: Guard) -> Self {
        Self {
            name,
            guard,
            step_up: false,
            secret: None,
            writes: true,
            recorded: true,
        }
    }

    /// A staff act under `permission`.
    pub const fn staff(name: &'static str, permission: Permission) -> Self {
        Self::new(name, Guard::Permission(permission))
    }

    pub const fn guarded(name: &'static str, guard: Guard) -> Self {
        Self::new(name, guard)
    }

    pub const fn step_up(mut self) -> Self {
        self.step_up = true;
        self
    }

    pub const fn checks(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    pub const fn reads(mut self) -> Self {
        self.writes = false;
        self.recorded = false;
        self
    }

    /// Whether this act redeems a code: its outcomes are counted apart.
    fn redeems(&self) -> bool {
        matches!(self.secret, Some(Secret::AccessCode))
    }

    /// Writes bookkeeping only (a plugin call's record), which the audit
    /// trail need not repeat on success.
    pub const fn quiet(mut self) -> Self {
        self.recorded = false;
        self
    }
}

/// The door itself: the only holder of the database handle, so the only
/// maker of a clinic's transactions. `Services` holds one and hands its
/// acts to [`Door::enter`].
#[derive(Clone)]
pub struct Door {
    db: Database,
    /// Live sessions this node keeps, checked against every node's news.
    sessions: sessions::LiveSessions,
    hasher: PasswordHasher,
    authz: Authorizer,
    auth: Arc<AuthSettings>,
}

/// What a caller who passed the door holds while the act runs.
#[must_use = "an act ends with `finish`, which audits a refusal"]
pub struct Passage<'a> {
    door: &'a Door,
    caller: &'a Caller,
    act: &'static Act,
    throttle: Option<Throttle>,
    target: Option<String>,
    detail: Option<String>,
    /// The act's own failure reason, when it wants a more precise one than
    /// the error's code (`unknown_account` rather than
    /// `invalid_credentials`).
    failure_reason: Option<&'static str>,
    committed: bool,
    /// A refusal already recorded (by [`Passage::escalate`]).
    audited: bool,
    /// Who the success is recorded as, when the act made them (a login's
    /// staff member, a redemption's new account).
    actor: Option<Actor>,
}

impl Door {
    pub(crate) fn new(db: Database, hasher: PasswordHasher, auth: Arc<AuthSettings>) -> Self {
        let authz = Authorizer::new(db.clone());
        Self {
            sessions: sessions::LiveSessions::new(&db),
            db,
            hasher,
            authz,
            auth,
        }
    }

    /// The role model, the door's first guard.
    pub(crate) fn authorizer(&self) -> &Authorizer {
        &self.authz
    }

    /// The staff member whose session `token` is, as a caller.
    pub(crate) async fn staff_caller(
        &self,
        tenant: Tenant,
        token: &SecretToken,
        client: ClientInfo,
    ) -> Result<Caller, DomainError> {
        let cache = &self.sessions.staff;
        let key = token.hash();
        if let Some(found) = cache.get(tenant.id, &key) {
            return Ok(Caller::new(tenant, Who::Staff(found), client));
        }
        let stamp = cache.stamp();
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let found = sessions::find_staff(&mut tx, token).await;
        // A refused token finished its read, and its connection goes back
        // unchecked; a read the database failed leaves it to be checked.
        if !matches!(found, Err(DomainError::Storage(_))) {
            tx.commit().await?;
        }
        let found = found?;
        cache.keep(key, tenant.id, &found, stamp);
        Ok(Caller::new(tenant, Who::Staff(found), client))
    }

    /// The portal account whose session `token` is, as a caller.
    pub(crate) async fn patient_caller(
        &self,
        tenant: Tenant,
        token: &SecretToken,
        client: ClientInfo,
    ) -> Result<Caller, DomainError> {
        let cache = &self.sessions.portal;
        let key = token.hash();
        if let Some(found) = cache.get(tenant.id, &key) {
            return Ok(Caller::new(tenant, Who::Patient(found), client));
        }
        let stamp = cache.stamp();
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let found = sessions::find_portal(&mut tx, token).await;
        // A refused token finished its read, and its connection goes back
        // unchecked; a read the database failed leaves it to be checked.
        if !matches!(found, Err(DomainError::Storage(_))) {
            tx.commit().await?;
        }
        let found = found?;
        cache.keep(key, tenant.id, &found, stamp);
        Ok(Caller::new(tenant, Who::Patient(found), client))
    }

    /// The one transaction not opened by an act: creating a clinic, which
    /// has no door yet. The operator who asks was proven by their token.
    pub(crate) async fn founding_tx(&self, tenant: TenantId) -> Result<TenantTx, StorageError> {
        self.db.tenant_write(tenant).await
    }

    /// The platform's own tables (clinics, operator tokens, the mail
    /// queue's claims), which hold no clinic's records.
    pub(crate) fn platform(&self) -> &Database {
        &self.db
    }

    /// Runs the guards of `act` for `caller`, naming what the act is about
    /// (`patient:…`) for its audit events, refusals by the guards
    /// included. A refusal is audited with its reason and the client
    /// before it is returned.
    pub(crate) async fn enter<'a>(
        &'a self,
        caller: &'a Caller,
        act: &'static Act,
        target: Option<String>,
    ) -> Result<Passage<'a>, DomainError> {
        let mut pass = Passage {
            door: self,
            caller,
            act,
            throttle: None,
            target,
            detail: None,
            failure_reason: None,
            committed: false,
            audited: false,
            actor: None,
        };
        if let Err(refused) = pass.guard().await {
            return Err(pass.finish::<()>(Err(refused)).await.unwrap_err());
        }
        Ok(pass)
    }

    /// Whether `caller` would pass the first guard of `act`: for pages that
    /// draw only the controls a role may use. Asks, refuses nothing, records
    /// nothing; the act itself still goes through the door.
    pub(crate) async fn may(&self, caller: &Caller, act: &Act) -> Result<bool, DomainError> {
        Ok(self.first_guard(caller, act).await?.is_ok())
    }

    /// The first guard, the one answer `may` and `enter` share: is `caller`
    /// the kind of caller `act` is for, and for a staff act, does their role
    /// grant it? A refusal comes with the reason the trail records.
    async fn first_guard(
        &self,
        caller: &Caller,
        act: &Act,
    ) -> Result<Result<(), (DomainError, &'static str)>, DomainError> {
        Ok(match (act.guard, &caller.who) {
            (Guard::Anyone, _)
            | (Guard::System, Who::System)
            | (Guard::Staff, Who::Staff(_))
            | (Guard::Patient, Who::Patient(_))
            | (Guard::Operator | Guard::PermissionOrOperator(_), Who::Operator(_) | Who::System) => {
                Ok(())
            }
            // Someone else chose this staff member's password: until they
            // choose their own, only their own account's acts (Guard::Staff:
            // change it, step up, log out) pass.
            (Guard::Permission(_) | Guard::PermissionOrOperator(_), Who::Staff(s))
                if s.session.must_change_password =>
            {
                Err((
                    DomainError::PasswordChangeRequired,
                    "password_change_required",
                ))
            }
            // The clinic requires a second factor and this staff member has
            // none yet: only their own account's acts (enrolling one among
            // them) pass.
            (Guard::Permission(_) | Guard::PermissionOrOperator(_), Who::Staff(s))
                if caller.tenant.settings.staff_second_factor_required
                    && !s.session.has_second_factor =>
            {
                Err((
                    DomainError::SecondFactorSetupRequired,
                    "second_factor_setup_required",
                ))
            }
            (Guard::Permission(p) | Guard::PermissionOrOperator(p), Who::Staff(s)) => {
                if self
                    .authz
                    .is_allowed(&caller.tenant, s.staff_id(), p)
                    .await?
                {
                    Ok(())
                } else {
                    Err((DomainError::Forbidden(p), "permission_denied"))
                }
            }
            (Guard::Permission(p), _) => Err((DomainError::Forbidden(p), "permission_denied")),
            _ => Err((DomainError::InvalidToken, "wrong_kind_of_caller")),
        })
    }

    /// The platform-wide bucket of `client`'s address, which every failed
    /// check of any secret at any clinic counts against.
    fn across_clinics(&self, client: &ClientInfo) -> (Bucket, ThrottlePolicy) {
        let policy = self.auth.across_clinics.policy();
        (
            Bucket::ip("any-secret", client.ip.as_deref(), &policy),
            policy,
        )
    }

    /// The buckets an act's secret counts against for a caller from
    /// `client`, before it knows whose account it is.
    pub(crate) fn throttle_for(&self, secret: Secret, client: &ClientInfo) -> Throttle {
        let scope = secret.scope();
        match secret {
            Secret::AccessCode => {
                let limits = &self.auth.redeem_throttle;
                let policy = limits.policy();
                let buckets = vec![
                    Bucket::ip(scope, client.ip.as_deref(), &policy),
                    // Full, it asks every redemption for a second proof
                    // instead of refusing the clinic's real patients.
                    Bucket::named(format!("{scope}-tenant"), limits.max_failures_per_tenant).soft(),
                ];
                Throttle::new(scope, policy, buckets)
            }
            Secret::StaffPassword | Secret::PortalPassword | Secret::EmailedToken => {
                let policy: ThrottlePolicy = self.auth.throttle.clone();
                let buckets = vec![Bucket::ip(scope, client.ip.as_deref(), &policy)];
                Throttle::new(scope, policy, buckets)
            }
            // Only someone who knew the password gets this far, so a hard
            // cap locks out no stranger's victim: past it, only a reset by
            // an owner (or the operator) opens the account again.
            Secret::SecondFactor => {
                let policy: ThrottlePolicy = self.auth.throttle.clone();
                let buckets = vec![Bucket::ip(scope, client.ip.as_deref(), &policy)];
                Throttle::new(scope, policy, buckets)
                    .cap_consecutive(self.auth.max_consecutive_factor_failures)
            }
        }
    }
}

impl<'a> Passage<'a> {
    pub fn caller(&self) -> &'a Caller {
        self.caller
    }

    pub fn tenant(&self) -> &'a Tenant {
        &self.caller.tenant
    }

    pub fn client(&self) -> &'a ClientInfo {
        &self.caller.client
    }

    pub fn act(&self) -> &'static Act {
        self.act
    }

    /// The signed-in staff member; the guards made sure there is one for
    /// staff acts.
    pub fn staff(&self) -> Result<&'a StaffAuthenticated, DomainError> {
        self.caller.staff().ok_or(DomainError::InvalidToken)
    }

    pub fn staff_id(&self) -> Result<StaffId, DomainError> {
        self.staff().map(StaffAuthenticated::staff_id)
    }

    /// The signed-in portal account, for patient acts.
    pub fn patient(&self) -> Result<&'a PortalAuthenticated, DomainError> {
        self.caller.patient().ok_or(DomainError::InvalidToken)
    }

    pub fn account_id(&self) -> Result<AccountId, DomainError> {
        self.patient().map(PortalAuthenticated::account_id)
    }

    /// What the act is about, for its audit event (`patient:…`).
    pub fn target(&mut self, target: impl Into<String>) {
        self.target = Some(target.into());
    }

    /// Records the success as done by `actor`: a visitor who just proved
    /// who they are.
    pub fn as_actor(&mut self, actor: Actor) {
        self.actor = Some(actor);
    }

    /// More about a success, for its audit event (`code=… delivery=email`).
    pub fn detail(&mut self, detail: impl Into<String>) {
        self.detail = Some(detail.into());
    }

    /// The reason a refusal is recorded with, when the error's own code is
    /// too coarse.
    pub fn failure_reason(&mut self, reason: &'static str) {
        self.failure_reason = Some(reason);
    }

    /// Passes the guards of a stricter act as well, when the act learns it
    /// is one (a patient's email changing once they have portal access).
    /// Its success is then recorded under the stricter act's name; a
    /// refusal is recorded under it at once.
    pub async fn escalate(&mut self, act: &'static Act) -> Result<(), DomainError> {
        let mut stricter = self
            .door
            .enter(self.caller, act, self.target.clone())
            .await
            .inspect_err(|_| self.audited = true)?;
        stricter.committed = true;
        if let Some(throttle) = stricter.throttle.take() {
            self.throttle = Some(throttle);
        }
        self.act = act;
        Ok(())
    }

    /// A transaction for reading the clinic's rows.
    pub async fn read(&self) -> Result<TenantTx, DomainError> {
        Ok(self.door.db.tenant_read(self.caller.tenant.id).await?)
    }

    /// A transaction for changing the clinic's rows.
    pub async fn write(&self) -> Result<TenantTx, DomainError> {
        debug_assert!(
            self.act.writes,
            "{} is declared as reading only",
            self.act.name
        );
        Ok(self.door.db.tenant_write(self.caller.tenant.id).await?)
    }

    /// Counts failures of this act's secret against `key` (an account's
    /// id, or the name someone typed) as well, refusing now if that
    /// account is locked. Call it once the act knows whose secret it is.
    pub async fn throttle_account(&mut self, key: &str) -> Result<(), DomainError> {
        let Some(throttle) = self.throttle.as_mut() else {
            panic!("{} checks no secret", self.act.name);
        };
        let buckets = throttle.add_account(key);
        let mut tx = self.door.db.tenant_read(self.caller.tenant.id).await?;
        let locked = throttle_check(&mut tx, &buckets).await?;
        tx.commit().await?;
        if let Err(retry_after) = locked {
            self.failure_reason("locked_out");
            return Err(DomainError::LockedOut { retry_after });
        }
        Ok(())
    }

    /// Whether a soft bucket of the act's secret (a whole clinic's) was
    /// full when the act began: the act must then ask for a second proof
    /// that a guesser lacks.
    pub fn needs_second_proof(&self) -> bool {
        self.throttle.as_ref().is_some_and(Throttle::pressed)
    }

    /// Spends one unit of a budget on something that checks no secret but
    /// costs rows or mail (a registration, mail to one address), in its
    /// own transaction, so the count stands whatever the act does next:
    /// `Err(retry_after)` when the budget is spent, and then nothing is
    /// counted. Call it before the act opens its own transaction.
    pub async fn spend(
        &self,
        bucket: &Bucket,
        policy: &ThrottlePolicy,
    ) -> Result<Result<(), std::time::Duration>, DomainError> {
        let budget = std::slice::from_ref(bucket);
        let mut tx = self.door.db.tenant_write(self.caller.tenant.id).await?;
        let room = throttle_check(&mut tx, budget).await?;
        if room.is_ok() {
            throttle_record_failure(&mut tx, budget, policy).await?;
        }
        tx.commit().await?;
        Ok(room)
    }

    /// Checks `password` against `stored` (or against a dummy of the same
    /// cost when there is no account). A mismatch counts against the
    /// act's buckets when the act ends.
    pub async fn verify_password(
        &mut self,
        password: &PlainPassword,
        stored: Option<&PasswordHash>,
    ) -> bool {
        let hasher = &self.door.hasher;
        match self.throttle.as_mut() {
            Some(throttle) => throttle.verify_password(hasher, password, stored).await,
            None => panic!("{} checks a password but declares no secret", self.act.name),
        }
    }

    /// Records that the presented secret (a code, a token) was wrong: it
    /// counts against the act's buckets when the act ends, with `reason`.
    pub fn secret_missed(&mut self, reason: &'static str) {
        match self.throttle.as_mut() {
            Some(throttle) => throttle.miss(),
            None => panic!("{} checks a secret but declares none", self.act.name),
        }
        self.failure_reason = Some(reason);
    }

    /// Ends a successful act: its audit event is written in `tx`, a
    /// checked secret's account bucket is forgotten, and `tx` commits.
    pub async fn commit(&mut self, mut tx: TenantTx) -> Result<(), DomainError> {
        if self.act.recorded {
            let actor = self.actor.clone().unwrap_or_else(|| self.caller.actor());
            let mut event = AuditEvent::success(actor, self.act.name, self.client());
            if let Some(t) = &self.target {
                event = event.target(t.clone());
            }
            if let Some(d) = &self.detail {
                event = event.reason(d.clone());
            }
            audit::record(&mut tx, event).await?;
        }
        for bucket in self.throttle.as_ref().map_or(&[][..], Throttle::to_forget) {
            throttle_clear(&mut tx, bucket).await?;
        }
        tx.commit().await?;
        self.committed = true;
        Ok(())
    }

    /// Ends the act: a success passes through; a refusal is recorded in
    /// the audit trail with its reason and the client, and a missed secret
    /// counts against the act's buckets. Faults of the server itself
    /// (storage, hashing) are logged by the HTTP layer, not audited.
    pub async fn finish<T>(self, result: Result<T, DomainError>) -> Result<T, DomainError> {
        let err = match result {
            Ok(value) => {
                if self.act.redeems() {
                    metrics::counter!("portico_redemptions_total", "act" => self.act.name, "outcome" => "redeemed")
                        .increment(1);
                }
                debug_assert!(
                    self.committed || !self.act.recorded,
                    "{} succeeded without committing",
                    self.act.name
                );
                return Ok(value);
            }
            Err(err) => err,
        };
        let Some(code) = err.audit_reason().filter(|_| !self.audited) else {
            return Err(err);
        };
        let reason = self.failure_reason.map(str::to_owned).unwrap_or(code);
        count_refusal(self.act, &err, &reason);
        let outcome = match err {
            DomainError::Forbidden(_)
            | DomainError::StepUpRequired
            | DomainError::PasswordChangeRequired
            | DomainError::SecondFactorSetupRequired => Outcome::Denied,
            _ => Outcome::Failure,
        };
        // The refusal's own transaction, whatever the act declared: the
        // act's was rolled back.
        let mut tx = self.door.db.tenant_write(self.caller.tenant.id).await?;
        if let Some(throttle) = self.throttle.as_ref().filter(|t| t.missed()) {
            throttle_record_failure(&mut tx, throttle.buckets(), throttle.policy()).await?;
        }
        let mut event =
            AuditEvent::failure(self.caller.actor(), self.act.name, reason, self.client())
                .outcome(outcome);
        if let Some(t) = &self.target {
            event = event.target(t.clone());
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        if self.throttle.as_ref().is_some_and(Throttle::missed) {
            let (bucket, policy) = self.door.across_clinics(self.client());
            across_clinics::record_failure(&self.door.db, &bucket, &policy).await?;
        }
        self.caller.refusal_recorded.store(true, Ordering::Relaxed);
        Err(err)
    }

    async fn guard(&mut self) -> Result<(), DomainError> {
        let act = self.act;
        if let Err((refused, reason)) = self.door.first_guard(self.caller, act).await? {
            self.failure_reason(reason);
            return Err(refused);
        }
        if act.step_up {
            let fresh = self
                .caller
                .staff()
                .and_then(|s| s.session.step_up_at)
                .is_some_and(|at| at.plus(self.door.auth.step_up_ttl) > Timestamp::now());
            if !fresh {
                self.failure_reason("step_up_required");
                return Err(DomainError::StepUpRequired);
            }
        }
        if let Some(secret) = act.secret {
            let mut throttle = self.door.throttle_for(secret, &self.caller.client);
            // A signed-in caller's own account is known from the start.
            match &self.caller.who {
                Who::Staff(s) => {
                    throttle.add_account(&s.staff_id().to_string());
                }
                Who::Patient(p) => {
                    throttle.add_account(&p.account_id().to_string());
                }
                _ => {}
            }
            let (everywhere, _) = self.door.across_clinics(&self.caller.client);
            if let Err(retry_after) = across_clinics::check(&self.door.db, &everywhere).await? {
                self.throttle = Some(throttle);
                self.failure_reason("locked_out_across_clinics");
                return Err(DomainError::LockedOut { retry_after });
            }
            let (hard, soft) = throttle.hard_and_soft();
            let mut tx = self.read().await?;
            let locked = throttle_check(&mut tx, &hard).await?;
            if throttle_check(&mut tx, &soft).await?.is_err() {
                throttle.press();
            }
            tx.commit().await?;
            self.throttle = Some(throttle);
            if let Err(retry_after) = locked {
                self.failure_reason("locked_out");
                return Err(DomainError::LockedOut { retry_after });
            }
        }
        Ok(())
    }
}

/// The operators' figures of a refusal. Every label is an act's name or a
/// reason code, both from fixed sets.
fn count_refusal(act: &Act, err: &DomainError, reason: &str) {
    metrics::counter!("portico_refusals_total", "act" => act.name, "reason" => reason.to_owned())
        .increment(1);
    if matches!(err, DomainError::LockedOut { .. }) {
        metrics::counter!("portico_throttle_lockouts_total", "act" => act.name).increment(1);
    }
    if act.redeems() {
        metrics::counter!("portico_redemptions_total", "act" => act.name, "outcome" => reason.to_owned())
            .increment(1);
    }
}

/// How long a step-up counts, for pages that show it.
pub fn step_up_valid_until(caller: &Caller, ttl: std::time::Duration) -> Option<Timestamp> {
    caller
        .staff()?
        .session
        .step_up_at
        .map(|at| at.plus(ttl))
        .filter(|until| *until > Timestamp::now())
}
