//! What staff do with their accounts: log in and out, confirm their
//! password for a sensitive act, change it; and what owners do with staff.

use crate::acts;
use crate::auth::SecretToken;
use crate::domain::{
    DisplayName, EmailAddress, NewPassword, PlainPassword, RoleName, StaffId, Timestamp,
};
use crate::door::{Caller, Passage};
use crate::error::DomainError;
use crate::services::Services;
use crate::storage::StorageError;

use crate::domain::BuiltinRole;
use crate::sessions::staff::{self as sessions, SessionKind};
use crate::staff::store::{self, ChosenBy, StaffMember, StaffStatus};

/// A session just opened. The token is shown to the client once.
#[derive(Debug)]
pub struct IssuedSession {
    pub token: SecretToken,
    pub csrf_token: String,
    pub expires_at: Timestamp,
    pub staff: StaffMember,
}

/// Where a right password leads.
#[derive(Debug)]
pub enum StaffLogin {
    /// Signed in.
    Signed(IssuedSession),
    /// The staff member has a second factor: the login waits for it.
    SecondStep(crate::factors::PendingLogin),
}

impl Services {
    /// Logs a staff member in, or, when they have a second factor, opens
    /// the login's second step. An unknown email, a wrong password and a
    /// disabled account all answer `InvalidCredentials` after the same
    /// amount of hashing work.
    pub async fn staff_login(
        &self,
        caller: &Caller,
        email: &EmailAddress,
        password: &PlainPassword,
        kind: SessionKind,
    ) -> Result<StaffLogin, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_LOGIN).await?;
        let done = async {
            // Read what is needed, then hash with no transaction open: a
            // write lock held across tens of milliseconds of hashing would
            // serialise every login.
            let mut tx = pass.read().await?;
            let found = store::find_by_email(&mut tx, email).await?;
            tx.commit().await?;
            let account_key = match &found {
                Some((member, _)) => {
                    pass.target(format!("staff:{}", member.id));
                    member.id.to_string()
                }
                None => email.normalized(),
            };
            pass.throttle_account(&account_key).await?;
            let matched = pass
                .verify_password(password, found.as_ref().map(|(_, h)| h))
                .await;
            let member = match found {
                Some((member, _)) if matched && member.status == StaffStatus::Active => member,
                other => {
                    pass.failure_reason(match &other {
                        None => "unknown_account",
                        Some((m, _)) if m.status != StaffStatus::Active => "account_disabled",
                        Some(_) => "wrong_password",
                    });
                    return Err(DomainError::InvalidCredentials);
                }
            };
            let ttl = match kind {
                SessionKind::Cookie => self.auth.cookie_session_ttl,
                SessionKind::Bearer => self.auth.bearer_token_ttl,
            };
            let holder = crate::factors::Holder::Staff(member.id);
            let mut tx = pass.write().await?;
            pass.as_actor(crate::audit::Actor::Staff(member.id));
            let factors = crate::factors::store::list(&mut tx, holder).await?;
            if !factors.is_empty() {
                let mut pending =
                    crate::factors::create_pending(&mut tx, holder, Some(kind)).await?;
                for method in [
                    crate::factors::FactorKind::Totp,
                    crate::factors::FactorKind::Passkey,
                ] {
                    if factors.iter().any(|f| f.kind == method) {
                        pending.methods.push(method.as_str());
                    }
                }
                pending.methods.push("recovery_code");
                pass.detail(format!("{} second_step_asked", kind.as_str()));
                pass.commit(tx).await?;
                return Ok(StaffLogin::SecondStep(pending));
            }
            let created = sessions::create(&mut tx, member.id, kind, ttl).await?;
            pass.detail(kind.as_str());
            pass.commit(tx).await?;
            Ok(StaffLogin::Signed(IssuedSession {
                token: created.token,
                csrf_token: created.csrf_token,
                expires_at: created.expires_at,
                staff: member,
            }))
        }
        .await;
        pass.finish(done).await
    }

    pub async fn staff_logout(&self, caller: &Caller) -> Result<(), DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_LOGOUT).await?;
        let done = async {
            let who = pass.staff()?;
            pass.target(format!("staff:{}", who.staff_id()));
            let mut tx = pass.write().await?;
            sessions::revoke(&mut tx, &who.session.id).await?;
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// Confirms the staff member's password again ("step-up"), so that for
    /// the next few minutes sensitive acts in this session are allowed.
    /// Failures count against the same throttle as logins.
    pub async fn staff_step_up(
        &self,
        caller: &Caller,
        password: &PlainPassword,
    ) -> Result<Timestamp, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_STEP_UP).await?;
        let done = async {
            let who = pass.staff()?;
            verify_own_password(&mut pass, password).await?;
            let mut tx = pass.write().await?;
            let at = sessions::mark_step_up(&mut tx, &who.session.id, sessions::StepUpBy::Password)
                .await?;
            pass.commit(tx).await?;
            Ok(at.plus(self.auth.step_up_ttl))
        }
        .await;
        pass.finish(done).await
    }

    /// Changes the staff member's own password; every other session of
    /// theirs ends.
    pub async fn staff_change_password(
        &self,
        caller: &Caller,
        current: &PlainPassword,
        new: &NewPassword,
    ) -> Result<(), DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_PASSWORD_CHANGE).await?;
        let done = async {
            let who = pass.staff()?;
            let member = verify_own_password(&mut pass, current).await?;
            if current.expose() == new.as_plain().expose() {
                return Err(DomainError::Conflict {
                    code: "password_unchanged",
                    message: "the new password must differ from the current one".into(),
                });
            }
            let hash = self.hasher.hash(new).await?;
            let mut tx = pass.write().await?;
            store::set_password(&mut tx, member.id, &hash, ChosenBy::Themselves).await?;
            sessions::revoke_all_for(&mut tx, member.id, Some(&who.session.id)).await?;
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    pub async fn staff_list(&self, caller: &Caller) -> Result<Vec<StaffMember>, DomainError> {
        let pass = self.enter(caller, &acts::STAFF_LIST).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let members = store::list(&mut tx).await?;
            tx.commit().await?;
            Ok(members)
        }
        .await;
        pass.finish(done).await
    }

    /// A staff member's account: anyone's own, others' with `staff` read.
    pub async fn staff_get(
        &self,
        caller: &Caller,
        id: StaffId,
    ) -> Result<StaffMember, DomainError> {
        let own = caller.staff().is_some_and(|s| s.staff_id() == id);
        let act = if own {
            &acts::STAFF_SELF
        } else {
            &acts::STAFF_LIST
        };
        let pass = self.enter_about(caller, act, format!("staff:{id}")).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let found = store::get(&mut tx, id).await?;
            tx.commit().await?;
            found
                .map(|(m, _)| m)
                .ok_or(DomainError::NotFound("staff member"))
        }
        .await;
        pass.finish(done).await
    }

    /// Adds a staff member with an initial password and roles, by a staff
    /// member who may, or by an operator.
    pub async fn staff_create(
        &self,
        caller: &Caller,
        email: &EmailAddress,
        display_name: &DisplayName,
        password: &NewPassword,
        roles: &[RoleName],
    ) -> Result<StaffMember, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_CREATE).await?;
        let done = async {
            for role in roles {
                self.guard_owner_role(&pass, role).await?;
            }
            let hash = self.hasher.hash(password).await?;
            let mut tx = pass.write().await?;
            // A password a colleague or an operator chose is only for the
            // first login. Only the server's own demo clinic, whose
            // passwords it prints for the newcomer running it, keeps them.
            let chosen_by = if matches!(pass.caller().who, crate::door::Who::System) {
                ChosenBy::Themselves
            } else {
                ChosenBy::Someone
            };
            let member = store::insert(&mut tx, email, display_name, &hash, chosen_by)
                .await
                .map_err(|e| match e {
                    StorageError::UniqueViolation(_) => DomainError::Conflict {
                        code: "email_taken",
                        message: "a staff member with this email already exists in this clinic"
                            .into(),
                    },
                    other => other.into(),
                })?;
            for role in roles {
                crate::acts::roles::assign_in_tx(&mut tx, pass.tenant(), member.id, role).await?;
            }
            let role_list = roles
                .iter()
                .map(RoleName::as_str)
                .collect::<Vec<_>>()
                .join(",");
            pass.target(format!("staff:{}", member.id));
            pass.detail(format!("roles={role_list}"));
            pass.commit(tx).await?;
            self.authz.invalidate(pass.tenant().id).await;
            Ok(member)
        }
        .await;
        pass.finish(done).await
    }

    /// Deactivates a staff member: they can no longer log in, and every
    /// session of theirs ends at once. Their name stays on everything they
    /// did. Nobody deactivates themselves, only an owner deactivates an
    /// owner, and the clinic keeps at least one active owner.
    pub async fn staff_deactivate(
        &self,
        caller: &Caller,
        id: StaffId,
    ) -> Result<StaffMember, DomainError> {
        self.set_staff_status(caller, &acts::STAFF_DEACTIVATE, id, StaffStatus::Disabled)
            .await
    }

    /// Lets a deactivated staff member log in again, with the password and
    /// roles they had.
    pub async fn staff_reactivate(
        &self,
        caller: &Caller,
        id: StaffId,
    ) -> Result<StaffMember, DomainError> {
        self.set_staff_status(caller, &acts::STAFF_REACTIVATE, id, StaffStatus::Active)
            .await
    }

    async fn set_staff_status(
        &self,
        caller: &Caller,
        act: &'static crate::door::Act,
        id: StaffId,
        status: StaffStatus,
    ) -> Result<StaffMember, DomainError> {
        let mut pass = self.enter_about(caller, act, format!("staff:{id}")).await?;
        let done = async {
            if pass.staff_id()? == id {
                return Err(DomainError::Conflict {
                    code: "own_account",
                    message: "you cannot deactivate your own account; ask another owner or admin".into(),
                });
            }
            let owner = RoleName::builtin(BuiltinRole::Owner);
            let is_owner = |roles: &[RoleName]| roles.contains(&owner);
            if is_owner(&self.authz.roles_of(pass.tenant(), id).await?) {
                self.guard_owner_role(&pass, &owner).await?;
            }
            let mut tx = pass.write().await?;
            let (member, _) = store::get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("staff member"))?;
            if status == StaffStatus::Disabled {
                let owners = crate::acts::roles::active_owners(&mut tx).await?;
                if owners.len() <= 1 && owners.contains(&id) {
                    return Err(DomainError::Conflict {
                        code: "last_owner",
                        message: "a clinic must keep at least one active owner; make someone else owner first"
                            .into(),
                    });
                }
            }
            if !store::set_status(&mut tx, id, status).await? {
                return Err(DomainError::Conflict {
                    code: "unchanged",
                    message: format!("this staff member is already {}", match status {
                        StaffStatus::Active => "active",
                        StaffStatus::Disabled => "deactivated",
                    }),
                });
            }
            if status == StaffStatus::Disabled {
                sessions::revoke_all_for(&mut tx, id, None).await?;
            }
            pass.commit(tx).await?;
            Ok(StaffMember { status, ..member })
        }
        .await;
        pass.finish(done).await
    }

    /// Sets a new password for a staff member by operator action (the
    /// command line), ending all their sessions. It is a temporary one: they
    /// choose their own at the next login.
    pub async fn staff_reset_password(
        &self,
        caller: &Caller,
        email: &EmailAddress,
        password: &NewPassword,
    ) -> Result<StaffMember, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_PASSWORD_RESET).await?;
        let done = async {
            let hash = self.hasher.hash(password).await?;
            let mut tx = pass.write().await?;
            let (member, _) = store::find_by_email(&mut tx, email)
                .await?
                .ok_or(DomainError::NotFound("staff member"))?;
            store::set_password(&mut tx, member.id, &hash, ChosenBy::Someone).await?;
            sessions::revoke_all_for(&mut tx, member.id, None).await?;
            pass.target(format!("staff:{}", member.id));
            pass.commit(tx).await?;
            Ok(member)
        }
        .await;
        pass.finish(done).await
    }
}

/// Checks the signed-in staff member's own password, under the act's
/// throttle (the same buckets as their login).
async fn verify_own_password(
    pass: &mut Passage<'_>,
    password: &PlainPassword,
) -> Result<StaffMember, DomainError> {
    let staff = pass.staff_id()?;
    pass.target(format!("staff:{staff}"));
    let mut tx = pass.read().await?;
    let (member, hash) = store::get(&mut tx, staff)
        .await?
        .ok_or(DomainError::InvalidToken)?;
    tx.commit().await?;
    if pass.verify_password(password, Some(&hash)).await {
        Ok(member)
    } else {
        pass.failure_reason("wrong_password");
        Err(DomainError::InvalidCredentials)
    }
}
