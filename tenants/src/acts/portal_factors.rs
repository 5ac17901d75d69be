//! A patient's two-step sign-in: the second step at login (a code from an
//! authenticator app, a code by email, a passkey, a recovery code), signing
//! in with a passkey alone, devices trusted for 30 days, and the account
//! page's acts that set it up. Every change asks for the password again.

use serde_json::json;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential, Uuid};

use crate::acts;
use crate::acts::grants::today_at;
use crate::audit::Actor;
use crate::auth::SecretToken;
use crate::domain::{AccountId, DisplayName, FactorId, PlainPassword, Timestamp};
use crate::door::{Caller, Passage};
use crate::error::{DomainError, RefusalKind};
use crate::factors::devices::{self, DeviceTrusted, TrustedDevice};
use crate::factors::email_code::{self, EmailCode};
use crate::factors::passkey::{self, Purpose, RelyingParty};
use crate::factors::{
    self, FactorKind, FactorSummary, Holder, PendingLogin, RecoveryCode, SecondFactorAnswer,
    TotpCode, TotpSecret, store,
};
use crate::family::ClinicDay;
use crate::outbox::{self, MailKind};
use crate::portal::accounts::{self, PortalAccount};
use crate::portal::grants;
use crate::services::Services;
use crate::sessions::portal as sessions;
use crate::storage::TenantTx;

use super::factors::{
    FactorAdded, TotpSetup, check_answer, confirm_setup, factor_added, login_expired,
    renew_recovery_codes, spend_answer, waiting_setup,
};
use super::passkeys::{
    ChallengeFor, PasskeyOptions, begin_registration, challenge_for, finish_registration,
    passkeys_of, sign_in_challenge, spend_challenge_budget, take_ceremony, verify,
};
use super::portal_login::PortalSessionIssued;

/// Sign-in codes one account may be mailed in 15 minutes: enough to ask
/// again a few times, too few to fill a mailbox for someone who knows the
/// password.
const EMAIL_CODES_PER_WINDOW: u32 = 5;
const EMAIL_CODE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A patient's two-step settings, as their account page shows them.
#[derive(Debug)]
pub struct PortalFactors {
    pub factors: Vec<FactorSummary>,
    /// Codes by email at each sign-in: chosen, or the clinic's requirement
    /// with nothing else set up.
    pub email_codes: bool,
    pub email_codes_chosen: bool,
    pub required_by_clinic: bool,
    pub recovery_codes_left: u32,
    pub trusted_devices: Vec<TrustedDevice>,
}

/// A login whose password was right and whose second step is to come.
#[derive(Debug)]
pub struct PortalSecondStep {
    pub pending: PendingLogin,
    /// Where a code by email goes, masked: `m•••@example.org`.
    pub email_hint: Option<String>,
    /// A code was mailed already (email is the patient's only second step).
    pub email_code_sent: bool,
}

/// What a right password opens.
#[derive(Debug)]
pub enum PortalSignIn {
    Signed(PortalSessionIssued),
    SecondStep(PortalSecondStep),
}

/// A finished second step: the session, and the token of a device the
/// patient chose to trust (for its cookie).
#[derive(Debug)]
pub struct PortalSecondStepDone {
    pub session: PortalSessionIssued,
    pub trusted: Option<DeviceTrusted>,
}

/// The methods of a patient's second step, by what they set up and what
/// their clinic requires; empty when they sign in with the password alone.
pub(super) async fn second_step_methods(
    tx: &mut TenantTx,
    account: &PortalAccount,
    required_by_clinic: bool,
) -> Result<Vec<&'static str>, DomainError> {
    let holder = Holder::Account(account.id);
    let factors = store::list(tx, holder).await?;
    let mut methods = Vec::new();
    for kind in [FactorKind::Totp, FactorKind::Passkey] {
        if factors.iter().any(|f| f.kind == kind) {
            methods.push(kind.as_str());
        }
    }
    if account.email_second_step || (required_by_clinic && factors.is_empty()) {
        methods.push("email_code");
    }
    if !factors.is_empty() && store::recovery_codes_left(tx, holder).await? > 0 {
        methods.push("recovery_code");
    }
    Ok(methods)
}

