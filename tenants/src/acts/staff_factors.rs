//! Staff second factors: setting up an authenticator app, listing,
//! renaming and removing factors, recovery codes, the second step of a
//! login, a step-up with a code, and an owner's (or the operator's) reset.

use crate::acts;
use crate::auth::SecretToken;
use crate::domain::{
    BuiltinRole, DisplayName, EmailAddress, FactorId, RoleName, StaffId, Timestamp,
};
use crate::door::{Caller, Passage};
use crate::error::{DomainError, RefusalKind};
use crate::factors::{
    self, FactorSummary, Holder, RecoveryCode, SecondFactorAnswer, TotpCode, TotpSecret, store,
};
use crate::services::Services;
use crate::sessions::staff::{self as sessions, SessionKind};
use crate::staff::store::{self as staff_store, StaffStatus};

use super::factors::{
    FactorAdded, TotpSetup, check_answer, confirm_setup, factor_added, factor_buckets,
    login_expired, renew_recovery_codes, spend_answer, waiting_setup,
};
use super::staff::IssuedSession;

/// A person's factors, as their account page shows them.
#[derive(Debug)]
pub struct StaffFactors {
    pub factors: Vec<FactorSummary>,
    pub recovery_codes_left: u32,
}

/// Changing one's second factors, once there is one, needs a fresh step-up
/// made with one of them (a code, a passkey, or the login that just used
/// one): a password and a session stolen together cannot add the thief's
/// own phone, nor read new recovery codes.
pub(super) fn require_factor_step_up(
    pass: &Passage<'_>,
    services: &Services,
) -> Result<(), DomainError> {
    let session = &pass.staff()?.session;
    let fresh = session.step_up_by_factor
        && session
            .step_up_at
            .is_some_and(|at| at.plus(services.auth.step_up_ttl) > Timestamp::now());
    if fresh {
        Ok(())
    } else {
        Err(DomainError::refused(
            RefusalKind::Forbidden,
            "second_factor_step_up_required",
            "confirm with a code from your authenticator app or a passkey first: a password alone cannot change your second factors",
        ))
    }
}

/// Opens the session a login that used a second factor earned, and ends
/// the act in `tx` with `detail`. Such a login counts as a step-up made
/// with the factor: someone who signed in with a recovery code can replace
/// the phone they lost at once.
pub(super) async fn signed_in_with_factor(
    services: &Services,
    pass: &mut Passage<'_>,
    mut tx: crate::storage::TenantTx,
    member: crate::staff::store::StaffMember,
    kind: SessionKind,
    detail: String,
) -> Result<IssuedSession, DomainError> {
    let ttl = match kind {
        SessionKind::Cookie => services.auth.cookie_session_ttl,
        SessionKind::Bearer => services.auth.bearer_token_ttl,
    };
    let created = sessions::create(&mut tx, member.id, kind, ttl).await?;
    sessions::mark_step_up(&mut tx, &created.id, sessions::StepUpBy::SecondFactor).await?;
    pass.as_actor(crate::audit::Actor::Staff(member.id));
    pass.detail(detail);
    pass.commit(tx).await?;
    Ok(IssuedSession {
        token: created.token,
        csrf_token: created.csrf_token,
        expires_at: created.expires_at,
        staff: member,
    })
}

