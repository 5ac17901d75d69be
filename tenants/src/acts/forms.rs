use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::acts;
use crate::audit::{self, AuditEvent};
use crate::codes::{CodeKind, NewCode, PlainCode, insert_code};
use crate::domain::{AccessCodeId, AccountId, CodeDelivery, PatientId, Timestamp};
use crate::door::Caller;
use crate::error::{DomainError, RefusalKind};
use crate::outbox::{self, MailKind};
use crate::patients::get_patient;
use crate::services::Services;
use crate::smartforms::model::{Answers, FormDefinition};
use crate::smartforms::store::{self, AssignmentRecord, AssignmentStatus, Form};
use crate::storage::{StorageError, TenantTx};

/// How long a SmartForm code works: long enough to fill a form in before
/// an appointment.
pub const SMARTFORM_CODE_LIFETIME: Duration = Duration::from_secs(14 * 24 * 3600);

/// How an assigned form reaches the patient.
#[derive(Debug)]
pub enum AssignedVia {
    /// The patient's portal account is known: the form is already there.
    Account,
    /// A SmartForm code was queued for email.
    CodeEmailed,
    /// No email on file: the code, to hand over or print. Shown once.
    CodeToHandOver(PlainCode),
}

#[derive(Debug)]
pub struct Assignment {
    pub record: AssignmentRecord,
    pub via: AssignedVia,
}

fn not_found() -> DomainError {
    DomainError::NotFound("form")
}

/// An assignment that reached this portal account, or `NotFound`.
async fn own_assignment(
    tx: &mut TenantTx,
    account: AccountId,
    id: &str,
) -> Result<AssignmentRecord, DomainError> {
    store::assignment(tx, id)
        .await?
        .filter(|a| a.account_id == Some(account))
        .ok_or_else(not_found)
}

impl Services {
    pub async fn form_create(
        &self,
        caller: &Caller,
        definition: &FormDefinition,
    ) -> Result<Form, DomainError> {
        let mut pass = self.enter(caller, &acts::FORM_CREATE).await?;
        let done = async {
            let staff = pass.staff_id()?;
            let mut tx = pass.write().await?;
            let form = store::insert_form(
                &mut tx,
                &definition.title,
                &definition.questions,
                &format!("staff:{staff}"),
            )
            .await?;
            pass.target(format!("form:{}", form.id));
            pass.commit(tx).await?;
            Ok(form)
        }
        .await;
        pass.finish(done).await
    }

    pub async fn forms(&self, caller: &Caller) -> Result<Vec<Form>, DomainError> {
        let pass = self.enter(caller, &acts::FORMS_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let forms = store::forms(&mut tx).await?;
            tx.commit().await?;
            Ok(forms)
        }
        .await;
        pass.finish(done).await
    }