/// `m•••@example.org`: enough to recognise one's address, not to learn it.
pub fn email_hint(email: &crate::domain::EmailAddress) -> String {
    let (local, domain) = email.as_str().split_once('@').unwrap_or(("", ""));
    let first: String = local.chars().take(1).collect();
    format!("{first}•••@{domain}")
}

/// Opens a portal session for `account` in `tx`, showing its first record.
pub(super) async fn open_session(
    services: &Services,
    tx: &mut TenantTx,
    day: &ClinicDay,
    account: PortalAccount,
) -> Result<PortalSessionIssued, DomainError> {
    let first = grants::live_for_account(tx, account.id, day)
        .await?
        .first()
        .map(|g| g.patient_id);
    let created = sessions::create(tx, account.id, first, services.auth.portal_session_ttl).await?;
    Ok(PortalSessionIssued {
        token: created.token,
        csrf_token: created.csrf_token,
        expires_at: created.expires_at,
        account,
    })
}

/// Mails a fresh sign-in code for the waiting login `pending` in `tx`,
/// within the account's budget.
pub(super) async fn mail_sign_in_code(
    services: &Services,
    pass: &mut Passage<'_>,
    tx: &mut TenantTx,
    account: &PortalAccount,
    pending: &str,
) -> Result<Timestamp, DomainError> {
    let since = Timestamp::now().minus(EMAIL_CODE_WINDOW);
    if email_code::sent_since(tx, account.id, since).await? >= EMAIL_CODES_PER_WINDOW {
        pass.failure_reason("email_code_budget_spent");
        return Err(DomainError::RateLimited {
            retry_after: EMAIL_CODE_WINDOW,
        });
    }
    let code = EmailCode::generate();
    let expires_at = email_code::store(tx, &services.code_key, account.id, pending, &code).await?;
    let tenant = pass.tenant();
    outbox::enqueue(
        tx,
        MailKind::SignInCode,
        &account.email,
        None,
        outbox::with_sealed_secrets(
            &services.code_key,
            tenant.id,
            json!({
                "clinic_name": tenant.display_name.as_str(),
                "username": account.username.as_str(),
                "code": code.expose(),
                "expires_at": expires_at.to_rfc3339(),
            }),
        ),
    )
    .await?;
    Ok(expires_at)
}

/// The account a waiting login stands for, if it is a patient's and live.
async fn waiting_account(
    pass: &Passage<'_>,
    pending: &SecretToken,
) -> Result<(String, PortalAccount), DomainError> {
    let mut tx = pass.read().await?;
    let waiting = factors::find_pending(&mut tx, pending).await?;
    let found = match &waiting {
        Some(w) => match w.holder {
            Holder::Account(id) if w.session_kind.is_none() => accounts::get(&mut tx, id).await?,
            _ => None,
        },
        None => None,
    };
    tx.commit().await?;
    match (waiting, found) {
        (Some(w), Some((account, _))) => Ok((w.id, account)),
        _ => Err(login_expired()),
    }
}

fn wrong_kind_of_challenge() -> DomainError {
    DomainError::refused(
        RefusalKind::Forbidden,
        "not_for_patients",
        "a patient confirms changes with their password, not a passkey",
    )
}

