use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::model::{Answers, FormDefinition};
use super::store::{self, AssignmentRecord, AssignmentStatus, Form};
use crate::audit::{self, Actor, AuditEvent, ClientInfo};
use crate::codes::{CodeKind, NewCode, PlainCode, insert_code};
use crate::domain::{
    AccessCodeId, Action, CodeDelivery, PatientId, Permission, Resource, Timestamp,
};
use crate::error::{DomainError, RefusalKind};
use crate::outbox::{self, MailKind};
use crate::patients::get_patient;
use crate::portal::PortalAuthenticated;
use crate::registry::Tenant;
use crate::services::Services;
use crate::staff::StaffAuthenticated;
use crate::storage::StorageError;

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

impl Services {
    pub async fn form_create(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        definition: &FormDefinition,
        client: &ClientInfo,
    ) -> Result<Form, DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Forms, Action::Write),
            )
            .await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let form = store::insert_form(
            &mut tx,
            &definition.title,
            &definition.questions,
            &format!("staff:{}", who.staff_id()),
        )
        .await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "form.create", client)
                .target(format!("form:{}", form.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(form)
    }

    pub async fn forms(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
    ) -> Result<Vec<Form>, DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Forms, Action::Read),
            )
            .await?;
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let forms = store::forms(&mut tx).await?;
        tx.commit().await?;
        Ok(forms)
    }

    /// Assigns a form to a patient. If the patient's portal account is
    /// known, the form goes straight to it and no code is issued; otherwise
    /// a SmartForm Access Code is issued and mailed automatically (or, with
    /// no email on file, returned to hand over).
    pub async fn form_assign(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient_id: PatientId,
        form_id: &str,
        client: &ClientInfo,
    ) -> Result<Assignment, DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Forms, Action::Write),
            )
            .await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let patient = get_patient(&mut tx, patient_id)
            .await?
            .ok_or(DomainError::NotFound("patient"))?;
        let form = store::form(&mut tx, form_id).await?.ok_or_else(not_found)?;
        let account = crate::portal::known_account(&mut tx, patient_id).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let by = format!("staff:{}", who.staff_id());
        store::insert_assignment(&mut tx, &id, &form, patient_id, account, &by).await?;
        let actor = Actor::Staff(who.staff_id());
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
                    issued_by: Some(who.staff_id()),
                    issued_at: now,
                    expires_at: now.plus(SMARTFORM_CODE_LIFETIME),
                    form_assignment_id: Some(&id),
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
            audit::record(
                &mut tx,
                AuditEvent::success(actor.clone(), "code.issue", client)
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
                        json!({
                            "clinic_name": tenant.display_name.as_str(),
                            "patient_display_name": patient.full_name.as_str(),
                            "form_title": form.title.as_str(),
                            "code": code.display(),
                            "expires_at": now.plus(SMARTFORM_CODE_LIFETIME).to_rfc3339(),
                        }),
                    )
                    .await?;
                    AssignedVia::CodeEmailed
                }
                None => AssignedVia::CodeToHandOver(code),
            }
        };
        audit::record(
            &mut tx,
            AuditEvent::success(actor, "form.assign", client)
                .target(format!("patient:{patient_id}"))
                .reason(format!("form={} assignment={id}", form.id)),
        )
        .await?;
        let record = store::assignment(&mut tx, &id)
            .await?
            .ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(Assignment { record, via })
    }

    /// A patient's forms and what they answered.
    pub async fn forms_of_patient(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient: PatientId,
    ) -> Result<Vec<AssignmentRecord>, DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Forms, Action::Read),
            )
            .await?;
        let mut tx = self.db.tenant_read(tenant.id).await?;
        if get_patient(&mut tx, patient).await?.is_none() {
            return Err(DomainError::NotFound("patient"));
        }
        let list = store::assignments_of_patient(&mut tx, patient).await?;
        tx.commit().await?;
        Ok(list)
    }

    /// The forms waiting for (or filled in by) this portal account.
    pub async fn portal_forms(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
    ) -> Result<Vec<AssignmentRecord>, DomainError> {
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let list = store::assignments_of_account(&mut tx, who.account_id()).await?;
        tx.commit().await?;
        Ok(list)
    }

    pub async fn portal_form(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
        id: &str,
    ) -> Result<AssignmentRecord, DomainError> {
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let found = store::assignment(&mut tx, id).await?;
        tx.commit().await?;
        found
            .filter(|a| a.account_id == Some(who.account_id()))
            .ok_or_else(not_found)
    }

    /// Saves a patient's answers; with `submit`, hands the form in (all
    /// required questions answered), after which it no longer changes.
    pub async fn portal_form_answer(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
        id: &str,
        raw: BTreeMap<String, String>,
        submit: bool,
        client: &ClientInfo,
    ) -> Result<AssignmentRecord, DomainError> {
        let current = self.portal_form(tenant, who, id).await?;
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
        let mut tx = self.db.tenant_write(tenant.id).await?;
        if !store::save_answers(&mut tx, id, &answers, submit).await? {
            return Err(already_submitted());
        }
        if submit {
            audit::record(
                &mut tx,
                AuditEvent::success(Actor::Account(who.account_id()), "form.submit", client)
                    .target(format!("patient:{}", current.patient_id))
                    .reason(format!("assignment={id}")),
            )
            .await?;
        }
        let record = store::assignment(&mut tx, id)
            .await?
            .ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(record)
    }
}

fn already_submitted() -> DomainError {
    DomainError::refused(
        RefusalKind::Conflict,
        "form_already_submitted",
        "This form has been handed in already. Contact the clinic to change an answer.",
    )
}