    /// Assigns a form to a patient. If the patient's portal account is
    /// known, the form goes straight to it and no code is issued; otherwise
    /// a SmartForm Access Code is issued and mailed automatically (or, with
    /// no email on file, returned to hand over).
    pub async fn form_assign(
        &self,
        caller: &Caller,
        patient_id: PatientId,
        form_id: &str,
    ) -> Result<Assignment, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::FORM_ASSIGN, format!("patient:{patient_id}"))
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let tenant = pass.tenant();
            let mut tx = pass.write().await?;
            let patient = get_patient(&mut tx, patient_id)
                .await?
                .ok_or(DomainError::NotFound("patient"))?;
            let form = store::form(&mut tx, form_id).await?.ok_or_else(not_found)?;
            let account = crate::portal::known_account(&mut tx, patient_id).await?;
            let id = uuid::Uuid::now_v7().to_string();
            let by = format!("staff:{staff}");
            store::insert_assignment(&mut tx, &id, &form, patient_id, account, &by).await?;
            let via = if account.is_some() {
                AssignedVia::Account
            } else {
                let now = Timestamp::now();
                let delivery = if patient.email.is_some() {
                    CodeDelivery::Email
                } else {
                    CodeDelivery::Print
                };
                let code = PlainCode::generate();
                let hash = self.code_key.hash(tenant.id, &code.canonical());
                let code_id = AccessCodeId::generate();
                insert_code(
                    &mut tx,
                    &NewCode {
                        id: code_id,
                        kind: CodeKind::SmartForm,
                        patient_id,
                        code_hash: &hash,
                        delivery,
                        issued_by: Some(staff),
                        issued_at: now,
                        expires_at: now.plus(SMARTFORM_CODE_LIFETIME),
                        form_assignment_id: Some(&id),
                        relation: crate::family::Relation::Own,
                        invitation: None,
                    },
                )
                .await
                .map_err(|e| match e {
                    StorageError::UniqueViolation(_) => DomainError::Conflict {
                        code: "try_again",
                        message: "please try again".into(),
                    },
                    other => other.into(),
                })?;
                // The code is issued as part of the assignment, with no step
                // of its own, but the trail shows it like any other code.
                audit::record(
                    &mut tx,
                    AuditEvent::success(
                        pass.caller().actor(),
                        acts::CODE_ISSUE.name,
                        pass.client(),
                    )
                    .target(format!("patient:{patient_id}"))
                    .reason(format!(
                        "kind=smartform delivery={delivery} code={code_id} automatic"
                    )),
                )
                .await?;
                match &patient.email {
                    Some(email) => {
                        outbox::enqueue(
                            &mut tx,
                            MailKind::SmartformInvitation,
                            email,
                            Some(patient_id),
                            outbox::with_sealed_secrets(
                                &self.code_key,
                                tenant.id,
                                json!({
                                    "clinic_name": tenant.display_name.as_str(),
                                    "patient_display_name": patient.full_name.as_str(),
                                    "form_title": form.title.as_str(),
                                    "code": code.display(),
                                    "expires_at": now.plus(SMARTFORM_CODE_LIFETIME).to_rfc3339(),
                                }),
                            ),
                        )
                        .await?;
                        AssignedVia::CodeEmailed
                    }
                    None => AssignedVia::CodeToHandOver(code),
                }
            };
            pass.detail(format!("form={} assignment={id}", form.id));
            let record = store::assignment(&mut tx, &id)
                .await?
                .ok_or_else(not_found)?;
            pass.commit(tx).await?;
            Ok(Assignment { record, via })
        }
        .await;
        pass.finish(done).await
    }

    /// A patient's forms and what they answered.
    pub async fn forms_of_patient(
        &self,
        caller: &Caller,
        patient: PatientId,
    ) -> Result<Vec<AssignmentRecord>, DomainError> {
        let pass = self
            .enter_about(caller, &acts::FORMS_READ, format!("patient:{patient}"))
            .await?;
        let done = async {
            let mut tx = pass.read().await?;
            if get_patient(&mut tx, patient).await?.is_none() {
                return Err(DomainError::NotFound("patient"));
            }
            let list = store::assignments_of_patient(&mut tx, patient).await?;
            tx.commit().await?;
            Ok(list)
        }
        .await;
        pass.finish(done).await
    }

    /// The forms waiting for (or filled in by) this portal account.
    pub async fn portal_forms(
        &self,
        caller: &Caller,
    ) -> Result<Vec<AssignmentRecord>, DomainError> {
        let pass = self.enter(caller, &acts::PORTAL_FORMS).await?;
        let done = async {
            let account = pass.account_id()?;
            let mut tx = pass.read().await?;
            let list = store::assignments_of_account(&mut tx, account).await?;
            tx.commit().await?;
            Ok(list)
        }
        .await;
        pass.finish(done).await
    }

    /// One form that reached this portal account. A form comes by its
    /// assignment to the account (a SmartForm code gives no grant), so no
    /// grant is asked for.
    pub async fn portal_form(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<AssignmentRecord, DomainError> {
        let pass = self.enter(caller, &acts::PORTAL_FORMS).await?;
        let done = async {
            let account = pass.account_id()?;
            let mut tx = pass.read().await?;
            let found = own_assignment(&mut tx, account, id).await?;
            tx.commit().await?;
            Ok(found)
        }
        .await;
        pass.finish(done).await
    }

    /// Saves a patient's answers; with `submit`, hands the form in (all
    /// required questions answered), after which it no longer changes.
    /// A form handed in goes on the patient's trail; drafts, and attempts
    /// refused, on the assignment's.
    pub async fn portal_form_answer(
        &self,
        caller: &Caller,
        id: &str,
        raw: BTreeMap<String, String>,
        submit: bool,
    ) -> Result<AssignmentRecord, DomainError> {
        let act = if submit {
            &acts::PORTAL_FORM_ANSWER
        } else {
            &acts::PORTAL_FORM_SAVE
        };
        let mut pass = self.enter(caller, act).await?;
        let done = async {
            let account = pass.account_id()?;
            let mut tx = pass.write().await?;
            let current = own_assignment(&mut tx, account, id).await?;
            pass.target(format!("assignment:{id}"));
            if current.status == AssignmentStatus::Submitted {
                return Err(already_submitted());
            }
            let answers = Answers::parse(&current.form.questions, raw)?;
            if submit {
                let missing = answers.missing(&current.form.questions);
                if !missing.is_empty() {
                    return Err(DomainError::refused(
                        RefusalKind::Malformed,
                        "answers_missing",
                        format!(
                            "Please answer every required question first: {}.",
                            missing.join(", ")
                        ),
                    ));
                }
            }
            if !store::save_answers(&mut tx, id, &answers, submit).await? {
                return Err(already_submitted());
            }
            if submit {
                pass.target(format!("patient:{}", current.patient_id));
                pass.detail(format!("assignment={id}"));
            }
            let record = store::assignment(&mut tx, id)
                .await?
                .ok_or_else(not_found)?;
            pass.commit(tx).await?;
            Ok(record)
        }
        .await;
        pass.finish(done).await
    }
}

fn already_submitted() -> DomainError {
    DomainError::refused(
        RefusalKind::Conflict,
        "form_already_submitted",
        "This form has been handed in already. Contact the clinic to change an answer.",
    )
}