impl Services {
    /// The account's factors, codes by email, recovery codes and trusted
    /// devices.
    pub async fn portal_factors(&self, caller: &Caller) -> Result<PortalFactors, DomainError> {
        let pass = self.enter(caller, &acts::PORTAL_FACTORS).await?;
        let done = async {
            let account_id = pass.account_id()?;
            let holder = Holder::Account(account_id);
            let required_by_clinic = pass.tenant().settings.patient_second_factor_required;
            let mut tx = pass.read().await?;
            let (account, _) = accounts::get(&mut tx, account_id)
                .await?
                .ok_or(DomainError::InvalidToken)?;
            let factors = store::list(&mut tx, holder).await?;
            let recovery_codes_left = store::recovery_codes_left(&mut tx, holder).await?;
            let trusted_devices = devices::list(&mut tx, account_id).await?;
            tx.commit().await?;
            Ok(PortalFactors {
                email_codes: account.email_second_step
                    || (required_by_clinic && factors.is_empty()),
                email_codes_chosen: account.email_second_step,
                required_by_clinic,
                factors,
                recovery_codes_left,
                trusted_devices,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Checks the password of the signed-in patient, for an act that
    /// changes their second step.
    async fn recheck_password(
        &self,
        pass: &mut Passage<'_>,
        password: &PlainPassword,
    ) -> Result<PortalAccount, DomainError> {
        let account_id = pass.account_id()?;
        pass.target(format!("account:{account_id}"));
        let mut tx = pass.read().await?;
        let (account, hash) = accounts::get(&mut tx, account_id)
            .await?
            .ok_or(DomainError::InvalidToken)?;
        tx.commit().await?;
        if !pass.verify_password(password, Some(&hash)).await {
            pass.failure_reason("wrong_password");
            return Err(DomainError::InvalidCredentials);
        }
        Ok(account)
    }

    /// Starts setting up an authenticator app.
    pub async fn portal_totp_begin(
        &self,
        caller: &Caller,
        name: &DisplayName,
        password: &PlainPassword,
    ) -> Result<TotpSetup, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_TOTP_BEGIN).await?;
        let done = async {
            let account = self.recheck_password(&mut pass, password).await?;
            let secret = TotpSecret::generate();
            let tenant = pass.tenant();
            let mut tx = pass.write().await?;
            let factor_id = store::begin_totp(
                &mut tx,
                Holder::Account(account.id),
                name,
                &secret.seal(&self.code_key, tenant.id),
            )
            .await?;
            pass.commit(tx).await?;
            Ok(TotpSetup {
                factor_id,
                enrolment: secret
                    .enrolment(tenant.display_name.as_str(), account.username.as_str()),
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Finishes an authenticator-app setup with a code from the app.
    pub async fn portal_totp_confirm(
        &self,
        caller: &Caller,
        factor: FactorId,
        code: &TotpCode,
    ) -> Result<FactorAdded, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_FACTOR_ADD).await?;
        let done = async {
            let account = pass.account_id()?;
            let holder = Holder::Account(account);
            let (waiting, first) = waiting_setup(&mut pass, holder, factor).await?;
            let mut tx = confirm_setup(self, &mut pass, &waiting, code).await?;
            self.first_factor_ends_other_sessions(&pass, &mut tx, account, first)
                .await?;
            factor_added(self, &mut pass, tx, holder, factor, first).await
        }
        .await;
        pass.finish(done).await
    }

    /// With the first factor, every other session of the account ends:
    /// from now on each one must have passed the second step.
    async fn first_factor_ends_other_sessions(
        &self,
        pass: &Passage<'_>,
        tx: &mut TenantTx,
        account: AccountId,
        first: bool,
    ) -> Result<(), DomainError> {
        if first {
            let keep = &pass.patient()?.session.id;
            sessions::revoke_others_of(tx, account, keep).await?;
        }
        Ok(())
    }

    /// Starts registering a passkey.
    pub async fn portal_passkey_begin(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
        password: &PlainPassword,
    ) -> Result<PasskeyOptions, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_PASSKEY_BEGIN).await?;
        let done = async {
            let account = self.recheck_password(&mut pass, password).await?;
            let login = account.username.as_str();
            begin_registration(&mut pass, rp, Holder::Account(account.id), login, login).await
        }
        .await;
        pass.finish(done).await
    }

    /// Keeps the passkey the browser made.
    pub async fn portal_passkey_finish(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
        ceremony: Uuid,
        name: &DisplayName,
        answer: &RegisterPublicKeyCredential,
    ) -> Result<FactorAdded, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_PASSKEY_ADD).await?;
        let done = async {
            let account = pass.account_id()?;
            let holder = Holder::Account(account);
            let (credential, passkey) =
                finish_registration(&pass, rp, holder, ceremony, answer).await?;
            let mut tx = pass.write().await?;
            let first = store::list(&mut tx, holder).await?.is_empty();
            let id = store::insert_passkey(&mut tx, holder, name, &credential, &passkey).await?;
            self.first_factor_ends_other_sessions(&pass, &mut tx, account, first)
                .await?;
            factor_added(self, &mut pass, tx, holder, id, first).await
        }
        .await;
        pass.finish(done).await
    }

