//! Redeeming a Medical Records Access Code: the step that turns a code
//! into a grant. Every use and attempted use is audited with the client's
//! address and user agent, the outcome and the reason; failed guesses are
//! limited per address, per account and per clinic.

use serde_json::json;

use crate::acts;
use crate::acts::caregivers::tell_patient_of_new_proxy;
use crate::acts::grants::today_at;
use crate::acts::plugin_rules::{Verdict, answers_for_plugin, facts_of};
use crate::audit::Actor;
use crate::codes::store::count_dob_miss;
use crate::codes::{CodeKind, CodeRecord, CodeStatus, PresentedCode, find_by_hash, mark_redeemed};
use crate::domain::{
    AskedField, AskedKind, CodeDelivery, DateOfBirth, EmailAddress, GivenAnswer, NewPassword,
    Timestamp, Username,
};
use crate::door::{Caller, Passage};
use crate::error::{DomainError, RefusalKind};
use crate::family::{Relation, Stage};
use crate::outbox::{self, MailKind};
use crate::patients::{PatientRecord, PortalAccess, get_patient};
use crate::services::Services;
use crate::smartforms::{assignment_for_code, link_account};
use crate::storage::{StorageError, TenantTx};
use portico_plugins::HookInput;
use portico_plugins::model::Redemption;

use crate::acts::portal_login::PortalSessionIssued;
use crate::portal::accounts::{self, PortalAccount};
use crate::portal::grants::{self, GrantView};
use crate::portal::tokens::{self, Purpose};
use crate::sessions::portal as sessions;

/// The account a patient sets up while redeeming their first code, as
/// typed. It is parsed inside the act, so that a refusal (a short
/// password, a malformed email) is audited like every other failed
/// attempt.
#[derive(Clone, Default)]
pub struct AccountForm {
    /// Needed only when another account of the clinic already uses the
    /// email as its login, as in a family sharing one address.
    pub username: Option<String>,
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for AccountForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountForm")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A new account's details, parsed.
#[derive(Debug, Clone)]
struct NewAccount {
    username: Option<Username>,
    email: EmailAddress,
    password: NewPassword,
}

impl NewAccount {
    fn parse(form: AccountForm) -> Result<Self, DomainError> {
        Ok(Self {
            username: form
                .username
                .filter(|u| !u.trim().is_empty())
                .map(|u| Username::parse(&u))
                .transpose()?,
            email: EmailAddress::parse(&form.email)?,
            password: NewPassword::parse(form.password)?,
        })
    }
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

/// What looking at a code without using it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// It would open this (if the clinic's rule agrees).
    Usable(CodeKind),
    /// The clinic is under a guessing attack: not looked at.
    NotChecked,
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
    /// While the clinic is under a guessing attack: no code matches both
    /// the words and the date of birth given (or the code is unknown).
    NoMatch,
    Expired,
    Revoked,
    /// Cancelled because the clinic issued a newer code for the record.
    Replaced,
    AlreadyUsed,
    PortalDisabled,
    /// A parent's code for a patient who has since come of age.
    Outgrown,
    /// A proxy code with a wrong date of birth; at none left, this miss
    /// cancelled it.
    WrongBirthDate {
        tries_left: i64,
    },
    /// A proxy code that wrong dates of birth cancelled earlier.
    CancelledByMisses,
    /// A caregiver's invitation the patient withdrew.
    InvitationCancelled,
}

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
        NoMatch => (
            RefusalKind::NotFound,
            "code_not_found",
            "We could not match that access code and date of birth. Check the four words and the date, or open \
             the link in the clinic's email."
                .into(),
        ),
        Expired => (
            RefusalKind::Gone,
            "code_expired",
            format!("This access code has expired. Ask {clinic} for a new one."),
        ),
        Replaced => (
            RefusalKind::Gone,
            "code_replaced",
            format!(
                "{clinic} has sent a newer access code for this record, which replaces this one. Use the most \
                 recent email or handout from {clinic}."
            ),
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
        Outgrown => (
            RefusalKind::Gone,
            "code_outgrown",
            format!(
                "This code was for a parent, and the patient has since come of age, so a parent's access no \
                 longer applies. The patient can ask {clinic} for a code of their own, and invite you as a \
                 caregiver."
            ),
        ),
        InvitationCancelled => (
            RefusalKind::Gone,
            "invitation_cancelled",
            "The person who invited you has cancelled this invitation, so it no longer opens their record."
                .into(),
        ),
        WrongBirthDate { tries_left: 0 } | CancelledByMisses => (
            RefusalKind::Gone,
            "code_cancelled",
            format!(
                "This code has been cancelled after three wrong dates of birth. Ask {clinic} for a new one."
            ),
        ),
        WrongBirthDate { tries_left } => (
            RefusalKind::Unauthenticated,
            "date_of_birth_mismatch",
            format!(
                "That date of birth does not match the patient's record. Check it and try again: {tries_left} \
                 {} left before this code is cancelled.",
                if tries_left == 1 { "try" } else { "tries" }
            ),
        ),
    };
    let refused = DomainError::refused(kind, code, message);
    match failure {
        WrongBirthDate { tries_left } if tries_left > 0 => {
            refused.at_field("answers.date_of_birth")
        }
        Empty | Malformed | Unknown | NoMatch => refused.at_field("code"),
        _ => refused,
    }
}

