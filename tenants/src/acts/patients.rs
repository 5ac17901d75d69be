//! What staff do with patient records.

use serde_json::json;

use crate::acts;
use crate::acts::plugin_rules::Verdict;
use crate::audit::{self, AuditEvent};
use crate::codes::revoke_active_codes_of;
use crate::domain::{
    DateOfBirth, DisplayName, EmailAddress, PatientId, PhoneNumber, Timestamp, ZipCode,
};
use crate::door::{Caller, Passage};
use crate::error::{DomainError, RefusalKind};
use crate::outbox::{self, MailKind};
use crate::patients::PatientQuery;
use crate::patients::store::{self, PatientRecord, PortalAccess};
use crate::services::Services;

/// A record about to be created.
#[derive(Debug, Clone)]
pub struct NewPatient {
    pub full_name: DisplayName,
    pub date_of_birth: DateOfBirth,
    pub email: Option<EmailAddress>,
    pub phone: Option<PhoneNumber>,
    pub home_zip: Option<ZipCode>,
}

/// Changes to a record; `None` leaves a field as it is, `Some(None)`
/// clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct PatientChanges {
    pub full_name: Option<DisplayName>,
    pub date_of_birth: Option<DateOfBirth>,
    pub email: Option<Option<EmailAddress>>,
    pub phone: Option<Option<PhoneNumber>>,
    pub home_zip: Option<Option<ZipCode>>,
}

/// What is missing before portal access may be enabled: an email to reach
/// the patient and a home zip code to confirm who they are.
pub fn portal_access_missing(patient: &PatientRecord) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if patient.email.is_none() {
        missing.push("email");
    }
    if patient.home_zip.is_none() {
        missing.push("home_zip");
    }
    missing
}

fn requirements_error(missing: &[&str]) -> DomainError {
    DomainError::Conflict {
        code: "portal_requirements_missing",
        message: format!(
            "portal access needs {} on file first",
            missing
                .join(" and ")
                .replace("home_zip", "a home zip code")
                .replace("email", "an email address")
        ),
    }
}

/// Portal access switched: the record as it now is, and how many unused
/// codes turning it off cancelled.
#[derive(Debug)]
pub struct PortalAccessChange {
    pub record: PatientRecord,
    pub codes_cancelled: u64,
}

impl Services {
    pub async fn patient_create(
        &self,
        caller: &Caller,
        new: NewPatient,
    ) -> Result<PatientRecord, DomainError> {
        let mut pass = self.enter(caller, &acts::PATIENT_CREATE).await?;
        let done = async {
            let tenant = pass.tenant();
            let now = Timestamp::now();
            let mut record = PatientRecord {
                id: PatientId::generate(),
                full_name: new.full_name,
                date_of_birth: new.date_of_birth,
                email: new.email,
                phone: new.phone,
                home_zip: new.home_zip,
                portal_access: PortalAccess::Disabled,
                created_at: now,
                updated_at: now,
            };
            let target = format!("patient:{}", record.id);
            pass.target(target.clone());
            // Turned on at creation only when the clinic's rule, if any,
            // agrees; otherwise the record starts with access off, to be
            // turned on by hand once whatever the rule objects to is fixed.
            let mut rule_refused = None;
            if tenant.settings.auto_enable_portal_access
                && portal_access_missing(&record).is_empty()
            {
                match self.rule_on_portal_access(&pass, &record).await? {
                    Verdict::Allow => record.portal_access = PortalAccess::Enabled,
                    other => rule_refused = Some(other.audit_reason()),
                }
            }
            let mut tx = pass.write().await?;
            store::insert(&mut tx, &record).await?;
            // The switch turned (or not) at creation is recorded as the
            // switch's own act, beside the creation.
            let enable = acts::PATIENT_PORTAL_ENABLE.name;
            if record.portal_access == PortalAccess::Enabled {
                audit::record(
                    &mut tx,
                    AuditEvent::success(pass.caller().actor(), enable, pass.client())
                        .target(target)
                        .reason("enabled_on_creation"),
                )
                .await?;
            } else if let Some(reason) = rule_refused {
                audit::record(
                    &mut tx,
                    AuditEvent::failure(pass.caller().actor(), enable, reason, pass.client())
                        .target(target),
                )
                .await?;
            }
            pass.commit(tx).await?;
            Ok(record)
        }
        .await;
        pass.finish(done).await
    }

