//! Issuing, listing and revoking access codes.

use crate::acts;
use crate::codes::store::{
    self, CodeFilter, CodeKind, CodeRecord, CodeStatus, NewCode, PendingCode,
};
use crate::domain::PlainCode;
use crate::domain::{AccessCodeId, CodeDelivery, PatientId, Timestamp};
use crate::door::Caller;
use crate::error::DomainError;
use crate::family::{AgeRules, Relation, Stage};
use crate::outbox::{self, MailKind};
use crate::patients::{PatientRecord, PortalAccess, get_patient};
use crate::services::Services;
use crate::storage::StorageError;
use serde_json::json;

/// A code just issued. The plain code is in here once, for the issuing
/// response (and later the email or the handout), and is stored nowhere.
#[derive(Debug)]
pub struct IssuedCode {
    pub record: CodeRecord,
    pub code: PlainCode,
    pub patient: PatientRecord,
    /// The access-link mail queued for an emailed code.
    pub mail_id: Option<String>,
    /// Unused codes of the record this one replaced (they no longer work).
    pub replaced: u64,
}

impl Services {
    /// Issues a Medical Records Access Code for a patient, by a deliberate
    /// staff action, for an emailed link, a printed handout or a code read
    /// out in person. Whatever the delivery, the code opens the record, so
    /// the staff member must have confirmed their password in the last few
    /// minutes (`acts::CODE_ISSUE`).
    ///
    /// The code makes its holder `relation` to the patient: without one, a
    /// child's code is a parent's and anyone else's is their own. A code
    /// for the patient's own account cancels the previous one; a proxy
    /// code cancels nothing, since two parents may each need one.
    pub async fn issue_medical_records_code(
        &self,
        caller: &Caller,
        patient_id: PatientId,
        delivery: CodeDelivery,
        relation: Option<Relation>,
    ) -> Result<IssuedCode, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::CODE_ISSUE, format!("patient:{patient_id}"))
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let tenant = pass.tenant();
            let mut tx = pass.write().await?;
            let patient = get_patient(&mut tx, patient_id)
                .await?
                .ok_or(DomainError::NotFound("patient"))?;
            if patient.portal_access != PortalAccess::Enabled {
                return Err(DomainError::Conflict {
                    code: "portal_access_disabled",
                    message: "turn on this patient's portal access before giving them a code"
                        .into(),
                });
            }
            if delivery == CodeDelivery::Email && patient.email.is_none() {
                return Err(DomainError::Conflict {
                    code: "no_email_on_file",
                    message: "this patient has no email address on file; add one or print the code instead"
                        .into(),
                });
            }
            let now = Timestamp::now();
            let stage = tenant.settings.day_at(now).stage_of(patient.date_of_birth);
            let relation = relation_for(relation, stage, &tenant.settings.age_rules)?;
            let superseded = if relation == Relation::Own {
                store::revoke_all_active(
                    &mut tx,
                    patient_id,
                    CodeFilter {
                        kind: Some(CodeKind::MedicalRecords),
                        relation: Some(Relation::Own),
                        ..Default::default()
                    },
                    Some(staff),
                    "superseded",
                    now,
                )
                .await?
            } else {
                0
            };
            let expires_at = now.plus(tenant.settings.code_lifetime.duration());
            // A clash of two random 51.7-bit codes is all but impossible; if
            // it happens, draw again rather than fail.
            let mut attempts = 0;
            let (id, code) = loop {
                attempts += 1;
                let code = PlainCode::generate();
                let hash = self.code_key.hash(tenant.id, &code.canonical());
                let id = AccessCodeId::generate();
                let new = NewCode {
                    id,
                    kind: CodeKind::MedicalRecords,
                    patient_id,
                    code_hash: &hash,
                    delivery,
                    issued_by: Some(staff),
                    issued_at: now,
                    expires_at,
                    form_assignment_id: None,
                    relation,
                    invitation: None,
                };
                match store::insert(&mut tx, &new).await {
                    Ok(()) => break (id, code),
                    Err(StorageError::UniqueViolation(_)) if attempts < 3 => continue,
                    Err(other) => return Err(other.into()),
                }
            };
            let mut detail = format!(
                "kind=medical_records delivery={delivery} code={id} relation={}",
                relation.as_str()
            );
            if superseded > 0 {
                detail.push_str(&format!(" superseded={superseded}"));
            }
            pass.detail(detail);
            let mail_id = match (&patient.email, delivery) {
                (Some(email), CodeDelivery::Email) => Some(
                    outbox::enqueue(
                        &mut tx,
                        MailKind::AccessLink,
                        email,
                        Some(patient_id),
                        outbox::with_sealed_secrets(
                            &self.code_key,
                            tenant.id,
                            json!({
                                "clinic_name": tenant.display_name.as_str(),
                                "patient_display_name": patient.full_name.as_str(),
                                "code": code.display(),
                                "expires_at": expires_at.to_rfc3339(),
                            }),
                        ),
                    )
                    .await?,
                ),
                _ => None,
            };
            let record = store::get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("access code"))?;
            pass.commit(tx).await?;
            Ok(IssuedCode {
                record,
                code,
                patient,
                mail_id,
                replaced: superseded,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Records that a code's handout was printed, as sending is recorded.
    pub async fn record_handout_printed(
        &self,
        caller: &Caller,
        issued: &IssuedCode,
    ) -> Result<(), DomainError> {
        let target = format!("patient:{}", issued.patient.id);
        let mut pass = self.enter_about(caller, &acts::CODE_PRINT, target).await?;
        let done = async {
            let tx = pass.write().await?;
            pass.detail(format!("code={}", issued.record.id));
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// Cancels an unused code, such as one sent to the wrong address.
    pub async fn revoke_code(
        &self,
        caller: &Caller,
        id: AccessCodeId,
    ) -> Result<CodeRecord, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::CODE_REVOKE, format!("code:{id}"))
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let mut tx = pass.write().await?;
            let now = Timestamp::now();
            let record = store::get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("access code"))?;
            pass.target(format!("patient:{}", record.patient_id));
            pass.detail(format!("code={id}"));
            match record.status_at(now) {
                CodeStatus::Active => {}
                CodeStatus::Redeemed => {
                    return Err(DomainError::Conflict {
                        code: "code_already_redeemed",
                        message: "this code has been used; revoke the access it gave instead"
                            .into(),
                    });
                }
                CodeStatus::Revoked => {
                    return Err(DomainError::Conflict {
                        code: "code_already_revoked",
                        message: "this code was already cancelled".into(),
                    });
                }
                CodeStatus::Expired => {
                    return Err(DomainError::Conflict {
                        code: "code_expired",
                        message: "this code has expired and can no longer be used".into(),
                    });
                }
            }
            store::revoke(&mut tx, id, Some(staff), "revoked_by_staff", now).await?;
            let record = store::get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("access code"))?;
            pass.commit(tx).await?;
            Ok(record)
        }
        .await;
        pass.finish(done).await
    }

    /// Every code ever issued for a patient, newest first.
    pub async fn codes_of_patient(
        &self,
        caller: &Caller,
        patient: PatientId,
    ) -> Result<Vec<CodeRecord>, DomainError> {
        let pass = self
            .enter_about(caller, &acts::CODES_READ, format!("patient:{patient}"))
            .await?;
        let done = async {
            let mut tx = pass.read().await?;
            if get_patient(&mut tx, patient).await?.is_none() {
                return Err(DomainError::NotFound("patient"));
            }
            let codes = store::for_patient(&mut tx, patient).await?;
            tx.commit().await?;
            Ok(codes)
        }
        .await;
        pass.finish(done).await
    }

    /// The follow-up list: codes issued and not yet redeemed, the soonest
    /// to expire first.
    pub async fn pending_codes(
        &self,
        caller: &Caller,
        limit: u32,
    ) -> Result<Vec<PendingCode>, DomainError> {
        let pass = self.enter(caller, &acts::CODES_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let pending = store::pending(&mut tx, Timestamp::now(), limit.clamp(1, 500)).await?;
            tx.commit().await?;
            Ok(pending)
        }
        .await;
        pass.finish(done).await
    }
}

