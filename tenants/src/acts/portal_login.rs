//! Patients logging in and out, and moving between the records they hold.

use crate::acts;
use crate::acts::grants::today_at;
use crate::audit::Actor;
use crate::auth::SecretToken;
use crate::codes::looks_like_a_code;
use crate::domain::{EmailAddress, PatientId, PlainPassword, Timestamp};
use crate::door::Caller;
use crate::error::{DomainError, RefusalKind};
use crate::services::Services;

use crate::factors::{self, Holder, devices};
use crate::portal::accounts::{self, PortalAccount};

use super::portal_factors::{
    PortalSecondStep, PortalSignIn, email_hint, mail_sign_in_code, open_session,
    second_step_methods,
};
use crate::portal::grants::{self, GrantView};
use crate::sessions::portal as sessions;

/// A portal session just opened; the token is shown once.
#[derive(Debug)]
pub struct PortalSessionIssued {
    pub token: SecretToken,
    pub csrf_token: String,
    pub expires_at: Timestamp,
    pub account: PortalAccount,
}

/// What a patient typed to log in.
#[derive(Debug, Clone)]
pub struct PortalLogin {
    /// A username, or the account's email address.
    pub login: String,
    pub password: PlainPassword,
}

impl Services {
    /// Logs a patient in by username or email. An email shared by family
    /// members logs in the first account that used it; the others log in
    /// by username. A code typed as a password is recognised and
    /// explained.
    ///
    /// An account with a second step answers [`PortalSignIn::SecondStep`],
    /// unless `device` is the token of a browser the patient trusts.
    pub async fn portal_login(
        &self,
        caller: &Caller,
        login: &PortalLogin,
        device: Option<&SecretToken>,
    ) -> Result<PortalSignIn, DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_LOGIN).await?;
        let done = async {
            let login_name = login.login.trim();
            let mut tx = pass.read().await?;
            // The one account this login can open: by username, or the
            // first (oldest) account using the email. Exactly one password
            // check whatever the number of accounts sharing an address, so
            // the time taken does not tell how many there are; a family
            // member whose account shares the address logs in with their
            // username, as the refusal says.
            let account = match EmailAddress::parse(login_name) {
                Ok(email) => accounts::by_email(&mut tx, &email, 1).await?.pop(),
                Err(_) => None,
            };
            // An email can also be someone's username.
            let account = match account {
                Some(found) => Some(found),
                None => accounts::by_username(&mut tx, login_name).await?,
            };
            tx.commit().await?;

            let known = account.is_some();
            // Failures count against the account itself once it is known, so
            // that logging in by username or by email, and the password check
            // of an email change, share one bucket.
            let key = match &account {
                Some((account, _)) => {
                    pass.target(format!("account:{}", account.id));
                    account.id.to_string()
                }
                None => login_name.to_owned(),
            };
            pass.throttle_account(&key).await?;

            let matched = pass
                .verify_password(&login.password, account.as_ref().map(|(_, hash)| hash))
                .await;
            match account.filter(|_| matched) {
                Some((account, _)) => {
                    pass.target(format!("account:{}", account.id));
                    pass.as_actor(Actor::Account(account.id));
                    let required = pass.tenant().settings.patient_second_factor_required;
                    let mut tx = pass.write().await?;
                    let methods = second_step_methods(&mut tx, &account, required).await?;
                    let trusted = match (methods.is_empty(), device) {
                        (false, Some(token)) => devices::recognise(&mut tx, account.id, token).await?,
                        _ => None,
                    };
                    if !methods.is_empty() && trusted.is_none() {
                        let mut pending = factors::create_pending(
                            &mut tx,
                            Holder::Account(account.id),
                            None,
                        )
                        .await?;
                        // Email alone: the code goes at once.
                        let email_code_sent = methods == ["email_code"];
                        if email_code_sent {
                            mail_sign_in_code(self, &mut pass, &mut tx, &account, &pending.id)
                                .await?;
                        }
                        pending.methods = methods;
                        pass.detail("second_step_asked");
                        pass.commit(tx).await?;
                        return Ok(PortalSignIn::SecondStep(PortalSecondStep {
                            pending,
                            email_hint: Some(email_hint(&account.email)),
                            email_code_sent,
                        }));
                    }
                    let session = open_session(self, &mut tx, &today_at(pass.tenant()), account).await?;
                    if let Some(device) = trusted {
                        pass.detail(format!("trusted_device={device}"));
                    }
                    pass.commit(tx).await?;
                    Ok(PortalSignIn::Signed(session))
                }
                None => {
                    let typed_a_code = looks_like_a_code(login.password.expose());
                    pass.failure_reason(match (known, typed_a_code) {
                        (_, true) => "code_as_password",
                        (false, false) => "unknown_account",
                        (true, false) => "wrong_password",
                    });
                    if typed_a_code {
                        return Err(DomainError::refused(
                            RefusalKind::Unauthenticated,
                            "code_is_not_a_password",
                            "That looks like your access code. It set up your account once; to log in, use the \
                             password you chose then. Not set up yet? Open the link in the clinic's email.",
                        ));
                    }
                    Err(DomainError::refused(
                        RefusalKind::Unauthenticated,
                        "invalid_credentials",
                        "The login or password is not right. If your family shares one email address, each \
                         account logs in with its own username.",
                    ))
                }
            }
        }
        .await;
        pass.finish(done).await
    }

    pub async fn portal_logout(&self, caller: &Caller) -> Result<(), DomainError> {
        let mut pass = self.enter(caller, &acts::PORTAL_LOGOUT).await?;
        let done = async {
            let who = pass.patient()?;
            pass.target(format!("account:{}", who.account_id()));
            let mut tx = pass.write().await?;
            sessions::revoke(&mut tx, &who.session.id).await?;
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// The account and the records it can see right now.
    pub async fn portal_me(
        &self,
        caller: &Caller,
    ) -> Result<(PortalAccount, Vec<GrantView>), DomainError> {
        let pass = self.enter(caller, &acts::PORTAL_ME).await?;
        let done = async {
            let account_id = pass.account_id()?;
            let mut tx = pass.read().await?;
            let (account, _) = accounts::get(&mut tx, account_id)
                .await?
                .ok_or(DomainError::InvalidToken)?;
            let records =
                grants::live_for_account(&mut tx, account.id, &today_at(pass.tenant())).await?;
            tx.commit().await?;
            Ok((account, records))
        }
        .await;
        pass.finish(done).await
    }

    /// One record the account holds, checked afresh: a revoked grant or a
    /// disabled record answers `NotFound` on the very next request. Each
    /// view is audited.
    pub async fn portal_record(
        &self,
        caller: &Caller,
        patient: PatientId,
    ) -> Result<GrantView, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_RECORD_VIEW,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            let grant = crate::acts::grants::require_grant(&mut pass, &mut tx, patient).await?;
            pass.commit(tx).await?;
            Ok(grant)
        }
        .await;
        pass.finish(done).await
    }

    /// Makes `patient` the record the session shows, for family switching.
    pub async fn portal_switch(
        &self,
        caller: &Caller,
        patient: PatientId,
    ) -> Result<GrantView, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::PORTAL_SWITCH, format!("patient:{patient}"))
            .await?;
        let done = async {
            let session = &pass.patient()?.session.id;
            let mut tx = pass.write().await?;
            let grant = crate::acts::grants::require_grant(&mut pass, &mut tx, patient).await?;
            sessions::set_active_patient(&mut tx, session, patient).await?;
            pass.commit(tx).await?;
            Ok(grant)
        }
        .await;
        pass.finish(done).await
    }
}
