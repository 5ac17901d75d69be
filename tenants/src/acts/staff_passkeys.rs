//! Staff passkeys: registering one, signing in with one alone, using one
//! at a login's second step, and confirming with one for a sensitive act.
//! Each ceremony is two requests: a challenge ([`PasskeyOptions`]), then
//! the browser's answer.

use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential, Uuid};

use crate::acts;
use crate::auth::SecretToken;
use crate::domain::{DisplayName, StaffId, Timestamp};
use crate::door::{Caller, Passage};
use crate::error::DomainError;
use crate::factors::passkey::{self, Purpose, RelyingParty};
use crate::factors::{self, Holder, store};
use crate::services::Services;
use crate::sessions::staff::{self as sessions, SessionKind};
use crate::staff::store::{self as staff_store, StaffMember, StaffStatus};

use super::factors::{FactorAdded, factor_added, login_expired};
use super::passkeys::{
    ChallengeFor, PasskeyOptions, begin_registration, challenge_for, finish_registration,
    passkeys_of, sign_in_challenge, spend_challenge_budget, take_ceremony, verify,
};
use super::staff::IssuedSession;
use super::staff_factors::signed_in_with_factor;

async fn active_member(
    pass: &Passage<'_>,
    staff: StaffId,
) -> Result<Option<StaffMember>, DomainError> {
    let mut tx = pass.read().await?;
    let found = staff_store::get(&mut tx, staff).await?;
    tx.commit().await?;
    Ok(found
        .map(|(m, _)| m)
        .filter(|m| m.status == StaffStatus::Active))
}

