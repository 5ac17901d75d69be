//! Accounts made without a code (online booking, the clinic's registration
//! form), email verification, password reset, and email change.

use serde_json::json;

use crate::acts;
use crate::acts::even_time::{self, EvenTime};
use crate::acts::grants::today_at;
use crate::audit::{self, Actor, AuditEvent};
use crate::auth::{Bucket, SecretToken, ThrottlePolicy};
use crate::domain::{EmailAddress, NewPassword, PatientId, PlainPassword, Timestamp, Username};
use crate::door::{Caller, Passage};
use crate::error::{DomainError, RefusalKind};
use crate::family::Relation;
use crate::outbox::{self, MailKind};
use crate::patients::{PatientRecord, PortalAccess};
use crate::services::Services;
use crate::storage::{StorageError, TenantTx};

use crate::portal::accounts::{self, PortalAccount};
use crate::portal::grants;
use crate::portal::registrations::{self, NewPatientForm, PendingRegistration};
use crate::portal::tokens::{self, Purpose};
use crate::sessions::portal as sessions;

/// What a visitor registering online without a code gives.
#[derive(Debug)]
pub struct Registration {
    /// `None`: the account logs in with its email.
    pub username: Option<Username>,
    pub email: EmailAddress,
    pub password: NewPassword,
    /// The clinic's registration form, for a new patient; `None` for an
    /// account that waits for a code (as when booking online).
    pub new_patient: Option<NewPatientForm>,
}

/// Mail a visitor can make the clinic send to `to` (a registration's, a
/// password reset's): one budget per address, shared by both.
fn visitor_mail_budget(to: &EmailAddress, policy: &ThrottlePolicy) -> Bucket {
    Bucket::account("visitor-mail", &to.normalized(), policy)
}

fn name_taken() -> DomainError {
    DomainError::refused(
        RefusalKind::Conflict,
        "username_taken",
        "Another account already logs in with this name. Choose a username of your own.",
    )
}

impl Services {
    /// Registers online without a code. Nothing is created yet: the
    /// registration waits apart from the clinic's accounts and patients
    /// until the mailed link proves the address, and expires unproven.
    /// The answer is the same whether or not the address already has an
    /// account; if it has, its owner is mailed instead, with a way to log
    /// in. Budgets per client address and per clinic bound how many are
    /// made; one per recipient bounds the mail any one address gets.
    pub async fn portal_register(
        &self,
        caller: &Caller,
        registration: Registration,
    ) -> Result<(), DomainError> {
        let even = EvenTime::from_now(even_time::REGISTRATION);
        let mut pass = match self.enter(caller, &acts::PORTAL_REGISTER).await {
            Ok(pass) => pass,
            Err(refused) => return even.answer(Err(refused)).await,
        };
        let done = async {
            let tenant = pass.tenant();
            if !tenant.settings.self_registration {
                return Err(DomainError::refused(
                    RefusalKind::Forbidden,
                    "registration_closed",
                    format!(
                        "{} does not take registrations online. Ask the clinic for an access code: it comes by \
                         email or on paper, and sets up your account in one step.",
                        tenant.display_name
                    ),
                ));
            }
            let Registration {
                username,
                email,
                password,
                new_patient,
            } = registration;
            // A login name shaped like an address must be the registrant's
            // own: another's would make the answer tell whether it is
            // known.
            let username = username.filter(|u| u.normalized() != email.normalized());
            if username.as_ref().is_some_and(|u| u.as_str().contains('@')) {
                return Err(DomainError::Invalid(crate::domain::InvalidValue::new(
                    "username",
                    "must not be an email address other than your own: choose a name without @, or leave it \
                     empty to log in with your email",
                )));
            }
            let limits = &self.auth.registration;
            let policy = limits.policy();
            let ip = pass.client().ip.clone();
            for budget in [
                Bucket::ip("register", ip.as_deref(), &policy),
                Bucket::named("register-clinic".into(), limits.per_clinic),
            ] {
                if let Err(retry_after) = pass.spend(&budget, &policy).await? {
                    pass.failure_reason("registration_budget_spent");
                    return Err(DomainError::RateLimited { retry_after });
                }
            }
            // The clinic's rule runs a plugin: only within the budgets.
            self.accept_email(&mut pass, &email).await?;

            let mut tx = pass.read().await?;
            let known = !accounts::by_email(&mut tx, &email, 1).await?.is_empty()
                || accounts::by_username(&mut tx, email.as_str()).await?.is_some();
            let name_in_use = match &username {
                Some(u) => accounts::by_username(&mut tx, u.as_str()).await?.is_some(),
                None => false,
            };
            tx.commit().await?;
            if name_in_use && !known {
                return Err(name_taken());
            }
            // The same work either way until here; the password is hashed
            // either way too, so the time taken does not tell.
            let hash = self.hasher.hash(&password).await?;
            let mail_budget = visitor_mail_budget(&email, &policy);
            let mail_goes = pass.spend(&mail_budget, &policy).await?.is_ok();

            let with_form = new_patient.is_some();
            let mut tx = pass.write().await?;
            let (kind, payload) = if known {
                (
                    MailKind::RegistrationAttempt,
                    json!({ "clinic_name": tenant.display_name.as_str() }),
                )
            } else {
                let token = registrations::file(
                    &mut tx,
                    &PendingRegistration {
                        email: email.clone(),
                        username: username.clone(),
                        password_hash: hash,
                        new_patient,
                    },
                )
                .await?;
                (

                    MailKind::EmailVerification,
                    outbox::with_sealed_secrets(
                        &self.code_key,
                        tenant.id,
                        json!({
                            "clinic_name": tenant.display_name.as_str(),
                            "username": username.as_ref().map_or(email.as_str(), Username::as_str),
                            "token": token.expose(),
                        }),
                    ),
                )
            };
            if mail_goes {
                outbox::enqueue(&mut tx, kind, &email, None, payload).await?;
            }
            pass.detail(format!(
                "{}{}",
                match (known, with_form) {
                    (true, _) => "known_address",
                    (false, true) => "new_patient",
                    (false, false) => "no_code",
                },
                if mail_goes { "" } else { " mail_withheld" }
            ));
            pass.commit(tx).await
        }
        .await;
        even.answer(pass.finish(done).await).await
    }

