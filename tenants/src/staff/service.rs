//! What staff do with their accounts: log in and out, confirm their
//! password for a sensitive act, change it; and what owners do with staff.

use crate::audit::{self, Actor, AuditEvent, ClientInfo};
use crate::auth::{Bucket, SecretToken, throttle_check, throttle_clear, throttle_record_failure};
use crate::domain::{
    Action, DisplayName, EmailAddress, NewPassword, Permission, PlainPassword, Resource, RoleName,
    StaffId, Timestamp,
};
use crate::error::DomainError;
use crate::registry::Tenant;
use crate::services::Services;
use crate::storage::StorageError;

use super::sessions::{self, Lookup, SessionKind, SessionRecord};
use super::store::{self, StaffMember, StaffStatus};

/// A session just opened. The token is shown to the client once.
#[derive(Debug)]
pub struct IssuedSession {
    pub token: SecretToken,
    pub csrf_token: String,
    pub expires_at: Timestamp,
    pub staff: StaffMember,
}

/// A request's staff member, as proven by a live session.
#[derive(Debug, Clone)]
pub struct StaffAuthenticated {
    pub session: SessionRecord,
}

impl StaffAuthenticated {
    pub fn staff_id(&self) -> StaffId {
        self.session.staff_id
    }
}

const THROTTLE_SCOPE: &str = "staff";