    /// Turns codes by email at each sign-in on or off. Turning them on
    /// needs a proven address: the code must reach the patient.
    pub async fn portal_set_email_codes(
        &self,
        caller: &Caller,
        on: bool,
        password: &PlainPassword,
    ) -> Result<(), DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_EMAIL_SECOND_STEP).await?;
        let done = async {
            let account = self.recheck_password(&mut pass, password).await?;
            if on && account.email_verified_at.is_none() {
                return Err(DomainError::Conflict {
                    code: "email_not_confirmed",
                    message: "confirm your email address first, with the link the clinic mailed you, so that codes reach you".into(),
                });
            }
            let mut tx = pass.write().await?;
            accounts::set_email_second_step(&mut tx, account.id, on).await?;
            if on && !account.email_second_step {
                sessions::revoke_others_of(&mut tx, account.id, &pass.patient()?.session.id)
                    .await?;
            }
            pass.detail(if on { "on" } else { "off" });
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// Removes an authenticator app or a passkey. With none left, the
    /// recovery codes go too.
    pub async fn portal_factor_remove(
        &self,
        caller: &Caller,
        factor: FactorId,
        password: &PlainPassword,
    ) -> Result<(), DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_FACTOR_REMOVE).await?;
        let done = async {
            let account = self.recheck_password(&mut pass, password).await?;
            let holder = Holder::Account(account.id);
            pass.target(format!("factor:{factor}"));
            let mut tx = pass.write().await?;
            let factors = store::list(&mut tx, holder).await?;
            let Some(removed) = factors.iter().find(|f| f.id == factor) else {
                return Err(DomainError::NotFound("factor"));
            };
            pass.detail(format!("kind={}", removed.kind.as_str()));
            store::remove(&mut tx, holder, factor).await?;
            if factors.len() == 1 {
                store::replace_recovery_codes(&mut tx, holder, &[]).await?;
            }
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// Ten new recovery codes; the old ones stop working.
    pub async fn portal_recovery_codes_renew(
        &self,
        caller: &Caller,
        password: &PlainPassword,
    ) -> Result<Vec<RecoveryCode>, DomainError> {
        let mut pass = self
            .enter(caller, &acts::PORTAL_RECOVERY_CODES_RENEW)
            .await?;
        let done = async {
            let account = self.recheck_password(&mut pass, password).await?;
            renew_recovery_codes(self, &mut pass, Holder::Account(account.id)).await
        }
        .await;
        pass.finish(done).await
    }

    /// Stops trusting one device: its next sign-in asks for the second
    /// step again.
    pub async fn portal_trusted_device_revoke(
        &self,
        caller: &Caller,
        device: &str,
    ) -> Result<(), DomainError> {
        let mut pass = self
            .enter(caller, &acts::PORTAL_TRUSTED_DEVICE_REVOKE)
            .await?;
        let done = async {
            let account = pass.account_id()?;
            pass.target(format!("device:{device}"));
            let mut tx = pass.write().await?;
            if !devices::revoke(&mut tx, account, device).await? {
                return Err(DomainError::NotFound("trusted device"));
            }
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// Mails a sign-in code for a login waiting for its second step.
    pub async fn portal_send_sign_in_code(
        &self,
        caller: &Caller,
        pending: &SecretToken,
    ) -> Result<(String, Timestamp), DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_LOGIN_EMAIL_CODE).await?;
        let done = async {
            let (waiting, account) = waiting_account(&pass, pending).await?;
            pass.target(format!("account:{}", account.id));
            let required = pass.tenant().settings.patient_second_factor_required;
            let mut tx = pass.write().await?;
            if !second_step_methods(&mut tx, &account, required)
                .await?
                .contains(&"email_code")
            {
                return Err(DomainError::Conflict {
                    code: "email_codes_off",
                    message: "codes by email are not among your ways to sign in: use your authenticator app, a passkey or a recovery code".into(),
                });
            }
            let expires_at = mail_sign_in_code(self, &mut pass, &mut tx, &account, &waiting).await?;
            pass.commit(tx).await?;
            Ok((email_hint(&account.email), expires_at))
        }
        .await;
        pass.finish(done).await
    }

    /// The second step of a patient's login: a code from their app or from
    /// the mail, or a recovery code. `trust` keeps this browser trusted
    /// for 30 days.
    pub async fn portal_login_second_step(
        &self,
        caller: &Caller,
        pending: &SecretToken,
        answer: &SecondFactorAnswer,
        trust: bool,
    ) -> Result<PortalSecondStepDone, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_LOGIN_SECOND_STEP).await?;
        let done = async {
            let (waiting, account) = waiting_account(&pass, pending).await?;
            let holder = Holder::Account(account.id);
            pass.target(format!("account:{}", account.id));
            pass.throttle_account(&account.id.to_string()).await?;
            let required = pass.tenant().settings.patient_second_factor_required;
            let mut tx = pass.read().await?;
            let methods = second_step_methods(&mut tx, &account, required).await?;
            tx.commit().await?;
            let mailed_for = methods.contains(&"email_code").then_some(waiting.as_str());
            let checked = check_answer(self, &mut pass, holder, answer, mailed_for).await?;
            let mut tx = pass.write().await?;
            if !factors::spend_pending(&mut tx, &waiting).await? {
                return Err(login_expired());
            }
            let method = spend_answer(self, &mut pass, &mut tx, holder, checked).await?;
            self.finish_second_step(&mut pass, tx, account, method, trust)
                .await
        }
        .await;
        pass.finish(done).await
    }

    /// Opens the session a second step earned, trusting the device if
    /// asked, and ends the act.
    async fn finish_second_step(
        &self,
        pass: &mut Passage<'_>,
        mut tx: TenantTx,
        account: PortalAccount,
        method: String,
        trust: bool,
    ) -> Result<PortalSecondStepDone, DomainError> {
        let account_id = account.id;
        let session = open_session(self, &mut tx, &today_at(pass.tenant()), account).await?;
        let trusted = match trust {
            true => {
                let label = devices::label_of(pass.client().user_agent.as_deref());
                Some(devices::trust(&mut tx, account_id, &label).await?)
            }
            false => None,
        };
        pass.as_actor(Actor::Account(account_id));
        pass.detail(format!(
            "{method}{}",
            if trust { " device_trusted" } else { "" }
        ));
        pass.commit(tx).await?;
        Ok(PortalSecondStepDone { session, trusted })
    }

    /// A challenge for a passkey: to sign in with it alone, or at a
    /// login's second step.
    pub async fn portal_passkey_challenge(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
        purpose: ChallengeFor<'_>,
    ) -> Result<PasskeyOptions, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_PASSKEY_CHALLENGE).await?;
        let done = async {
            spend_challenge_budget(&pass).await?;
            match purpose {
                ChallengeFor::SignIn => sign_in_challenge(&mut pass, rp).await,
                ChallengeFor::SecondStep(pending) => {
                    let (_, account) = waiting_account(&pass, pending).await?;
                    let holder = Holder::Account(account.id);
                    challenge_for(&mut pass, rp, holder, Purpose::SecondStep).await
                }
                ChallengeFor::StepUp => Err(wrong_kind_of_challenge()),
            }
        }
        .await;
        pass.finish(done).await
    }

    /// Signs in with a passkey alone: it proves the device, and its PIN or
    /// fingerprint the person, so no password and no second step.
    pub async fn portal_login_passkey(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
        ceremony: Uuid,
        answer: &PublicKeyCredential,
    ) -> Result<PortalSessionIssued, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_LOGIN_PASSKEY).await?;
        let done = async {
            let state = take_ceremony(&pass, ceremony, None, Purpose::SignIn).await?;
            let Some(account_id) = RelyingParty::identify(answer)
                .and_then(|(handle, _)| passkey::account_of_handle(handle))
            else {
                pass.secret_missed("unknown_passkey");
                return Err(DomainError::WrongSecondFactor);
            };
            let holder = Holder::Account(account_id);
            let used = answer.get_credential_id();
            // The user handle is not signed: until the credential is known
            // to be this account's, a miss counts against the address only.
            let Some((id, mut passkey)) = passkeys_of(&pass, holder)
                .await?
                .into_iter()
                .find(|(_, p)| p.cred_id().as_slice() == used)
            else {
                pass.secret_missed("unknown_passkey");
                return Err(DomainError::WrongSecondFactor);
            };
            pass.target(format!("account:{account_id}"));
            pass.throttle_account(&account_id.to_string()).await?;
            let Ok(result) = rp.finish_sign_in(answer, state, &passkey) else {
                pass.secret_missed("wrong_passkey");
                return Err(DomainError::WrongSecondFactor);
            };
            passkey.update_credential(&result);
            let mut tx = pass.write().await?;
            let (account, _) = accounts::get(&mut tx, account_id)
                .await?
                .ok_or(DomainError::NotFound("account"))?;
            store::update_passkey(
                &mut tx,
                id,
                &serde_json::to_string(&passkey).expect("serialises"),
            )
            .await?;
            let session = open_session(self, &mut tx, &today_at(pass.tenant()), account).await?;
            pass.as_actor(Actor::Account(account_id));
            pass.detail(format!("method=passkey factor={id}"));
            pass.commit(tx).await?;
            Ok(session)
        }
        .await;
        pass.finish(done).await
    }

    /// The second step of a patient's login, with a passkey.
    pub async fn portal_login_second_step_passkey(
        &self,
        caller: &Caller,
        rp: &RelyingParty,
        pending: &SecretToken,
        ceremony: Uuid,
        answer: &PublicKeyCredential,
        trust: bool,
    ) -> Result<PortalSecondStepDone, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_LOGIN_SECOND_STEP).await?;
        let done = async {
            let (waiting, account) = waiting_account(&pass, pending).await?;
            let holder = Holder::Account(account.id);
            pass.target(format!("account:{}", account.id));
            pass.throttle_account(&account.id.to_string()).await?;
            let (id, passkey) =
                verify(&mut pass, rp, holder, ceremony, Purpose::SecondStep, answer).await?;
            let mut tx = pass.write().await?;
            store::update_passkey(&mut tx, id, &passkey).await?;
            if !factors::spend_pending(&mut tx, &waiting).await? {
                return Err(login_expired());
            }
            self.finish_second_step(
                &mut pass,
                tx,
                account,
                format!("method=passkey factor={id}"),
                trust,
            )
            .await
        }
        .await;
        pass.finish(done).await
    }
}