    /// Spends a mailed link's token: verifies an email (turning on a
    /// self-registered record's portal access and granting it), or confirms
    /// a new email address.
    pub async fn portal_confirm_email(
        &self,
        caller: &Caller,
        token: &SecretToken,
    ) -> Result<PortalAccount, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_EMAIL_VERIFY).await?;
        let done = async {
            let mut tx = pass.write().await?;
            let used = tokens::consume(&mut tx, token).await?;
            let Some(used) = used.filter(|u| u.purpose != Purpose::ResetPassword) else {
                // Not an account's link: perhaps a registration's.
                let Some(pending) = registrations::take(&mut tx, token).await? else {
                    pass.secret_missed("invalid_token");
                    return Err(invalid_link());
                };
                let account = open_registration(&mut pass, &mut tx, pending).await?;
                pass.commit(tx).await?;
                return Ok(account);
            };
            let (account, _) = accounts::get(&mut tx, used.account)
                .await?
                .ok_or(DomainError::NotFound("account"))?;
            pass.target(format!("account:{}", account.id));
            pass.as_actor(Actor::Account(account.id));
            let email = used
                .new_email
                .clone()
                .unwrap_or_else(|| account.email.clone());
            if used.purpose == Purpose::ChangeEmail {
                // A confirmed change keeps its own name in the trail.
                pass.escalate(&acts::PORTAL_EMAIL_CHANGE).await?;
                // Links mailed to the old address (a reset, another
                // change) die with it.
                tokens::spend_all(&mut tx, account.id).await?;
                // A login name that was the old address follows it, so the
                // old address no longer logs in, nor greets the patient.
                if account.username.normalized() == account.email.normalized()
                    && let Ok(follows) = Username::parse(email.as_str())
                {
                    match accounts::set_username(&mut tx, account.id, &follows).await {
                        Ok(()) => {}
                        Err(StorageError::UniqueViolation(_)) => return Err(name_taken()),
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            accounts::set_email_verified(&mut tx, account.id, &email).await?;
            // A record this account registered becomes reachable once its
            // email is proven.
            for patient in crate::patients::registered_by(&mut tx, account.id).await? {
                if patient.portal_access == PortalAccess::Disabled {
                    crate::patients::set_access(&mut tx, patient.id, PortalAccess::Enabled).await?;
                    let relation = Relation::presumed_for(
                        today_at(pass.tenant()).stage_of(patient.date_of_birth),
                    );
                    grants::insert(&mut tx, account.id, patient.id, None, relation).await?;
                    audit::record(
                        &mut tx,
                        AuditEvent::success(
                            Actor::Account(account.id),
                            "patient.portal_access.enable",
                            pass.client(),
                        )
                        .target(format!("patient:{}", patient.id))
                        .reason("email_verified"),
                    )
                    .await?;
                }
            }
            let (account, _) = accounts::get(&mut tx, account.id)
                .await?
                .ok_or(DomainError::NotFound("account"))?;
            pass.commit(tx).await?;
            Ok(account)
        }
        .await;
        pass.finish(done).await
    }

    /// Starts a password reset. Answers the same whether or not an account
    /// exists; a mail goes to each account the login names.
    pub async fn portal_request_password_reset(
        &self,
        caller: &Caller,
        login: &str,
    ) -> Result<(), DomainError> {
        let even = EvenTime::from_now(even_time::RESET_REQUEST);
        let mut pass = match self
            .enter(caller, &acts::PORTAL_PASSWORD_RESET_REQUEST)
            .await
        {
            Ok(pass) => pass,
            Err(refused) => return even.answer(Err(refused)).await,
        };
        let done = async {
            let tenant = pass.tenant();
            let mut tx = pass.read().await?;
            let found = match EmailAddress::parse(login) {
                Ok(email) => accounts::by_email(&mut tx, &email, 8).await?,
                Err(_) => accounts::by_username(&mut tx, login)
                    .await?
                    .into_iter()
                    .collect(),
            };
            tx.commit().await?;
            // A stranger chooses whose mailbox this fills: each address
            // gets a few reset mails an hour, however often it is asked.
            let policy = self.auth.registration.policy();
            let mut targets = Vec::new();
            for (account, _) in found {
                let budget = visitor_mail_budget(&account.email, &policy);
                if pass.spend(&budget, &policy).await?.is_ok() {
                    targets.push(account);
                }
            }
            let mut tx = pass.write().await?;
            for account in &targets {
                let token =
                    tokens::issue(&mut tx, account.id, Purpose::ResetPassword, None).await?;
                outbox::enqueue(
                    &mut tx,
                    MailKind::PasswordReset,
                    &account.email,
                    None,
                    outbox::with_sealed_secrets(&self.code_key, tenant.id, json!({ "clinic_name": tenant.display_name.as_str(), "username": account.username.as_str(), "token": token.expose() })),
                )
                .await?;
            }
            if targets.is_empty() {
                pass.detail("no_mail");
            }
            pass.commit(tx).await
        }
        .await;
        even.answer(pass.finish(done).await).await
    }

    /// Finishes a password reset; every session of the account ends.
    pub async fn portal_reset_password(
        &self,
        caller: &Caller,
        token: &SecretToken,
        password: &NewPassword,
    ) -> Result<PortalAccount, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_PASSWORD_RESET).await?;
        let done = async {
            let hash = self.hasher.hash(password).await?;
            let mut tx = pass.write().await?;
            let used = tokens::consume(&mut tx, token).await?;
            let Some(used) = used.filter(|u| u.purpose == Purpose::ResetPassword) else {
                pass.secret_missed("invalid_token");
                return Err(invalid_link());
            };
            pass.target(format!("account:{}", used.account));
            pass.as_actor(Actor::Account(used.account));
            accounts::set_password(&mut tx, used.account, &hash).await?;
            sessions::revoke_all_for(&mut tx, used.account).await?;
            // A new password ends every trust that came with the old one.
            crate::factors::devices::revoke_all(&mut tx, used.account).await?;
            let (account, _) = accounts::get(&mut tx, used.account)
                .await?
                .ok_or(DomainError::NotFound("account"))?;
            // The reset link reached this address: it is proven.
            let account = if account.email_verified_at.is_none() {
                accounts::set_email_verified(&mut tx, account.id, &account.email).await?;
                accounts::get(&mut tx, used.account)
                    .await?
                    .ok_or(DomainError::NotFound("account"))?
                    .0
            } else {
                account
            };
            pass.commit(tx).await?;
            Ok(account)
        }
        .await;
        pass.finish(done).await
    }

    /// Changes the account's password, the current one checked under the
    /// same throttle as the login. Every other session of the account ends;
    /// this one stays.
    pub async fn portal_change_password(
        &self,
        caller: &Caller,
        current: &PlainPassword,
        new: &NewPassword,
    ) -> Result<(), DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_PASSWORD_CHANGE).await?;
        let done = async {
            let who = pass.patient()?;
            let account_id = who.account_id();
            pass.target(format!("account:{account_id}"));
            let mut tx = pass.read().await?;
            let (_, hash) = accounts::get(&mut tx, account_id)
                .await?
                .ok_or(DomainError::InvalidToken)?;
            tx.commit().await?;
            // The door already counts this account's bucket for a signed-in
            // patient: one miss, one count.
            if !pass.verify_password(current, Some(&hash)).await {
                pass.failure_reason("wrong_password");
                return Err(DomainError::InvalidCredentials);
            }
            if current.expose() == new.as_plain().expose() {
                return Err(DomainError::Conflict {
                    code: "password_unchanged",
                    message: "the new password must differ from the current one".into(),
                });
            }
            let new_hash = self.hasher.hash(new).await?;
            let mut tx = pass.write().await?;
            accounts::set_password(&mut tx, account_id, &new_hash).await?;
            sessions::revoke_others_of(&mut tx, account_id, &who.session.id).await?;
            crate::factors::devices::revoke_all(&mut tx, account_id).await?;
            // A reset or address-change link mailed before no longer works.
            tokens::spend_all(&mut tx, account_id).await?;
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// Ends every session of the account, this one too: for a phone left
    /// behind or a shared computer. Answers how many ended.
    pub async fn portal_logout_everywhere(&self, caller: &Caller) -> Result<u64, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_LOGOUT_EVERYWHERE).await?;
        let done = async {
            let account_id = pass.account_id()?;
            pass.target(format!("account:{account_id}"));
            let mut tx = pass.write().await?;
            let ended = sessions::revoke_others_of(&mut tx, account_id, "").await?;
            pass.detail(format!("sessions={ended}"));
            pass.commit(tx).await?;
            Ok(ended)
        }
        .await;
        pass.finish(done).await
    }

    /// Asks to change the account's email: the new address must confirm
    /// before it takes effect, and the old address is told. The password
    /// is checked under the same throttle as the account's login.
    pub async fn portal_request_email_change(
        &self,
        caller: &Caller,
        new_email: &EmailAddress,
        password: &PlainPassword,
    ) -> Result<(), DomainError> {
        let mut pass = self
            .enter(caller, &acts::PORTAL_EMAIL_CHANGE_REQUEST)
            .await?;
        let done = async {
            let tenant = pass.tenant();
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
            // A login name that is the address must follow it to the new
            // one (see the confirmation), so the new one must make a login
            // name too.
            if account.username.normalized() == account.email.normalized()
                && Username::parse(new_email.as_str()).is_err()
            {
                return Err(DomainError::Invalid(crate::domain::InvalidValue::new(
                    "new_email",
                    "cannot be your login name, as your current address is: use an address of at most 64 \
                     letters, digits and . _ - @ +",
                )));
            }
            self.accept_email(&mut pass, new_email).await?;
            let mut tx = pass.write().await?;
            let token =
                tokens::issue(&mut tx, account.id, Purpose::ChangeEmail, Some(new_email)).await?;
            outbox::enqueue(
                &mut tx,
                MailKind::EmailVerification,
                new_email,
                None,
                outbox::with_sealed_secrets(&self.code_key, tenant.id, json!({ "clinic_name": tenant.display_name.as_str(), "username": account.username.as_str(), "token": token.expose() })),
            )
            .await?;
            outbox::enqueue(
                &mut tx,
                MailKind::EmailChangeNotice,
                &account.email,
                None,
                json!({ "clinic_name": tenant.display_name.as_str(), "username": account.username.as_str(), "new_email_domain": new_email.domain() }),
            )
            .await?;
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }
}

