//! Patients logging in and out, and moving between the records they hold.

use crate::audit::{self, Actor, AuditEvent, ClientInfo};
use crate::auth::{Bucket, SecretToken, throttle_check, throttle_clear, throttle_record_failure};
use crate::codes::looks_like_a_code;
use crate::domain::{AccountId, EmailAddress, PatientId, PlainPassword, Timestamp};
use crate::error::{DomainError, RefusalKind};
use crate::registry::Tenant;
use crate::services::Services;

use super::accounts::{self, PortalAccount};
use super::grants::{self, GrantView};
use super::sessions::{self, Lookup, PortalSession};

/// A portal session just opened; the token is shown once.
#[derive(Debug)]
pub struct PortalSessionIssued {
    pub token: SecretToken,
    pub csrf_token: String,
    pub expires_at: Timestamp,
    pub account: PortalAccount,
}

/// A request's portal account, as proven by a live session.
#[derive(Debug, Clone)]
pub struct PortalAuthenticated {
    pub session: PortalSession,
}

impl PortalAuthenticated {
    pub fn account_id(&self) -> AccountId {
        self.session.account_id
    }
}

/// What a patient typed to log in.
#[derive(Debug, Clone)]
pub struct PortalLogin {
    /// A username, or the account's email address.
    pub login: String,
    pub password: PlainPassword,
}

pub(crate) const THROTTLE_SCOPE: &str = "portal";
/// Accounts sharing one email address that a login by email will try.
const MAX_SHARED_EMAIL: u32 = 8;

impl Services {
    /// Logs a patient in by username or email. An email shared by family
    /// members logs in the one account whose password matches; if several
    /// match, the patient is asked for the username. A code typed as a
    /// password is recognised and explained.
    pub async fn portal_login(
        &self,
        tenant: &Tenant,
        login: &PortalLogin,
        client: &ClientInfo,
    ) -> Result<PortalSessionIssued, DomainError> {
        let policy = &self.auth.throttle;
        let login_name = login.login.trim();
        let account_bucket = Bucket::account(THROTTLE_SCOPE, login_name, policy);
        let buckets = [
            account_bucket.clone(),
            Bucket::ip(THROTTLE_SCOPE, client.ip.as_deref(), policy),
        ];

        let mut tx = self.db.tenant_read(tenant.id).await?;
        let locked = throttle_check(&mut tx, &buckets).await?;
        let candidates = match EmailAddress::parse(login_name) {
            Ok(email) => accounts::by_email(&mut tx, &email, MAX_SHARED_EMAIL).await?,
            Err(_) => accounts::by_username(&mut tx, login_name)
                .await?
                .into_iter()
                .collect(),
        };
        // An email can also be someone's username.
        let candidates = if candidates.is_empty() {
            accounts::by_username(&mut tx, login_name)
                .await?
                .into_iter()
                .collect()
        } else {
            candidates
        };
        tx.commit().await?;

        if let Err(retry_after) = locked {
            self.audit_portal(
                tenant,
                Actor::Anonymous,
                "portal.login",
                None,
                Some("locked_out"),
                client,
            )
            .await?;
            return Err(DomainError::LockedOut { retry_after });
        }

        let mut matched = Vec::new();
        if candidates.is_empty() {
            self.hasher.verify(&login.password, None).await;
        }
        for (account, hash) in &candidates {
            if self.hasher.verify(&login.password, Some(hash)).await {
                matched.push(account.clone());
            }
        }
        match matched.len() {
            1 => {
                let account = matched.remove(0);
                let mut tx = self.db.tenant_write(tenant.id).await?;
                throttle_clear(&mut tx, &account_bucket).await?;
                let first = grants::live_for_account(&mut tx, account.id)
                    .await?
                    .first()
                    .map(|g| g.patient_id);
                let created =
                    sessions::create(&mut tx, account.id, first, self.auth.portal_session_ttl)
                        .await?;
                audit::record(
                    &mut tx,
                    AuditEvent::success(Actor::Account(account.id), "portal.login", client)
                        .target(format!("account:{}", account.id)),
                )
                .await?;
                tx.commit().await?;
                Ok(PortalSessionIssued {
                    token: created.token,
                    csrf_token: created.csrf_token,
                    expires_at: created.expires_at,
                    account,
                })
            }
            0 => {
                let typed_a_code = looks_like_a_code(login.password.expose());
                let reason = match (candidates.is_empty(), typed_a_code) {
                    (_, true) => "code_as_password",
                    (true, false) => "unknown_account",
                    (false, false) => "wrong_password",
                };
                let mut tx = self.db.tenant_write(tenant.id).await?;
                throttle_record_failure(&mut tx, &buckets, policy).await?;
                let target =
                    (candidates.len() == 1).then(|| format!("account:{}", candidates[0].0.id));
                let mut event =
                    AuditEvent::failure(Actor::Anonymous, "portal.login", reason, client);
                if let Some(t) = target {
                    event = event.target(t);
                }
                audit::record(&mut tx, event).await?;
                tx.commit().await?;
                if typed_a_code {
                    return Err(DomainError::refused(
                        RefusalKind::Unauthenticated,
                        "code_is_not_a_password",
                        "That looks like an access code, not a password. An access code is used once, to set up \
                         your account; after that you log in with the password you chose. If you have not set up \
                         your account yet, open the link in the clinic's email. Forgot your password? Use \
                         \"Forgot password\".",
                    ));
                }
                Err(DomainError::InvalidCredentials)
            }
            _ => {
                self.audit_portal(
                    tenant,
                    Actor::Anonymous,
                    "portal.login",
                    None,
                    Some("username_required"),
                    client,
                )
                .await?;
                Err(DomainError::refused(
                    RefusalKind::Unauthenticated,
                    "username_required",
                    "More than one account uses this email address. Log in with your username instead.",
                ))
            }
        }
    }