impl RedeemFailure {
    fn reason(self) -> &'static str {
        match self {
            Self::Empty => "empty_code",
            Self::Malformed => "malformed_code",
            Self::Unknown => "unknown_code",
            Self::NoMatch => "no_match_with_birth_date",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Replaced => "replaced",
            Self::AlreadyUsed => "already_used",
            Self::PortalDisabled => "portal_access_disabled",
            Self::Outgrown => "parent_code_outgrown",
            Self::WrongBirthDate { tries_left: 0 } => "proxy_birth_date_mismatch_cancelled",
            Self::WrongBirthDate { .. } => "proxy_birth_date_mismatch",
            Self::CancelledByMisses => "cancelled_by_birth_date_misses",
            Self::InvitationCancelled => "invitation_cancelled",
        }
    }

    /// Only guesses count against the limits: a real code that is used or
    /// expired reveals nothing new.
    fn is_guess(self) -> bool {
        matches!(
            self,
            Self::Unknown | Self::NoMatch | Self::WrongBirthDate { .. }
        )
    }
}

impl Services {
    /// Redeems `raw_code`: for the signed-in portal account (a parent
    /// adding a child's record), or for a visitor setting up their account
    /// with `account`. `answers` are what the patient gave to the clinic's
    /// verification rule when it asked (see
    /// [`DomainError::MoreInformationNeeded`]). Every attempt, whatever
    /// makes it fail, is audited with the client's address and the reason;
    /// the door counts guesses against the redemption buckets.
    pub async fn redeem_code(
        &self,
        caller: &Caller,
        raw_code: &str,
        account: Option<AccountForm>,
        answers: Vec<GivenAnswer>,
    ) -> Result<Redeemed, DomainError> {
        let mut pass = self.enter(caller, &acts::CODE_REDEEM).await?;
        let done = self.redeem(&mut pass, raw_code, account, answers).await;
        pass.finish(done).await
    }

    /// Looks at `raw_code` without using it, as the registration page opens,
    /// so that a patient holding a cancelled, replaced, expired or used
    /// code is told before filling in the form. It answers as a redemption
    /// would, and counts the same: an unknown code is a guess against the
    /// redemption buckets, and the try is in the audit trail. While the
    /// clinic is under a guessing attack it does not look (the redemption
    /// itself asks for the second proof).
    pub async fn check_code(
        &self,
        caller: &Caller,
        raw_code: &str,
    ) -> Result<CodeCheck, DomainError> {
        let mut pass = self.enter(caller, &acts::CODE_CHECK).await?;
        let done = async {
            let checked = if pass.needs_second_proof() {
                pass.detail("not_checked_under_attack");
                CodeCheck::NotChecked
            } else {
                let (code, _) = self.usable_code(&mut pass, raw_code, None).await?;
                pass.detail(format!("code={}", code.id));
                CodeCheck::Usable(code.kind)
            };
            let tx = pass.write().await?;
            pass.commit(tx).await?;
            Ok(checked)
        }
        .await;
        pass.finish(done).await
    }