impl Services {
    /// Starts registering a passkey for the signed-in staff member. Once
    /// they have a factor, a fresh step-up is needed, as for an app.
    pub async fn staff_passkey_begin(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
    ) -> Result<PasskeyOptions, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_PASSKEY_BEGIN).await?;
        let done = async {
            let me = pass.staff_id()?;
            let holder = Holder::Staff(me);
            let mut tx = pass.read().await?;
            let member = staff_store::get(&mut tx, me).await?;
            let has_factor = !store::list(&mut tx, holder).await?.is_empty();
            tx.commit().await?;
            if has_factor {
                pass.escalate(&acts::STAFF_FACTOR_BEGIN_ANOTHER).await?;
                super::staff_factors::require_factor_step_up(&pass, self)?;
            }
            let (member, _) = member.ok_or(DomainError::InvalidToken)?;
            begin_registration(
                &mut pass,
                rp,
                holder,
                member.email.as_str(),
                member.display_name.as_str(),
            )
            .await
        }
        .await;
        pass.finish(done).await
    }

    /// Keeps the passkey the browser made. A first factor comes with ten
    /// recovery codes.
    pub async fn staff_passkey_finish(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
        ceremony: Uuid,
        name: &DisplayName,
        answer: &RegisterPublicKeyCredential,
    ) -> Result<FactorAdded, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_PASSKEY_ADD).await?;
        let done = async {
            let holder = Holder::Staff(pass.staff_id()?);
            let (credential, passkey) =
                finish_registration(&pass, rp, holder, ceremony, answer).await?;
            let mut tx = pass.read().await?;
            let first = store::list(&mut tx, holder).await?.is_empty();
            tx.commit().await?;
            if !first {
                super::staff_factors::require_factor_step_up(&pass, self)?;
            }
            let mut tx = pass.write().await?;
            let id = store::insert_passkey(&mut tx, holder, name, &credential, &passkey).await?;
            factor_added(self, &mut pass, tx, holder, id, first).await
        }
        .await;
        pass.finish(done).await
    }

    /// A challenge for a passkey: to sign in with it alone, at a login's
    /// second step, or for a step-up.
    pub async fn staff_passkey_challenge(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
        purpose: ChallengeFor<'_>,
    ) -> Result<PasskeyOptions, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_PASSKEY_CHALLENGE).await?;
        let done = async {
            if !matches!(purpose, ChallengeFor::StepUp) {
                spend_challenge_budget(&pass).await?;
            }
            match purpose {
                ChallengeFor::SignIn => sign_in_challenge(&mut pass, rp).await,
                ChallengeFor::SecondStep(pending) => {
                    let mut tx = pass.read().await?;
                    let waiting = factors::find_pending(&mut tx, pending).await?;
                    tx.commit().await?;
                    let holder = waiting
                        .filter(|w| w.session_kind == Some(SessionKind::Cookie))
                        .map(|w| w.holder)
                        .ok_or_else(login_expired)?;
                    challenge_for(&mut pass, rp, holder, Purpose::SecondStep).await
                }
                ChallengeFor::StepUp => {
                    let holder = Holder::Staff(pass.staff_id()?);
                    challenge_for(&mut pass, rp, holder, Purpose::StepUp).await
                }
            }
        }
        .await;
        pass.finish(done).await
    }

    /// Signs in with a passkey alone, for a console session: the passkey
    /// proves the device, and its PIN or fingerprint the person.
    pub async fn staff_login_passkey(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
        ceremony: Uuid,
        answer: &PublicKeyCredential,
    ) -> Result<IssuedSession, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_LOGIN_PASSKEY).await?;
        let done = async {
            let state = take_ceremony(&pass, ceremony, None, Purpose::SignIn).await?;
            let Some(staff) = RelyingParty::identify(answer)
                .and_then(|(handle, _)| passkey::staff_of_handle(handle))
            else {
                pass.secret_missed("unknown_passkey");
                return Err(DomainError::WrongSecondFactor);
            };
            let holder = Holder::Staff(staff);
            let mine = passkeys_of(&pass, holder).await?;
            let used = answer.get_credential_id();
            // The user handle is not signed: until the credential is known
            // to be this person's, a miss counts against the address only,
            // so nobody can lock a colleague out by naming them.
            let Some((id, mut passkey)) = mine
                .into_iter()
                .find(|(_, p)| p.cred_id().as_slice() == used)
            else {
                pass.secret_missed("unknown_passkey");
                return Err(DomainError::WrongSecondFactor);
            };
            pass.target(format!("staff:{staff}"));
            pass.throttle_account(&staff.to_string()).await?;
            let Some(member) = active_member(&pass, staff).await? else {
                pass.secret_missed("account_disabled");
                return Err(DomainError::WrongSecondFactor);
            };
            let Ok(result) = rp.finish_sign_in(answer, state, &passkey) else {
                pass.secret_missed("wrong_passkey");
                return Err(DomainError::WrongSecondFactor);
            };
            passkey.update_credential(&result);
            let mut tx = pass.write().await?;
            store::update_passkey(
                &mut tx,
                id,
                &serde_json::to_string(&passkey).expect("serialises"),
            )
            .await?;
            let detail = format!("cookie method=passkey factor={id}");
            signed_in_with_factor(self, &mut pass, tx, member, SessionKind::Cookie, detail).await
        }
        .await;
        pass.finish(done).await
    }

    /// The second step of a console login, with a passkey.
    pub async fn staff_login_second_step_passkey(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
        pending: &SecretToken,
        ceremony: Uuid,
        answer: &PublicKeyCredential,
    ) -> Result<IssuedSession, DomainError> {
        let mut pass = self.enter(caller, &acts::STAFF_LOGIN_SECOND_STEP).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let waiting = factors::find_pending(&mut tx, pending).await?;
            tx.commit().await?;
            let waiting = waiting
                .filter(|w| w.session_kind == Some(SessionKind::Cookie))
                .ok_or_else(login_expired)?;
            let Holder::Staff(staff) = waiting.holder else {
                return Err(login_expired());
            };
            pass.target(format!("staff:{staff}"));
            pass.throttle_account(&staff.to_string()).await?;
            let member = active_member(&pass, staff)
                .await?
                .ok_or_else(login_expired)?;
            let (id, passkey) = verify(
                &mut pass,
                rp,
                waiting.holder,
                ceremony,
                Purpose::SecondStep,
                answer,
            )
            .await?;
            let mut tx = pass.write().await?;
            store::update_passkey(&mut tx, id, &passkey).await?;
            if !factors::spend_pending(&mut tx, &waiting.id).await? {
                return Err(login_expired());
            }
            let detail = format!("cookie method=passkey factor={id}");
            signed_in_with_factor(self, &mut pass, tx, member, SessionKind::Cookie, detail).await
        }
        .await;
        pass.finish(done).await
    }

    /// A step-up with a passkey alone.
    pub async fn staff_step_up_with_passkey(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
        ceremony: Uuid,
        answer: &PublicKeyCredential,
    ) -> Result<Timestamp, DomainError> {
        let mut pass = self
            .enter(caller, &acts::STAFF_STEP_UP_SECOND_FACTOR)
            .await?;
        let done = async {
            let who = pass.staff()?;
            let holder = Holder::Staff(who.staff_id());
            let (id, passkey) =
                verify(&mut pass, rp, holder, ceremony, Purpose::StepUp, answer).await?;
            let mut tx = pass.write().await?;
            store::update_passkey(&mut tx, id, &passkey).await?;
            let at =
                sessions::mark_step_up(&mut tx, &who.session.id, sessions::StepUpBy::SecondFactor)
                    .await?;
            pass.detail(format!("method=passkey factor={id}"));
            pass.commit(tx).await?;
            Ok(at.plus(self.auth.step_up_ttl))
        }
        .await;
        pass.finish(done).await
    }
}