    pub async fn portal_authenticate(
        &self,
        tenant: &Tenant,
        token: &SecretToken,
    ) -> Result<PortalAuthenticated, DomainError> {
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let found = sessions::find(&mut tx, token).await?;
        tx.commit().await?;
        match found {
            Lookup::Live(session) => Ok(PortalAuthenticated { session }),
            Lookup::Expired => Err(DomainError::SessionExpired),
            Lookup::Unknown => Err(DomainError::InvalidToken),
        }
    }

    pub async fn portal_logout(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let mut tx = self.db.tenant_write(tenant.id).await?;
        sessions::revoke(&mut tx, &who.session.id).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Account(who.account_id()), "portal.logout", client)
                .target(format!("account:{}", who.account_id())),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account and the records it can see right now.
    pub async fn portal_me(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
    ) -> Result<(PortalAccount, Vec<GrantView>), DomainError> {
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let (account, _) = accounts::get(&mut tx, who.account_id())
            .await?
            .ok_or(DomainError::InvalidToken)?;
        let records = grants::live_for_account(&mut tx, account.id).await?;
        tx.commit().await?;
        Ok((account, records))
    }

    /// One record the account holds, checked afresh: a revoked grant or a
    /// disabled record answers `NotFound` on the very next request. Each
    /// view is audited.
    pub async fn portal_record(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
        patient: PatientId,
        client: &ClientInfo,
    ) -> Result<GrantView, DomainError> {
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let grant = grants::live(&mut tx, who.account_id(), patient).await?;
        tx.commit().await?;
        let outcome = grant
            .as_ref()
            .map(|_| None)
            .unwrap_or(Some("no_live_grant"));
        self.audit_portal(
            tenant,
            Actor::Account(who.account_id()),
            "portal.record.view",
            Some(format!("patient:{patient}")),
            outcome,
            client,
        )
        .await?;
        grant.ok_or(DomainError::NotFound("record"))
    }

    /// Makes `patient` the record the session shows, for family switching.
    pub async fn portal_switch(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
        patient: PatientId,
    ) -> Result<GrantView, DomainError> {
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let grant = grants::live(&mut tx, who.account_id(), patient)
            .await?
            .ok_or(DomainError::NotFound("record"))?;
        sessions::set_active_patient(&mut tx, &who.session.id, patient).await?;
        tx.commit().await?;
        Ok(grant)
    }

    /// Records a portal event in a transaction of its own.
    pub(crate) async fn audit_portal(
        &self,
        tenant: &Tenant,
        actor: Actor,
        action: &'static str,
        target: Option<String>,
        failure: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let mut event = match failure {
            Some(reason) => AuditEvent::failure(actor, action, reason, client),
            None => AuditEvent::success(actor, action, client),
        };
        if let Some(t) = target {
            event = event.target(t);
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}