    /// The redemption, step by step: who redeems, which code, the clinic's
    /// rule, the account's password hashed with no transaction open, then
    /// one transaction that opens the account (if new), uses the code and
    /// unlocks what it opens.
    async fn redeem(
        &self,
        pass: &mut Passage<'_>,
        raw_code: &str,
        account: Option<AccountForm>,
        answers: Vec<GivenAnswer>,
    ) -> Result<Redeemed, DomainError> {
        let new_account = match (pass.caller().patient(), account) {
            (Some(_), _) => None,
            (None, Some(form)) => Some(NewAccount::parse(form)?),
            (None, None) => {
                return Err(DomainError::refused(
                    RefusalKind::Missing,
                    "account_required",
                    "Choose an email and a password to set up your account, or log in first.",
                ));
            }
        };
        let second_proof = if pass.needs_second_proof() {
            Some(second_proof(pass, &answers)?)
        } else {
            None
        };
        let (code, patient) = self.usable_code(pass, raw_code, second_proof).await?;
        if second_proof.is_none() {
            self.proxy_proves_birth_date(pass, &code, &patient, &answers)
                .await?;
        }
        self.clinic_rule_allows(pass, &patient, answers).await?;
        let new_account = match new_account {
            Some(new) => {
                self.accept_email(pass, &new.email).await?;
                let hash = self.hasher.hash(&new.password).await?;
                Some((new, hash))
            }
            None => None,
        };

        let mut tx = pass.write().await?;
        let (account, session, verification_sent) = match (pass.caller().patient(), new_account) {
            (Some(who), _) => {
                let (account, _) = accounts::get(&mut tx, who.account_id())
                    .await?
                    .ok_or(DomainError::InvalidToken)?;
                (account, None, false)
            }
            (None, Some((new, hash))) => {
                self.open_account(&mut tx, pass.tenant(), &code, &patient, new, hash)
                    .await?
            }
            (None, None) => unreachable!("a visitor's account was parsed above"),
        };
        if !mark_redeemed(&mut tx, code.id, account.id, Timestamp::now()).await? {
            // Someone used or cancelled it a moment ago.
            drop(tx);
            return Err(fail(pass, RedeemFailure::AlreadyUsed, Some(&code)));
        }
        let unlocked = unlock(&mut tx, pass, &code, &patient, &account).await?;
        let kind = match unlocked {
            Unlocked::Record(_) => "medical_records",
            Unlocked::Form { .. } => "smartform",
        };
        let by = match session {
            Some(_) => "new_account",
            None => "existing_account",
        };
        pass.as_actor(Actor::Account(account.id));
        pass.detail(format!("code={} kind={kind} {by}", code.id));
        pass.commit(tx).await?;
        Ok(Redeemed {
            account,
            unlocked,
            session,
            verification_sent,
        })
    }

    /// The code presented, if it is one, known, active, and (for a records
    /// code) on a record whose portal access is on; with its patient. With
    /// a `second_proof`, the record's date of birth must match it before
    /// anything about the code is told.
    async fn usable_code(
        &self,
        pass: &mut Passage<'_>,
        raw_code: &str,
        second_proof: Option<DateOfBirth>,
    ) -> Result<(CodeRecord, PatientRecord), DomainError> {
        let presented = match PresentedCode::parse(raw_code) {
            Ok(p) => p,
            Err(crate::codes::CodeInputError::Empty) => {
                return Err(fail(pass, RedeemFailure::Empty, None));
            }
            Err(crate::codes::CodeInputError::Malformed) => {
                return Err(fail(pass, RedeemFailure::Malformed, None));
            }
        };
        let hash = self.code_key.hash(pass.tenant().id, presented.canonical());
        let mut tx = pass.read().await?;
        let code = find_by_hash(&mut tx, &hash).await?;
        let patient = match &code {
            Some(c) => get_patient(&mut tx, c.patient_id).await?,
            None => None,
        };
        tx.commit().await?;
        if let Some(born) = second_proof
            && patient.as_ref().map(|p| p.date_of_birth) != Some(born)
        {
            return Err(fail(pass, RedeemFailure::NoMatch, None));
        }
        let Some(code) = code else {
            return Err(fail(pass, RedeemFailure::Unknown, None));
        };
        match code.status_at(Timestamp::now()) {
            CodeStatus::Active => {}
            CodeStatus::Redeemed => {
                return Err(fail(pass, RedeemFailure::AlreadyUsed, Some(&code)));
            }
            CodeStatus::Revoked if code.revoke_reason.as_deref() == Some("superseded") => {
                return Err(fail(pass, RedeemFailure::Replaced, Some(&code)));
            }
            CodeStatus::Revoked if code.revoke_reason.as_deref() == Some(CANCELLED_BY_PATIENT) => {
                return Err(fail(pass, RedeemFailure::InvitationCancelled, Some(&code)));
            }
            CodeStatus::Revoked if code.revoke_reason.as_deref() == Some(DOB_MISSES) => {
                return Err(fail(pass, RedeemFailure::CancelledByMisses, Some(&code)));
            }
            CodeStatus::Revoked => return Err(fail(pass, RedeemFailure::Revoked, Some(&code))),
            CodeStatus::Expired => return Err(fail(pass, RedeemFailure::Expired, Some(&code))),
        }
        // A form shows nothing of the record, so it needs no portal access.
        let opens_record = code.kind == CodeKind::MedicalRecords;
        let Some(patient) =
            patient.filter(|p| !opens_record || p.portal_access == PortalAccess::Enabled)
        else {
            return Err(fail(pass, RedeemFailure::PortalDisabled, Some(&code)));
        };
        pass.target(format!("patient:{}", patient.id));
        let stage = today_at(pass.tenant()).stage_of(patient.date_of_birth);
        if opens_record && code.relation == Relation::Parent && stage == Stage::Adult {
            return Err(fail(pass, RedeemFailure::Outgrown, Some(&code)));
        }
        Ok((code, patient))
    }

