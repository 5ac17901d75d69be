//! Redeeming a Medical Records Access Code: the step that turns a code
//! into a grant. Every use and attempted use is audited with the client's
//! address and user agent, the outcome and the reason; failed guesses are
//! limited per address, per account and per clinic.

use serde_json::json;

use crate::audit::{self, Actor, AuditEvent, ClientInfo};
use crate::auth::{Bucket, throttle_check, throttle_record_failure};
use crate::codes::{CodeKind, CodeRecord, CodeStatus, PresentedCode, find_by_hash, mark_redeemed};
use crate::domain::{CodeDelivery, EmailAddress, NewPassword, Timestamp, Username};
use crate::error::{DomainError, RefusalKind};
use crate::outbox::{self, MailKind};
use crate::patients::{PortalAccess, get_patient};
use crate::plugins::{Verdict, facts_of};
use crate::registry::Tenant;
use crate::services::Services;
use crate::smartforms::{assignment_for_code, link_account};
use crate::storage::StorageError;
use portico_plugins::HookInput;
use portico_plugins::model::{Answer, Redemption};

use super::accounts::{self, PortalAccount};
use super::grants::{self, GrantView};
use super::login::{PortalAuthenticated, PortalSessionIssued};
use super::sessions;
use super::tokens::{self, Purpose};

/// The account a patient sets up while redeeming their first code.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Needed only when another account of the clinic already uses the
    /// email as its login, as in a family sharing one address.
    pub username: Option<Username>,
    pub email: EmailAddress,
    pub password: NewPassword,
}

/// Who is redeeming.
#[derive(Debug)]
pub enum Redeemer<'a> {
    /// A logged-in account adding a record (a parent adding a child).
    Account(&'a PortalAuthenticated),
    /// Someone setting up their account with their first code.
    NewAccount(NewAccount),
}

/// What a code opened.
#[derive(Debug)]
pub enum Unlocked {
    /// A Medical Records Access Code: the patient's record.
    Record(GrantView),
    /// A SmartForm Access Code: one form, and nothing else.
    Form {
        assignment_id: String,
        form_title: String,
    },
}

/// A redemption that worked.
#[derive(Debug)]
pub struct Redeemed {
    pub account: PortalAccount,
    pub unlocked: Unlocked,
    /// The new account's session; `None` when an existing account redeemed.
    pub session: Option<PortalSessionIssued>,
    /// Whether the account must still confirm its email address.
    pub verification_sent: bool,
}

/// Why a redemption failed, for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedeemFailure {
    Empty,
    Malformed,
    Unknown,
    Expired,
    Revoked,
    AlreadyUsed,
    PortalDisabled,
}

const SCOPE: &str = "redeem";

fn refusal(failure: RedeemFailure, clinic: &str) -> DomainError {
    use RedeemFailure::*;
    let (kind, code, message) = match failure {
        Empty => (
            RefusalKind::Missing,
            "code_missing",
            format!(
                "There is no access code here. Open the email from {clinic} and press its button: the link fills \
                 in your code for you."
            ),
        ),
        Malformed => (
            RefusalKind::Malformed,
            "code_malformed",
            "That is not an access code. An access code is four words, as in the clinic's email or handout.".into(),
        ),
        Unknown => (
            RefusalKind::NotFound,
            "code_not_found",
            "We could not find that access code. Check the four words, or open the link in the clinic's email."
                .into(),
        ),
        Expired => (
            RefusalKind::Gone,
            "code_expired",
            format!("This access code has expired. Ask {clinic} for a new one."),
        ),
        Revoked => (
            RefusalKind::Gone,
            "code_revoked",
            format!("This access code was cancelled by {clinic}. If you still need access, ask them for a new code."),
        ),
        AlreadyUsed => (
            RefusalKind::Conflict,
            "code_already_used",
            "This access code has already been used. Log in with the email or username and the password you chose \
             when you used it."
                .into(),
        ),
        PortalDisabled => (
            RefusalKind::Forbidden,
            "portal_access_disabled",
            format!("Online access to this record is turned off. Contact {clinic}."),
        ),
    };
    DomainError::refused(kind, code, message)
}

impl RedeemFailure {
    fn reason(self) -> &'static str {
        match self {
            Self::Empty => "empty_code",
            Self::Malformed => "malformed_code",
            Self::Unknown => "unknown_code",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::AlreadyUsed => "already_used",
            Self::PortalDisabled => "portal_access_disabled",
        }
    }

    /// Only guesses count against the limits: a real code that is used or
    /// expired reveals nothing new.
    fn is_guess(self) -> bool {
        matches!(self, Self::Unknown)
    }
}