    /// Whether changing this record's email is a change of where the
    /// patient's access goes (see `store::portal_tie`): then it needs the
    /// `portal_security` permission and a password confirmation. Pages ask
    /// before they draw the field.
    pub async fn patient_email_guarded(
        &self,
        caller: &Caller,
        id: PatientId,
    ) -> Result<bool, DomainError> {
        let pass = self.enter(caller, &acts::PATIENT_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let record = store::get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("patient"))?;
            let tie = store::portal_tie(&mut tx, &record).await?;
            tx.commit().await?;
            Ok(tie.is_some())
        }
        .await;
        pass.finish(done).await
    }

    pub async fn patient_get(
        &self,
        caller: &Caller,
        id: PatientId,
    ) -> Result<PatientRecord, DomainError> {
        // Not named after the record: a look-up of an archived record is
        // refused as not found, and that is no part of the record's story.
        let pass = self.enter(caller, &acts::PATIENT_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let found = store::get(&mut tx, id).await?;
            tx.commit().await?;
            found.ok_or(DomainError::NotFound("patient"))
        }
        .await;
        pass.finish(done).await
    }

    /// Records `term` finds (a name in any word order, a date of birth, an
    /// email or a phone number; see [`PatientQuery`]), alphabetically, a
    /// page at a time.
    pub async fn patient_search(
        &self,
        caller: &Caller,
        term: Option<&str>,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Vec<PatientRecord>, DomainError> {
        let pass = self.enter(caller, &acts::PATIENT_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let found = store::search(
                &mut tx,
                &PatientQuery::parse(term.unwrap_or_default()),
                limit.clamp(1, 200),
                after,
            )
            .await?;
            tx.commit().await?;
            Ok(found)
        }
        .await;
        pass.finish(done).await
    }

    /// Changes a record. Changing the email of a patient tied to the
    /// portal (access on now or ever, an account that holds or held the
    /// record, or a code ever issued; see `store::portal_tie`) changes where
    /// their access goes: it is `acts::PATIENT_EMAIL_CHANGE`, which needs
    /// the `portal_security` permission (owners and admins) and a fresh
    /// password confirmation, and the old address is told.
    pub async fn patient_update(
        &self,
        caller: &Caller,
        id: PatientId,
        changes: PatientChanges,
    ) -> Result<PatientRecord, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::PATIENT_UPDATE, format!("patient:{id}"))
            .await?;
        let done = async {
            let tenant = pass.tenant();
            let mut tx = pass.read().await?;
            let before = store::get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("patient"))?;
            let tie = store::portal_tie(&mut tx, &before).await?;
            tx.commit().await?;
            let mut after = before.clone();
            if let Some(v) = changes.full_name {
                after.full_name = v;
            }
            if let Some(v) = changes.date_of_birth {
                after.date_of_birth = v;
            }
            if let Some(v) = changes.phone {
                after.phone = v;
            }
            if let Some(v) = changes.home_zip {
                after.home_zip = v;
            }
            if let Some(v) = changes.email {
                after.email = v;
            }
            let email_changed = before.email.as_ref().map(EmailAddress::normalized)
                != after.email.as_ref().map(EmailAddress::normalized);
            if before.portal_access == PortalAccess::Enabled {
                let missing = portal_access_missing(&after);
                if !missing.is_empty() {
                    return Err(DomainError::Conflict {
                        code: "portal_requirements_missing",
                        message: format!(
                            "portal access is enabled, so the record must keep {}; disable portal access first",
                            missing
                                .join(" and ")
                                .replace("home_zip", "a home zip code")
                                .replace("email", "an email address")
                        ),
                    });
                }
            }
            let sensitive = tie.filter(|_| email_changed);
            if let Some(tie) = sensitive {
                pass.escalate(&acts::PATIENT_EMAIL_CHANGE).await?;
                pass.detail(tie);
            }
            let mut tx = pass.write().await?;
            let current = store::get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("patient"))?;
            // A code issued or a grant made since the look above would have
            // made the change sensitive; the change is not let through
            // unguarded.
            let tied_meanwhile = email_changed
                && sensitive.is_none()
                && store::portal_tie(&mut tx, &current)
                    .await?
                    .is_some();
            if current.updated_at != before.updated_at
                || current.portal_access != before.portal_access
                || tied_meanwhile
            {
                return Err(DomainError::Conflict {
                    code: "edit_conflict",
                    message: "someone changed this record meanwhile; reload it and try again"
                        .into(),
                });
            }
            after.updated_at = Timestamp::now();
            store::update(&mut tx, &after).await?;
            // Codes mailed to the old address must not outlive it there.
            if email_changed {
                let cancelled =
                    crate::codes::revoke_emailed_codes_of(&mut tx, id, Some(pass.staff_id()?))
                        .await?;
                if cancelled > 0 {
                    pass.detail(match sensitive {
                        Some(tie) => format!("{tie} emailed_codes_cancelled={cancelled}"),
                        None => format!("emailed_codes_cancelled={cancelled}"),
                    });
                }
            }
            if sensitive.is_some()
                && let Some(old) = &before.email
            {
                outbox::enqueue(
                    &mut tx,
                    MailKind::EmailChangeNotice,
                    old,
                    Some(id),
                    json!({
                        "clinic_name": tenant.display_name.as_str(),
                        "patient_display_name": before.full_name.as_str(),
                        "new_email_domain": after.email.as_ref().map(|e| e.domain().to_owned()),
                    }),
                )
                .await?;
            }
            pass.commit(tx).await?;
            Ok(after)
        }
        .await;
        pass.finish(done).await
    }

    /// Turns portal access on or off. Turning it on needs an email and a
    /// home zip code on file; turning it off suspends every grant to the
    /// record and cancels its unused codes, which the answer counts so
    /// that staff can tell the patient.
    pub async fn patient_set_portal_access(
        &self,
        caller: &Caller,
        id: PatientId,
        access: PortalAccess,
    ) -> Result<PortalAccessChange, DomainError> {
        let act = match access {
            PortalAccess::Enabled => &acts::PATIENT_PORTAL_ENABLE,
            PortalAccess::Disabled => &acts::PATIENT_PORTAL_DISABLE,
        };
        // Named after the record once the switch is about to turn (or the
        // clinic's rule refuses it): a refusal for what is missing on file
        // is recorded, but is no part of the record's access history.
        let mut pass = self.enter(caller, act).await?;
        let done = async {
            let staff = pass.staff_id()?;
            if access == PortalAccess::Enabled {
                self.portal_access_rule_allows(&mut pass, id).await?;
            }
            let mut tx = pass.write().await?;
            let mut record = store::get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("patient"))?;
            if record.portal_access == access {
                pass.target(format!("patient:{id}"));
                pass.detail("unchanged");
                pass.commit(tx).await?;
                return Ok(PortalAccessChange {
                    record,
                    codes_cancelled: 0,
                });
            }
            let mut codes_cancelled = 0;
            if access == PortalAccess::Enabled {
                let missing = portal_access_missing(&record);
                if !missing.is_empty() {
                    return Err(requirements_error(&missing));
                }
            } else {
                codes_cancelled =
                    revoke_active_codes_of(&mut tx, id, Some(staff), "portal_access_disabled")
                        .await?;
                if codes_cancelled > 0 {
                    pass.detail(format!("codes_cancelled={codes_cancelled}"));
                }
            }
            pass.target(format!("patient:{id}"));
            record.portal_access = access;
            record.updated_at = Timestamp::now();
            store::update(&mut tx, &record).await?;
            // A record the patient registered themselves, enabled by hand
            // because the email was never verified: the registering account
            // gets it, and proves the address through the password-reset
            // flow.
            if access == PortalAccess::Enabled
                && let Some(account) = store::registering_account(&mut tx, id).await?
            {
                crate::portal::grant_registered(&mut tx, account, id).await?;
            }
            pass.commit(tx).await?;
            Ok(PortalAccessChange {
                record,
                codes_cancelled,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Asks the clinic's rule before portal access is turned on by hand. A
    /// refusal is answered with the rule's reason (and audited with the
    /// verdict's); a rule that asks the patient for something cannot be
    /// answered by staff, so it refuses too.
    async fn portal_access_rule_allows(
        &self,
        pass: &mut Passage<'_>,
        id: PatientId,
    ) -> Result<(), DomainError> {
        let mut tx = pass.read().await?;
        let record = store::get(&mut tx, id)
            .await?
            .ok_or(DomainError::NotFound("patient"))?;
        tx.commit().await?;
        if record.portal_access == PortalAccess::Enabled
            || !portal_access_missing(&record).is_empty()
        {
            // Nothing to rule on: already on, or refused later for what
            // is missing.
            return Ok(());
        }
        let verdict = self.rule_on_portal_access(pass, &record).await?;
        let message = match &verdict {
            Verdict::Allow => return Ok(()),
            Verdict::Deny(reason) => reason.clone(),
            Verdict::Failed => crate::acts::RULE_FAILED.to_owned(),
            Verdict::AskFor(fields) => format!(
                "The clinic's rule asks the patient for {}, which cannot be given here.",
                fields
                    .iter()
                    .map(|f| f.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        pass.target(format!("patient:{id}"));
        pass.failure_reason(verdict.audit_reason());
        Err(DomainError::refused(
            RefusalKind::Forbidden,
            "verification_denied",
            message,
        ))
    }

    /// Archives a record: it leaves every list, its grants stop showing it,
    /// and its unused codes are cancelled. Nothing is erased.
    pub async fn patient_archive(&self, caller: &Caller, id: PatientId) -> Result<(), DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::PATIENT_ARCHIVE, format!("patient:{id}"))
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let mut tx = pass.write().await?;
            revoke_active_codes_of(&mut tx, id, Some(staff), "record_archived").await?;
            if !store::archive(&mut tx, id).await? {
                return Err(DomainError::NotFound("patient"));
            }
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }
}
