//! Accounts made without a code (online booking, the clinic's registration
//! form), email verification, password reset, and email change.

use serde_json::json;

use crate::acts;
use crate::audit::{self, Actor, AuditEvent};
use crate::auth::SecretToken;
use crate::domain::{
    DateOfBirth, DisplayName, EmailAddress, NewPassword, PatientId, PhoneNumber, PlainPassword,
    Timestamp, Username, ZipCode,
};
use crate::door::Caller;
use crate::error::{DomainError, RefusalKind};
use crate::outbox::{self, MailKind};
use crate::patients::{PatientRecord, PortalAccess};
use crate::services::Services;
use crate::storage::StorageError;

use crate::portal::accounts::{self, PortalAccount};
use crate::portal::grants;
use crate::portal::tokens::{self, Purpose};
use crate::sessions::portal as sessions;

/// A new patient filling in the clinic's electronic registration form.
#[derive(Debug, Clone)]
pub struct SelfRegistration {
    pub full_name: DisplayName,
    pub date_of_birth: DateOfBirth,
    pub phone: Option<PhoneNumber>,
    pub home_zip: ZipCode,
}

/// What a registration created.
#[derive(Debug)]
pub struct RegistrationOutcome {
    pub account: PortalAccount,
    /// The pending record, for the clinic's registration form.
    pub patient: Option<PatientId>,
}

fn name_taken() -> DomainError {
    DomainError::refused(
        RefusalKind::Conflict,
        "username_taken",
        "Another account already logs in with this name. Choose a username of your own.",
    )
}

impl Services {
    /// Registers an account with no code (as when booking online). It has
    /// limited access, no records, until it redeems a code; with
    /// `new_patient`, it also creates a pending record whose portal access
    /// turns on when the email address is verified.
    pub async fn portal_register(
        &self,
        caller: &Caller,
        username: Option<Username>,
        email: &EmailAddress,
        password: &NewPassword,
        new_patient: Option<SelfRegistration>,
    ) -> Result<RegistrationOutcome, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_REGISTER).await?;
        let done = async {
            let tenant = pass.tenant();
            let username = match username {
                Some(u) => u,
                None => Username::parse(email.as_str())?,
            };
            self.accept_email(&mut pass, email).await?;
            let hash = self.hasher.hash(password).await?;
            let mut tx = pass.write().await?;
            let account = match accounts::insert(&mut tx, &username, email, &hash, false).await {
                Ok(a) => a,
                Err(StorageError::UniqueViolation(_)) => return Err(name_taken()),
                Err(e) => return Err(e.into()),
            };
            let patient = match new_patient {
                Some(reg) => {
                    let now = Timestamp::now();
                    let record = PatientRecord {
                        id: PatientId::generate(),
                        full_name: reg.full_name,
                        date_of_birth: reg.date_of_birth,
                        email: Some(email.clone()),
                        phone: reg.phone,
                        home_zip: Some(reg.home_zip),
                        portal_access: PortalAccess::Disabled,
                        created_at: now,
                        updated_at: now,
                    };
                    crate::patients::insert_registered(&mut tx, &record, account.id).await?;
                    audit::record(
                        &mut tx,
                        AuditEvent::success(
                            Actor::Account(account.id),
                            "patient.self_register",
                            pass.client(),
                        )
                        .target(format!("patient:{}", record.id)),
                    )
                    .await?;
                    Some(record.id)
                }
                None => None,
            };
            let token = tokens::issue(&mut tx, account.id, Purpose::VerifyEmail, None).await?;
            outbox::enqueue(
                &mut tx,
                MailKind::EmailVerification,
                email,
                patient,
                outbox::with_sealed_secrets(&self.code_key, tenant.id, json!({ "clinic_name": tenant.display_name.as_str(), "username": account.username.as_str(), "token": token.expose() })),
            )
            .await?;
            pass.target(format!("account:{}", account.id));
            pass.as_actor(Actor::Account(account.id));
            pass.detail(if patient.is_some() {
                "new_patient"
            } else {
                "no_code"
            });
            pass.commit(tx).await?;
            Ok(RegistrationOutcome { account, patient })
        }
        .await;
        pass.finish(done).await
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
                pass.secret_missed("invalid_token");
                return Err(invalid_link());
            };
            let (account, _) = accounts::get(&mut tx, used.account)
                .await?
                .ok_or(DomainError::NotFound("account"))?;
            pass.target(format!("account:{}", account.id));
            pass.as_actor(Actor::Account(account.id));
            // A confirmed change keeps its own name in the trail.
            if used.purpose == Purpose::ChangeEmail {
                pass.escalate(&acts::PORTAL_EMAIL_CHANGE).await?;
            }
            let email = used
                .new_email
                .clone()
                .unwrap_or_else(|| account.email.clone());
            accounts::set_email_verified(&mut tx, account.id, &email).await?;
            // A record this account registered becomes reachable once its
            // email is proven.
            for patient in crate::patients::registered_by(&mut tx, account.id).await? {
                if patient.portal_access == PortalAccess::Disabled {
                    crate::patients::set_access(&mut tx, patient.id, PortalAccess::Enabled).await?;
                    grants::insert(&mut tx, account.id, patient.id, None).await?;
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
        let mut pass = self
            .enter(caller, &acts::PORTAL_PASSWORD_RESET_REQUEST)
            .await?;
        let done = async {
            let tenant = pass.tenant();
            let mut tx = pass.write().await?;
            let targets = match EmailAddress::parse(login) {
                Ok(email) => accounts::by_email(&mut tx, &email, 8).await?,
                Err(_) => accounts::by_username(&mut tx, login)
                    .await?
                    .into_iter()
                    .collect(),
            };
            for (account, _) in &targets {
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
                pass.detail("unknown_account");
            }
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
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