impl Services {
    /// Redeems `raw_code` for `redeemer`. `answers` are what the patient
    /// gave to the clinic's verification rule when it asked (see
    /// [`DomainError::MoreInformationNeeded`]).
    pub async fn redeem_code(
        &self,
        tenant: &Tenant,
        raw_code: &str,
        redeemer: Redeemer<'_>,
        answers: Vec<Answer>,
        client: &ClientInfo,
    ) -> Result<Redeemed, DomainError> {
        let clinic = tenant.display_name.as_str();
        let actor = match &redeemer {
            Redeemer::Account(who) => Actor::Account(who.account_id()),
            Redeemer::NewAccount(_) => Actor::Anonymous,
        };
        let limits = &self.auth.redeem_throttle;
        let policy = limits.policy();
        let mut buckets = vec![
            Bucket::ip(SCOPE, client.ip.as_deref(), &policy),
            Bucket::named(format!("{SCOPE}-tenant"), limits.max_failures_per_tenant),
        ];
        if let Redeemer::Account(who) = &redeemer {
            buckets.push(Bucket::account(
                SCOPE,
                &who.account_id().to_string(),
                &policy,
            ));
        }

        let mut tx = self.db.tenant_read(tenant.id).await?;
        let locked = throttle_check(&mut tx, &buckets).await?;
        tx.commit().await?;
        if let Err(retry_after) = locked {
            self.audit_redeem(tenant, actor, None, Some("locked_out"), client)
                .await?;
            return Err(DomainError::LockedOut { retry_after });
        }

        let fail = |failure: RedeemFailure, code: Option<&CodeRecord>| {
            let target = code.map(|c| format!("patient:{}", c.patient_id));
            let actor = actor.clone();
            let buckets = buckets.clone();
            async move {
                let mut tx = self.db.tenant_write(tenant.id).await?;
                if failure.is_guess() {
                    throttle_record_failure(&mut tx, &buckets, &policy).await?;
                }
                let mut event = AuditEvent::failure(actor, "code.redeem", failure.reason(), client);
                if let Some(t) = target {
                    event = event.target(t);
                }
                audit::record(&mut tx, event).await?;
                tx.commit().await?;
                Err::<Redeemed, _>(refusal(failure, clinic))
            }
        };

        let presented = match PresentedCode::parse(raw_code) {
            Ok(p) => p,
            Err(crate::codes::CodeInputError::Empty) => {
                return fail(RedeemFailure::Empty, None).await;
            }
            Err(crate::codes::CodeInputError::Malformed) => {
                return fail(RedeemFailure::Malformed, None).await;
            }
        };
        let hash = self.code_key.hash(tenant.id, presented.canonical());
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let code = find_by_hash(&mut tx, &hash).await?;
        let patient = match &code {
            Some(c) => get_patient(&mut tx, c.patient_id).await?,
            None => None,
        };
        tx.commit().await?;
        let Some(code) = code else {
            return fail(RedeemFailure::Unknown, None).await;
        };
        let opens_record = code.kind == CodeKind::MedicalRecords;
        match code.status_at(Timestamp::now()) {
            CodeStatus::Active => {}
            CodeStatus::Redeemed => return fail(RedeemFailure::AlreadyUsed, Some(&code)).await,
            CodeStatus::Revoked => return fail(RedeemFailure::Revoked, Some(&code)).await,
            CodeStatus::Expired => return fail(RedeemFailure::Expired, Some(&code)).await,
        }
        // A form shows nothing of the record, so it needs no portal access.
        let Some(patient) =
            patient.filter(|p| !opens_record || p.portal_access == PortalAccess::Enabled)
        else {
            return fail(RedeemFailure::PortalDisabled, Some(&code)).await;
        };

        // The clinic's own rule, if it has one, on a code that is otherwise
        // good. A refusal counts as a guess: a rule that checks a date of
        // birth must not become a way to guess one.
        let verdict = self
            .verify_with_plugin(
                tenant,
                HookInput::CheckRedemption(Redemption {
                    answers,
                    facts: facts_of(&patient),
                    settings: Vec::new(),
                }),
            )
            .await?;
        if verdict != Verdict::Allow {
            let mut tx = self.db.tenant_write(tenant.id).await?;
            if matches!(verdict, Verdict::Deny(_)) {
                throttle_record_failure(&mut tx, &buckets, &limits.policy()).await?;
            }
            audit::record(
                &mut tx,
                AuditEvent::failure(actor.clone(), "code.redeem", verdict.audit_reason(), client)
                    .target(format!("patient:{}", code.patient_id)),
            )
            .await?;
            tx.commit().await?;
            return Err(verdict
                .into_error("verification_denied")
                .expect("a verdict other than allow is an error"));
        }

        if let Redeemer::NewAccount(new) = &redeemer {
            self.accept_email(tenant, &new.email, actor.clone(), "code.redeem", client)
                .await?;
        }

        // Hash a new account's password before any transaction opens.
        let new_account = match &redeemer {
            Redeemer::NewAccount(new) => {
                Some((new.clone(), self.hasher.hash(&new.password).await?))
            }
            Redeemer::Account(_) => None,
        };

        let now = Timestamp::now();
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let (account, session, verification_sent) = match (&redeemer, new_account) {
            (Redeemer::Account(who), _) => {
                let (account, _) = accounts::get(&mut tx, who.account_id())
                    .await?
                    .ok_or(DomainError::InvalidToken)?;
                (account, None, false)
            }
            (Redeemer::NewAccount(_), Some((new, hash))) => {
                let username = match &new.username {
                    Some(u) => u.clone(),
                    None => Username::parse(new.email.as_str())?,
                };
                // The code was delivered to the address on file: typing that
                // same address proves it.
                let verified = code.delivery == CodeDelivery::Email
                    && patient.email.as_ref().map(EmailAddress::normalized)
                        == Some(new.email.normalized());
                let account = match accounts::insert(
                    &mut tx, &username, &new.email, &hash, verified,
                )
                .await
                {
                    Ok(a) => a,
                    Err(StorageError::UniqueViolation(_)) => {
                        return Err(DomainError::refused(
                            RefusalKind::Conflict,
                            if new.username.is_some() {
                                "username_taken"
                            } else {
                                "username_required"
                            },
                            "Another account already logs in with this name. Choose a username of your own; \
                             or, if this is your account, log in first and then add this code.",
                        ));
                    }
                    Err(other) => return Err(other.into()),
                };
                let shown = opens_record.then_some(patient.id);
                let session =
                    sessions::create(&mut tx, account.id, shown, self.auth.portal_session_ttl)
                        .await?;
                if !verified {
                    let token =
                        tokens::issue(&mut tx, account.id, Purpose::VerifyEmail, None).await?;
                    outbox::enqueue(
                        &mut tx,
                        MailKind::EmailVerification,
                        &account.email,
                        Some(patient.id),
                        json!({ "clinic_name": clinic, "username": account.username.as_str(), "token": token.expose() }),
                    )
                    .await?;
                }
                let issued = PortalSessionIssued {
                    token: session.token,
                    csrf_token: session.csrf_token,
                    expires_at: session.expires_at,
                    account: account.clone(),
                };
                (account, Some(issued), !verified)
            }
            (Redeemer::NewAccount(_), None) => {
                unreachable!("a new account's password was hashed above")
            }
        };
        if !mark_redeemed(&mut tx, code.id, account.id, now).await? {
            // Someone used or cancelled it a moment ago.
            drop(tx);
            return fail(RedeemFailure::AlreadyUsed, Some(&code)).await;
        }
        let unlocked = if opens_record {
            grants::insert(&mut tx, account.id, patient.id, Some(code.id)).await?;
            if let Redeemer::Account(who) = &redeemer {
                sessions::set_active_patient(&mut tx, &who.session.id, patient.id).await?;
            }
            let record = grants::live(&mut tx, account.id, patient.id)
                .await?
                .ok_or(DomainError::NotFound("record"))?;
            Unlocked::Record(record)
        } else {
            let assignment = assignment_for_code(&mut tx, &code.id.to_string())
                .await?
                .ok_or(DomainError::NotFound("form"))?;
            link_account(&mut tx, &assignment.id, account.id).await?;
            Unlocked::Form {
                assignment_id: assignment.id,
                form_title: assignment.form.title.to_string(),
            }
        };
        let kind = if opens_record {
            "medical_records"
        } else {
            "smartform"
        };
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Account(account.id), "code.redeem", client)
                .target(format!("patient:{}", patient.id))
                .reason(match &redeemer {
                    Redeemer::Account(_) => {
                        format!("code={} kind={kind} existing_account", code.id)
                    }
                    Redeemer::NewAccount(_) => format!("code={} kind={kind} new_account", code.id),
                }),
        )
        .await?;
        tx.commit().await?;
        Ok(Redeemed {
            account,
            unlocked,
            session,
            verification_sent,
        })
    }

    async fn audit_redeem(
        &self,
        tenant: &Tenant,
        actor: Actor,
        target: Option<String>,
        failure: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.audit_portal(tenant, actor, "code.redeem", target, failure, client)
            .await
    }
}