fn invalid_link() -> DomainError {
    DomainError::refused(
        RefusalKind::Gone,
        "link_invalid",
        "This link has expired or was already used. Ask for a new one.",
    )
}

/// A registration whose address is now proven becomes an account, and
/// with the clinic's form filled in, a patient record it holds.
async fn open_registration(
    pass: &mut Passage<'_>,
    tx: &mut TenantTx,
    pending: PendingRegistration,
) -> Result<PortalAccount, DomainError> {
    let username = match pending.username {
        Some(u) => u,
        None => Username::parse(pending.email.as_str())?,
    };
    let account = match accounts::insert(
        tx,
        &username,
        &pending.email,
        &pending.password_hash,
        true,
    )
    .await
    {
        Ok(a) => a,
        Err(StorageError::UniqueViolation(_)) => {
            return Err(DomainError::refused(
                RefusalKind::Conflict,
                "username_taken",
                "Another account took this login name after you registered. Log in if it is yours, or \
                     register again with a username of your own.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    pass.target(format!("account:{}", account.id));
    pass.as_actor(Actor::Account(account.id));
    pass.detail("registration");
    if let Some(form) = pending.new_patient {
        let now = Timestamp::now();
        let record = PatientRecord {
            id: PatientId::generate(),
            full_name: form.full_name,
            date_of_birth: form.date_of_birth,
            email: Some(pending.email.clone()),
            phone: form.phone,
            home_zip: Some(form.home_zip),
            portal_access: PortalAccess::Enabled,
            created_at: now,
            updated_at: now,
        };
        crate::patients::insert_registered(tx, &record, account.id).await?;
        // Someone registering a young child online is their parent.
        let relation =
            Relation::presumed_for(today_at(pass.tenant()).stage_of(record.date_of_birth));
        grants::insert(tx, account.id, record.id, None, relation).await?;
        audit::record(
            tx,
            AuditEvent::success(
                Actor::Account(account.id),
                "patient.self_register",
                pass.client(),
            )
            .target(format!("patient:{}", record.id))
            .reason("email_verified"),
        )
        .await?;
    }
    Ok(account)
}