impl Services {
    /// Logs a staff member in. An unknown email, a wrong password and a
    /// disabled account all answer `InvalidCredentials` after the same
    /// amount of hashing work.
    pub async fn staff_login(
        &self,
        tenant: &Tenant,
        email: &EmailAddress,
        password: &PlainPassword,
        kind: SessionKind,
        client: &ClientInfo,
    ) -> Result<IssuedSession, DomainError> {
        let policy = &self.auth.throttle;
        let account_bucket = Bucket::account(THROTTLE_SCOPE, &email.normalized(), policy);
        let buckets = [
            account_bucket.clone(),
            Bucket::ip(THROTTLE_SCOPE, client.ip.as_deref(), policy),
        ];

        // Read what is needed, then hash with no transaction open: a write
        // lock held across tens of milliseconds of hashing would serialise
        // every login.
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let locked = throttle_check(&mut tx, &buckets).await?;
        let found = store::find_by_email(&mut tx, email).await?;
        tx.commit().await?;

        if let Err(retry_after) = locked {
            let mut tx = self.db.tenant_write(tenant.id).await?;
            let mut event =
                AuditEvent::failure(Actor::Anonymous, "staff.login", "locked_out", client);
            if let Some((member, _)) = &found {
                event = event.target(format!("staff:{}", member.id));
            }
            audit::record(&mut tx, event).await?;
            tx.commit().await?;
            return Err(DomainError::LockedOut { retry_after });
        }

        let matched = self
            .hasher
            .verify(password, found.as_ref().map(|(_, h)| h))
            .await;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let member = match found {
            Some((member, _)) if matched && member.status == StaffStatus::Active => member,
            other => {
                let reason = match &other {
                    None => "unknown_account",
                    Some((m, _)) if m.status != StaffStatus::Active => "account_disabled",
                    Some(_) => "wrong_password",
                };
                throttle_record_failure(&mut tx, &buckets, policy).await?;
                let mut event =
                    AuditEvent::failure(Actor::Anonymous, "staff.login", reason, client);
                if let Some((m, _)) = &other {
                    event = event.target(format!("staff:{}", m.id));
                }
                audit::record(&mut tx, event).await?;
                tx.commit().await?;
                return Err(DomainError::InvalidCredentials);
            }
        };
        throttle_clear(&mut tx, &account_bucket).await?;
        let ttl = match kind {
            SessionKind::Cookie => self.auth.cookie_session_ttl,
            SessionKind::Bearer => self.auth.bearer_token_ttl,
        };
        let created = sessions::create(&mut tx, member.id, kind, ttl).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(member.id), "staff.login", client)
                .target(format!("staff:{}", member.id))
                .reason(kind.as_str()),
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedSession {
            token: created.token,
            csrf_token: created.csrf_token,
            expires_at: created.expires_at,
            staff: member,
        })
    }

    /// Finds the live session behind `token`.
    pub async fn staff_authenticate(
        &self,
        tenant: &Tenant,
        token: &SecretToken,
    ) -> Result<StaffAuthenticated, DomainError> {
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let found = sessions::find(&mut tx, token).await?;
        tx.commit().await?;
        match found {
            Lookup::Live(session) => Ok(StaffAuthenticated { session }),
            Lookup::Expired => Err(DomainError::SessionExpired),
            Lookup::Unknown => Err(DomainError::InvalidToken),
        }
    }

    pub async fn staff_logout(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let mut tx = self.db.tenant_write(tenant.id).await?;
        sessions::revoke(&mut tx, &who.session.id).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "staff.logout", client)
                .target(format!("staff:{}", who.staff_id())),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Confirms the staff member's password again ("step-up"), so that for
    /// the next few minutes sensitive acts in this session are allowed.
    /// Failures count against the same throttle as logins.
    pub async fn staff_step_up(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        password: &PlainPassword,
        client: &ClientInfo,
    ) -> Result<Timestamp, DomainError> {
        let member = self
            .verify_own_password(tenant, who, password, "staff.step_up", client)
            .await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let at = sessions::mark_step_up(&mut tx, &who.session.id).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(member.id), "staff.step_up", client)
                .target(format!("staff:{}", member.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(at.plus(self.auth.step_up_ttl))
    }

    /// `Ok` when the session confirmed its password recently enough for a
    /// sensitive act.
    pub fn require_step_up(&self, who: &StaffAuthenticated) -> Result<(), DomainError> {
        match who.session.step_up_at {
            Some(at) if at.plus(self.auth.step_up_ttl) > Timestamp::now() => Ok(()),
            _ => Err(DomainError::StepUpRequired),
        }
    }

    /// When the current step-up confirmation stops counting, if there is one.
    pub fn step_up_valid_until(&self, who: &StaffAuthenticated) -> Option<Timestamp> {
        who.session
            .step_up_at
            .map(|at| at.plus(self.auth.step_up_ttl))
            .filter(|until| *until > Timestamp::now())
    }

    /// Changes the staff member's own password; every other session of
    /// theirs ends.
    pub async fn staff_change_password(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        current: &PlainPassword,
        new: &NewPassword,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let member = self
            .verify_own_password(tenant, who, current, "staff.password_change", client)
            .await?;
        if current.expose() == new.as_plain().expose() {
            return Err(DomainError::Conflict {
                code: "password_unchanged",
                message: "the new password must differ from the current one".into(),
            });
        }
        let hash = self.hasher.hash(new).await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        store::set_password(&mut tx, member.id, &hash).await?;
        sessions::revoke_all_for(&mut tx, member.id, Some(&who.session.id)).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(member.id), "staff.password_change", client)
                .target(format!("staff:{}", member.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn verify_own_password(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        password: &PlainPassword,
        action: &'static str,
        client: &ClientInfo,
    ) -> Result<StaffMember, DomainError> {
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let (member, hash) = store::get(&mut tx, who.staff_id())
            .await?
            .ok_or(DomainError::InvalidToken)?;
        let policy = &self.auth.throttle;
        let buckets = [
            Bucket::account(THROTTLE_SCOPE, &member.email.normalized(), policy),
            Bucket::ip(THROTTLE_SCOPE, client.ip.as_deref(), policy),
        ];
        let locked = throttle_check(&mut tx, &buckets).await?;
        tx.commit().await?;
        if let Err(retry_after) = locked {
            return Err(DomainError::LockedOut { retry_after });
        }
        if self.hasher.verify(password, Some(&hash)).await {
            return Ok(member);
        }
        let mut tx = self.db.tenant_write(tenant.id).await?;
        throttle_record_failure(&mut tx, &buckets, policy).await?;
        audit::record(
            &mut tx,
            AuditEvent::failure(Actor::Staff(member.id), action, "wrong_password", client)
                .target(format!("staff:{}", member.id)),
        )
        .await?;
        tx.commit().await?;
        Err(DomainError::InvalidCredentials)
    }

    pub async fn staff_list(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
    ) -> Result<Vec<StaffMember>, DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Staff, Action::Read),
            )
            .await?;
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let members = store::list(&mut tx).await?;
        tx.commit().await?;
        Ok(members)
    }

    pub async fn staff_get(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        id: StaffId,
    ) -> Result<StaffMember, DomainError> {
        if id != who.staff_id() {
            self.authz
                .require(
                    tenant,
                    who.staff_id(),
                    Permission::new(Resource::Staff, Action::Read),
                )
                .await?;
        }
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let found = store::get(&mut tx, id).await?;
        tx.commit().await?;
        found
            .map(|(m, _)| m)
            .ok_or(DomainError::NotFound("staff member"))
    }

    /// Adds a staff member with an initial password and roles.
    #[allow(clippy::too_many_arguments)]
    pub async fn staff_create(
        &self,
        tenant: &Tenant,
        actor: Actor,
        email: &EmailAddress,
        display_name: &DisplayName,
        password: &NewPassword,
        roles: &[RoleName],
        client: &ClientInfo,
    ) -> Result<StaffMember, DomainError> {
        if let Actor::Staff(id) = &actor {
            self.authz
                .require(tenant, *id, Permission::new(Resource::Staff, Action::Write))
                .await?;
            for role in roles {
                self.guard_owner_role(tenant, *id, role).await?;
            }
        }
        let hash = self.hasher.hash(password).await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let member = store::insert(&mut tx, email, display_name, &hash)
            .await
            .map_err(|e| match e {
                StorageError::UniqueViolation(_) => DomainError::Conflict {
                    code: "email_taken",
                    message: "a staff member with this email already exists in this clinic".into(),
                },
                other => other.into(),
            })?;
        for role in roles {
            crate::rbac::assign_in_tx(&mut tx, tenant, member.id, role).await?;
        }
        let role_list = roles
            .iter()
            .map(RoleName::as_str)
            .collect::<Vec<_>>()
            .join(",");
        audit::record(
            &mut tx,
            AuditEvent::success(actor, "staff.create", client)
                .target(format!("staff:{}", member.id))
                .reason(format!("roles={role_list}")),
        )
        .await?;
        tx.commit().await?;
        self.authz.invalidate(tenant.id).await;
        Ok(member)
    }

    /// Sets a new password for a staff member by operator action (the
    /// command line), ending all their sessions.
    pub async fn staff_reset_password(
        &self,
        tenant: &Tenant,
        actor: Actor,
        email: &EmailAddress,
        password: &NewPassword,
        client: &ClientInfo,
    ) -> Result<StaffMember, DomainError> {
        let hash = self.hasher.hash(password).await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let (member, _) = store::find_by_email(&mut tx, email)
            .await?
            .ok_or(DomainError::NotFound("staff member"))?;
        store::set_password(&mut tx, member.id, &hash).await?;
        sessions::revoke_all_for(&mut tx, member.id, None).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(actor, "staff.password_reset", client)
                .target(format!("staff:{}", member.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(member)
    }
}