/// The relation a new code grants: the one asked for if the patient's age
/// allows it, else a refusal that says which to issue instead.
fn relation_for(
    asked: Option<Relation>,
    stage: Stage,
    rules: &AgeRules,
) -> Result<Relation, DomainError> {
    let limited_from = rules.limited_from();
    let adult_at = rules.adult_at();
    let refuse = |message: String| {
        DomainError::Invalid(crate::domain::InvalidValue {
            field: "relation",
            reason: message,
        })
    };
    let Some(asked) = asked else {
        return Ok(Relation::presumed_for(stage));
    };
    if Relation::allowed_for(stage).contains(&asked) {
        return Ok(asked);
    }
    Err(refuse(match asked {
        Relation::Own => format!(
            "cannot be self for a child under {limited_from}: a child's record is opened by a parent or \
             guardian, so issue a parent code"
        ),
        Relation::Parent => format!(
            "cannot be parent for a patient aged {adult_at} or over: issue a caregiver code, with the \
             patient's consent, or a code of their own"
        ),
        Relation::Caregiver => format!(
            "cannot be caregiver for a patient under {adult_at}: a minor's proxy is a parent or guardian"
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_grants_only_what_the_patients_age_allows() {
        let rules = AgeRules::default();
        assert_eq!(
            relation_for(None, Stage::Child, &rules).unwrap(),
            Relation::Parent
        );
        assert_eq!(
            relation_for(None, Stage::Teen, &rules).unwrap(),
            Relation::Own
        );
        assert_eq!(
            relation_for(None, Stage::Adult, &rules).unwrap(),
            Relation::Own
        );
        let teen_parent = relation_for(Some(Relation::Parent), Stage::Teen, &rules);
        assert_eq!(teen_parent.unwrap(), Relation::Parent);
        for (asked, stage) in [
            (Relation::Own, Stage::Child),
            (Relation::Parent, Stage::Adult),
            (Relation::Caregiver, Stage::Teen),
        ] {
            match relation_for(Some(asked), stage, &rules) {
                Err(DomainError::Invalid(invalid)) => assert_eq!(invalid.field, "relation"),
                other => panic!("{asked:?} at {stage:?} gave {other:?}"),
            }
        }
    }
}