impl Services {
    /// Staff clear the two-step sign-in of the portal account that holds
    /// `grant` (its apps, passkeys, recovery codes, codes by email and
    /// trusted devices) for a patient who lost their phone and their
    /// recovery codes. The account's sessions end; its next sign-in needs
    /// the password alone (or a code by email, where the clinic requires a
    /// second step). Answers how many factors went.
    pub async fn portal_factors_reset(
        &self,
        caller: &Caller,
        grant: crate::domain::GrantId,
    ) -> Result<u64, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_FACTORS_RESET,
                format!("grant:{grant}"),
            )
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            let found = grants::get(&mut tx, grant)
                .await?
                .ok_or(DomainError::NotFound("grant"))?;
            let account = found.account_id;
            pass.target(format!("patient:{}", found.patient_id));
            let holder = Holder::Account(account);
            let removed = store::remove_all(&mut tx, holder).await?;
            accounts::set_email_second_step(&mut tx, account, false).await?;
            let devices = devices::revoke_all(&mut tx, account).await?;
            sessions::revoke_all_for(&mut tx, account).await?;
            for bucket in super::factors::factor_buckets(self, holder) {
                crate::auth::throttle_clear(&mut tx, &bucket).await?;
            }
            pass.detail(format!(
                "account={account} factors_removed={removed} trusted_devices_revoked={devices}"
            ));
            pass.commit(tx).await?;
            Ok(removed)
        }
        .await;
        pass.finish(done).await
    }
}

#[cfg(test)]
mod tests {
    use super::email_hint;
    use crate::domain::EmailAddress;

    #[test]
    fn the_hint_shows_the_first_letter_and_the_domain() {
        let email = EmailAddress::parse("mia.wong@example.org").unwrap();
        assert_eq!(email_hint(&email), "m•••@example.org");
    }
}