    /// A proxy code, in a clinic that asks for it, is redeemed only with
    /// the patient's date of birth (MyChart's rule): a handout that
    /// reaches the wrong hands is not enough. Three wrong dates cancel the
    /// code; each counts in its own transaction, so a refusal still
    /// counts. Missing, the date is asked for, which is no miss.
    async fn proxy_proves_birth_date(
        &self,
        pass: &mut Passage<'_>,
        code: &CodeRecord,
        patient: &PatientRecord,
        answers: &[GivenAnswer],
    ) -> Result<(), DomainError> {
        if code.kind != CodeKind::MedicalRecords
            || code.relation == Relation::Own
            || !pass.tenant().settings.proxy_code_requires_dob
        {
            return Ok(());
        }
        let Some(given) = answers.iter().find(|a| a.name == SECOND_PROOF) else {
            pass.failure_reason("proxy_birth_date_required");
            return Err(DomainError::MoreInformationNeeded(vec![AskedField {
                name: SECOND_PROOF.to_owned(),
                label: "The patient's date of birth".to_owned(),
                kind: AskedKind::Date,
            }]));
        };
        let given = DateOfBirth::parse(&given.value)?;
        if given == patient.date_of_birth {
            return Ok(());
        }
        let mut tx = pass.write().await?;
        let (misses, cancelled) = count_dob_miss(
            &mut tx,
            code.id,
            PROXY_BIRTH_DATE_TRIES,
            DOB_MISSES,
            Timestamp::now(),
        )
        .await?;
        tx.commit().await?;
        let tries_left = if cancelled {
            0
        } else {
            (PROXY_BIRTH_DATE_TRIES - misses).max(0)
        };
        let failure = RedeemFailure::WrongBirthDate { tries_left };
        pass.detail(format!("code={} dob_misses={misses}", code.id));
        Err(fail(pass, failure, Some(code)))
    }

    /// The clinic's own rule, if it has one, on a code that is otherwise
    /// good. A refusal counts as a guess: a rule that checks a date of
    /// birth must not become a way to guess one.
    async fn clinic_rule_allows(
        &self,
        pass: &mut Passage<'_>,
        patient: &PatientRecord,
        answers: Vec<GivenAnswer>,
    ) -> Result<(), DomainError> {
        let verdict = self
            .verify_with_plugin(
                pass,
                HookInput::CheckRedemption(Redemption {
                    answers: answers_for_plugin(answers),
                    facts: facts_of(patient),
                    settings: Vec::new(),
                }),
            )
            .await?;
        if verdict == Verdict::Allow {
            return Ok(());
        }
        if matches!(verdict, Verdict::Deny(_)) {
            pass.secret_missed(verdict.audit_reason());
        } else {
            pass.failure_reason(verdict.audit_reason());
        }
        Err(verdict
            .into_error("verification_denied")
            .expect("a verdict other than allow is an error"))
    }