impl Services {
    /// The staff member's own factors.
    pub async fn staff_factors(&self, caller: &Caller) -> Result<StaffFactors, DomainError> {
        let pass = self.enter(caller, &acts::STAFF_FACTORS).await?;
        let done = async {
            let holder = Holder::Staff(pass.staff_id()?);
            let mut tx = pass.read().await?;
            let factors = store::list(&mut tx, holder).await?;
            let recovery_codes_left = store::recovery_codes_left(&mut tx, holder).await?;
            tx.commit().await?;
            Ok(StaffFactors {
                factors,
                recovery_codes_left,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Starts setting up an authenticator app: a new secret, for the QR
    /// code and the text. Nothing counts until [`Services::staff_totp_confirm`].
    pub async fn staff_totp_begin(
        &self,
        caller: &Caller,
        name: &DisplayName,
    ) -> Result<TotpSetup, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_TOTP_BEGIN).await?;
        let done = async {
            let me = pass.staff_id()?;
            let holder = Holder::Staff(me);
            let mut tx = pass.read().await?;
            let member = staff_store::get(&mut tx, me).await?;
            let has_factor = !store::list(&mut tx, holder).await?.is_empty();
            tx.commit().await?;
            if has_factor {
                pass.escalate(&acts::STAFF_FACTOR_BEGIN_ANOTHER).await?;
                require_factor_step_up(&pass, self)?;
            }
            let (member, _) = member.ok_or(DomainError::InvalidToken)?;
            let secret = TotpSecret::generate();
            let tenant = pass.tenant();
            let mut tx = pass.write().await?;
            let factor_id = store::begin_totp(
                &mut tx,
                holder,
                name,
                &secret.seal(&self.code_key, tenant.id),
            )
            .await?;
            pass.commit(tx).await?;
            Ok(TotpSetup {
                factor_id,
                enrolment: secret.enrolment(tenant.display_name.as_str(), member.email.as_str()),
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Finishes an authenticator-app setup with a code from the app. The
    /// first factor comes with ten recovery codes.
    pub async fn staff_totp_confirm(
        &self,
        caller: &Caller,
        factor: FactorId,
        code: &TotpCode,
    ) -> Result<FactorAdded, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_FACTOR_ADD).await?;
        let done = async {
            let holder = Holder::Staff(pass.staff_id()?);
            let (waiting, first) = waiting_setup(&mut pass, holder, factor).await?;
            if !first {
                require_factor_step_up(&pass, self)?;
            }
            let tx = confirm_setup(self, &mut pass, &waiting, code).await?;
            factor_added(self, &mut pass, tx, holder, factor, first).await
        }
        .await;
        pass.finish(done).await
    }

    pub async fn staff_factor_rename(
        &self,
        caller: &Caller,
        factor: FactorId,
        name: &DisplayName,
    ) -> Result<(), DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_FACTOR_RENAME).await?;
        let done = async {
            let holder = Holder::Staff(pass.staff_id()?);
            pass.target(format!("factor:{factor}"));
            let mut tx = pass.write().await?;
            if !store::rename(&mut tx, holder, factor, name).await? {
                return Err(DomainError::NotFound("factor"));
            }
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// Removes one of the staff member's factors. Where the clinic
    /// requires a second factor, the last one stays until another is added.
    pub async fn staff_factor_remove(
        &self,
        caller: &Caller,
        factor: FactorId,
    ) -> Result<(), DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_FACTOR_REMOVE).await?;
        let done = async {
            let holder = Holder::Staff(pass.staff_id()?);
            pass.target(format!("factor:{factor}"));
            let required = pass.tenant().settings.staff_second_factor_required;
            require_factor_step_up(&pass, self)?;
            let mut tx = pass.write().await?;
            let factors = store::list(&mut tx, holder).await?;
            let Some(removed) = factors.iter().find(|f| f.id == factor) else {
                return Err(DomainError::NotFound("factor"));
            };
            if required && factors.len() == 1 {
                return Err(DomainError::Conflict {
                    code: "last_factor",
                    message: "your clinic requires a second factor: add another one before removing this one".into(),
                });
            }
            pass.detail(format!("kind={}", removed.kind.as_str()));
            store::remove(&mut tx, holder, factor).await?;
            if factors.len() == 1 {
                // No factor left: the recovery codes would be a factor of
                // their own.
                store::replace_recovery_codes(&mut tx, holder, &[]).await?;
            }
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// Ten new recovery codes; the old ones stop working.
    pub async fn staff_recovery_codes_renew(
        &self,
        caller: &Caller,
    ) -> Result<Vec<RecoveryCode>, DomainError> {
        let mut pass = self
            .enter(caller, &acts::STAFF_RECOVERY_CODES_RENEW)
            .await?;
        let done = async {
            let holder = Holder::Staff(pass.staff_id()?);
            require_factor_step_up(&pass, self)?;
            renew_recovery_codes(self, &mut pass, holder).await
        }
        .await;
        pass.finish(done).await
    }

    /// The second step of a login: a code from the staff member's app, or
    /// one of their recovery codes, for the login `pending` stands for.
    pub async fn staff_login_second_step(
        &self,
        caller: &Caller,
        pending: &SecretToken,
        answer: &SecondFactorAnswer,
        kind: SessionKind,
    ) -> Result<IssuedSession, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_LOGIN_SECOND_STEP).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let waiting = factors::find_pending(&mut tx, pending).await?;
            tx.commit().await?;
            let waiting = waiting
                .filter(|w| w.session_kind == Some(kind))
                .ok_or_else(login_expired)?;
            let Holder::Staff(staff_id) = waiting.holder else {
                return Err(login_expired());
            };
            pass.target(format!("staff:{staff_id}"));
            pass.throttle_account(&staff_id.to_string()).await?;
            let mut tx = pass.read().await?;
            let member = staff_store::get(&mut tx, staff_id).await?;
            tx.commit().await?;
            let member = match member {
                Some((m, _)) if m.status == StaffStatus::Active => m,
                _ => return Err(login_expired()),
            };
            let checked =
                check_answer(self, &mut pass, Holder::Staff(staff_id), answer, None).await?;
            let mut tx = pass.write().await?;
            if !factors::spend_pending(&mut tx, &waiting.id).await? {
                return Err(login_expired());
            }
            let method =
                spend_answer(self, &mut pass, &mut tx, Holder::Staff(staff_id), checked).await?;
            let detail = format!("{} {method}", kind.as_str());
            signed_in_with_factor(self, &mut pass, tx, member, kind, detail).await
        }
        .await;
        pass.finish(done).await
    }

    /// A step-up with a code from the staff member's authenticator app in
    /// place of the password.
    pub async fn staff_step_up_with_code(
        &self,
        caller: &Caller,
        code: &TotpCode,
    ) -> Result<Timestamp, DomainError> {
        let mut pass = self
            .enter(caller, &acts::STAFF_STEP_UP_SECOND_FACTOR)
            .await?;
        let done = async {
            let who = pass.staff()?;
            let holder = Holder::Staff(who.staff_id());
            let answer = SecondFactorAnswer::Totp(code.clone());
            let checked = check_answer(self, &mut pass, holder, &answer, None).await?;
            let mut tx = pass.write().await?;
            let method = spend_answer(self, &mut pass, &mut tx, holder, checked).await?;
            let at =
                sessions::mark_step_up(&mut tx, &who.session.id, sessions::StepUpBy::SecondFactor)
                    .await?;
            pass.detail(method);
            pass.commit(tx).await?;
            Ok(at.plus(self.auth.step_up_ttl))
        }
        .await;
        pass.finish(done).await
    }

    /// An owner clears a colleague's second factors and recovery codes
    /// (a lost phone): their sessions end, and where the clinic requires
    /// a factor they set up a new one at their next login.
    pub async fn staff_factors_reset(
        &self,
        caller: &Caller,
        staff: StaffId,
    ) -> Result<u64, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::STAFF_FACTORS_RESET, format!("staff:{staff}"))
            .await?;
        let done = async {
            if pass.staff_id().ok() == Some(staff) {
                return Err(DomainError::Conflict {
                    code: "own_account",
                    message: "you cannot reset your own second factors; remove one from your account page, or ask another owner".into(),
                });
            }
            let mut tx = pass.read().await?;
            let target = staff_store::get(&mut tx, staff).await?;
            tx.commit().await?;
            if target.is_none() {
                return Err(DomainError::NotFound("staff member"));
            }
            // Only an owner resets an owner.
            let owner = RoleName::builtin(BuiltinRole::Owner);
            if self.authz.roles_of(pass.tenant(), staff).await?.contains(&owner) {
                self.guard_owner_role(&pass, &owner).await?;
            }
            self.clear_factors(&mut pass, staff).await
        }
        .await;
        pass.finish(done).await
    }

    /// The operator's command line resets the factors of the staff member
    /// with `email` (an owner who lost their phone and has no other owner).
    pub async fn staff_factors_reset_by_operator(
        &self,
        caller: &Caller,
        email: &EmailAddress,
    ) -> Result<u64, DomainError> {
        let mut pass = self
            .enter(caller, &acts::STAFF_FACTORS_RESET_BY_OPERATOR)
            .await?;
        let done = async {
            let mut tx = pass.read().await?;
            let found = staff_store::find_by_email(&mut tx, email).await?;
            tx.commit().await?;
            let (member, _) = found.ok_or(DomainError::NotFound("staff member"))?;
            pass.target(format!("staff:{}", member.id));
            self.clear_factors(&mut pass, member.id).await
        }
        .await;
        pass.finish(done).await
    }

    /// Removes every factor and recovery code of `staff`, ends their
    /// sessions and forgets their misses, in the act's transaction.
    async fn clear_factors(
        &self,
        pass: &mut Passage<'_>,
        staff: StaffId,
    ) -> Result<u64, DomainError> {
        let mut tx = pass.write().await?;
        let removed = store::remove_all(&mut tx, Holder::Staff(staff)).await?;
        sessions::revoke_all_for(&mut tx, staff, None).await?;
        // A person locked out by too many wrong codes starts afresh.
        for bucket in factor_buckets(self, Holder::Staff(staff)) {
            crate::auth::throttle_clear(&mut tx, &bucket).await?;
        }
        pass.detail(format!("factors_removed={removed}"));
        pass.commit(tx).await?;
        Ok(removed)
    }
}