    /// A visitor's new account, its session, and (unless typing the
    /// address the code was mailed to proved it) the mail that confirms
    /// its address.
    async fn open_account(
        &self,
        tx: &mut TenantTx,
        tenant: &crate::registry::Tenant,
        code: &CodeRecord,
        patient: &PatientRecord,
        new: NewAccount,
        hash: crate::auth::PasswordHash,
    ) -> Result<(PortalAccount, Option<PortalSessionIssued>, bool), DomainError> {
        let username = match &new.username {
            Some(u) => u.clone(),
            None => Username::parse(new.email.as_str())?,
        };
        // The code was mailed to the address on file, or to the address
        // the patient invited: typing that same address proves it.
        let mailed_to = match &code.invited_email {
            Some(invited) => EmailAddress::parse(invited).ok(),
            None => patient.email.clone(),
        };
        let verified = code.delivery == CodeDelivery::Email
            && mailed_to.as_ref().map(EmailAddress::normalized) == Some(new.email.normalized());
        let account = match accounts::insert(tx, &username, &new.email, &hash, verified).await {
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
        let shown = (code.kind == CodeKind::MedicalRecords).then_some(patient.id);
        let session = sessions::create(tx, account.id, shown, self.auth.portal_session_ttl).await?;
        if !verified {
            let token = tokens::issue(tx, account.id, Purpose::VerifyEmail, None).await?;
            outbox::enqueue(
                tx,
                MailKind::EmailVerification,
                &account.email,
                Some(patient.id),
                outbox::with_sealed_secrets(
                    &self.code_key,
                    tenant.id,
                    json!({
                        "clinic_name": tenant.display_name.as_str(),
                        "username": account.username.as_str(),
                        "token": token.expose(),
                    }),
                ),
            )
            .await?;
        }
        let issued = PortalSessionIssued {
            token: session.token,
            csrf_token: session.csrf_token,
            expires_at: session.expires_at,
            account: account.clone(),
        };
        Ok((account, Some(issued), !verified))
    }
}

/// What the code opens, for `account`: the record (a grant, shown at once
/// to a signed-in family), or its one form.
async fn unlock(
    tx: &mut TenantTx,
    pass: &Passage<'_>,
    code: &CodeRecord,
    patient: &PatientRecord,
    holder: &PortalAccount,
) -> Result<Unlocked, DomainError> {
    let account = holder.id;
    if code.kind == CodeKind::MedicalRecords {
        let (grant, new) =
            grants::insert(tx, account, patient.id, Some(code.id), code.relation).await?;
        if new && code.relation == Relation::Caregiver && code.sees_confidential {
            grants::set_sees_confidential(tx, grant, true).await?;
        }
        if new && code.relation != Relation::Own {
            tell_patient_of_new_proxy(
                tx,
                pass.tenant(),
                patient.id,
                code.relation,
                holder.username.as_str(),
            )
            .await?;
        }
        if let Some(who) = pass.caller().patient() {
            sessions::set_active_patient(tx, &who.session.id, patient.id).await?;
        }
        let record = grants::live(tx, account, patient.id, &today_at(pass.tenant()))
            .await?
            .ok_or(DomainError::NotFound("record"))?;
        return Ok(Unlocked::Record(record));
    }
    let assignment = assignment_for_code(tx, &code.id.to_string())
        .await?
        .ok_or(DomainError::NotFound("form"))?;
    link_account(tx, &assignment.id, account).await?;
    Ok(Unlocked::Form {
        assignment_id: assignment.id,
        form_title: assignment.form.title.to_string(),
    })
}

/// Records why a redemption failed (a guess counts against the buckets)
/// and the refusal to answer with.
fn fail(pass: &mut Passage<'_>, failure: RedeemFailure, code: Option<&CodeRecord>) -> DomainError {
    if let Some(code) = code {
        pass.target(format!("patient:{}", code.patient_id));
    }
    if failure.is_guess() {
        pass.secret_missed(failure.reason());
    } else {
        pass.failure_reason(failure.reason());
    }
    refusal(failure, pass.tenant().display_name.as_str())
}

/// Wrong dates of birth a proxy code survives, less one.
const PROXY_BIRTH_DATE_TRIES: i64 = 3;

/// Why an invitation's code was withdrawn, as its row says.
pub(crate) const CANCELLED_BY_PATIENT: &str = "cancelled_by_patient";

/// Why a proxy code was cancelled by its misses, as its row says.
const DOB_MISSES: &str = "dob_misses";

/// The answer that carries the second proof, named as the clinics' own
/// date-of-birth rules name it, so one answer serves both.
const SECOND_PROOF: &str = "date_of_birth";

/// The date of birth a redemption must bring while the clinic's
/// redemptions are under a guessing attack (its clinic-wide bucket is
/// full): a guesser has the words of no code and the birth date of no
/// patient, while a real patient has both. Missing, it is asked for, which
/// counts as no guess.
fn second_proof(
    pass: &mut Passage<'_>,
    answers: &[GivenAnswer],
) -> Result<DateOfBirth, DomainError> {
    match answers.iter().find(|a| a.name == SECOND_PROOF) {
        Some(given) => Ok(DateOfBirth::parse(&given.value)?),
        None => {
            pass.failure_reason("second_proof_required");
            Err(DomainError::MoreInformationNeeded(vec![AskedField {
                name: SECOND_PROOF.to_owned(),
                label: "Your date of birth".to_owned(),
                kind: AskedKind::Date,
            }]))
        }
    }
}
