//! What staff do with patient records.

use serde_json::json;

use super::store::{self, PatientRecord, PortalAccess};
use crate::audit::{self, Actor, AuditEvent, ClientInfo};
use crate::codes::revoke_active_codes_of;
use crate::domain::{
    Action, DateOfBirth, DisplayName, EmailAddress, PatientId, Permission, PhoneNumber, Resource,
    Timestamp, ZipCode,
};
use crate::error::{DomainError, RefusalKind};
use crate::outbox::{self, MailKind};
use crate::plugins::Verdict;
use crate::registry::Tenant;
use crate::services::Services;
use crate::staff::StaffAuthenticated;

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

impl Services {
    pub async fn patient_create(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        new: NewPatient,
        client: &ClientInfo,
    ) -> Result<PatientRecord, DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Patients, Action::Write),
            )
            .await?;
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
        // Turned on at creation only when the clinic's rule, if any, agrees;
        // otherwise the record starts with access off, to be turned on by
        // hand once whatever the rule objects to is fixed.
        let mut rule_refused = None;
        if tenant.settings.auto_enable_portal_access && portal_access_missing(&record).is_empty() {
            match self.rule_on_portal_access(tenant, &record).await? {
                Verdict::Allow => record.portal_access = PortalAccess::Enabled,
                other => rule_refused = Some(other.audit_reason()),
            }
        }
        let mut tx = self.db.tenant_write(tenant.id).await?;
        store::insert(&mut tx, &record).await?;
        let actor = Actor::Staff(who.staff_id());
        let target = format!("patient:{}", record.id);
        audit::record(
            &mut tx,
            AuditEvent::success(actor.clone(), "patient.create", client).target(target.clone()),
        )
        .await?;
        if record.portal_access == PortalAccess::Enabled {
            audit::record(
                &mut tx,
                AuditEvent::success(actor, "patient.portal_access.enable", client)
                    .target(target)
                    .reason("enabled_on_creation"),
            )
            .await?;
        } else if let Some(reason) = rule_refused {
            audit::record(
                &mut tx,
                AuditEvent::failure(actor, "patient.portal_access.enable", reason, client)
                    .target(target),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    pub async fn patient_get(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        id: PatientId,
    ) -> Result<PatientRecord, DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Patients, Action::Read),
            )
            .await?;
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let found = store::get(&mut tx, id).await?;
        tx.commit().await?;
        found.ok_or(DomainError::NotFound("patient"))
    }

    /// Records whose name contains `term`, alphabetically, a page at a time.
    pub async fn patient_search(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        term: Option<&str>,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Vec<PatientRecord>, DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Patients, Action::Read),
            )
            .await?;
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let found = store::search(
            &mut tx,
            term.filter(|t| !t.trim().is_empty()),
            limit.clamp(1, 200),
            after,
        )
        .await?;
        tx.commit().await?;
        Ok(found)
    }

    /// Changes a record. Changing the email of a patient whose portal access
    /// is enabled is a sensitive act: it needs the `portal_security`
    /// permission (owners and admins), a fresh password confirmation, an
    /// audit entry, and a notice to the old address.
    pub async fn patient_update(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        id: PatientId,
        changes: PatientChanges,
        client: &ClientInfo,
    ) -> Result<PatientRecord, DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Patients, Action::Write),
            )
            .await?;
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let before = store::get(&mut tx, id)
            .await?
            .ok_or(DomainError::NotFound("patient"))?;
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
        let enabled = before.portal_access == PortalAccess::Enabled;
        if enabled {
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
        let actor = Actor::Staff(who.staff_id());
        let target = format!("patient:{id}");
        let sensitive = email_changed && enabled;
        if sensitive {
            let refusal = match self
                .authz
                .require(
                    tenant,
                    who.staff_id(),
                    Permission::new(Resource::PortalSecurity, Action::Write),
                )
                .await
            {
                Err(denied) => Some(("permission_denied", denied)),
                Ok(()) => self
                    .require_step_up(who)
                    .err()
                    .map(|e| ("step_up_required", e)),
            };
            if let Some((reason, err)) = refusal {
                self.record_refusal(
                    tenant,
                    actor,
                    "patient.email_change",
                    &target,
                    reason,
                    client,
                )
                .await?;
                return Err(err);
            }
        }
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let current = store::get(&mut tx, id)
            .await?
            .ok_or(DomainError::NotFound("patient"))?;
        if current.updated_at != before.updated_at || current.portal_access != before.portal_access
        {
            return Err(DomainError::Conflict {
                code: "edit_conflict",
                message: "someone changed this record meanwhile; reload it and try again".into(),
            });
        }
        after.updated_at = Timestamp::now();
        store::update(&mut tx, &after).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(actor.clone(), "patient.update", client).target(target.clone()),
        )
        .await?;
        if sensitive {
            audit::record(
                &mut tx,
                AuditEvent::success(actor, "patient.email_change", client)
                    .target(target)
                    .reason("portal_enabled"),
            )
            .await?;
            if let Some(old) = &before.email {
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
        }
        tx.commit().await?;
        Ok(after)
    }

    /// Turns portal access on or off. Turning it on needs an email and a
    /// home zip code on file; turning it off suspends every grant to the
    /// record and cancels its unused codes.
    pub async fn patient_set_portal_access(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        id: PatientId,
        access: PortalAccess,
        client: &ClientInfo,
    ) -> Result<PatientRecord, DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Patients, Action::Write),
            )
            .await?;
        if access == PortalAccess::Enabled {
            self.portal_access_rule_allows(tenant, who, id, client)
                .await?;
        }
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let mut record = store::get(&mut tx, id)
            .await?
            .ok_or(DomainError::NotFound("patient"))?;
        if record.portal_access == access {
            tx.commit().await?;
            return Ok(record);
        }
        if access == PortalAccess::Enabled {
            let missing = portal_access_missing(&record);
            if !missing.is_empty() {
                return Err(requirements_error(&missing));
            }
        } else {
            revoke_active_codes_of(&mut tx, id, Some(who.staff_id()), "portal_access_disabled")
                .await?;
        }
        record.portal_access = access;
        record.updated_at = Timestamp::now();
        store::update(&mut tx, &record).await?;
        // A record the patient registered themselves, enabled by hand
        // because the email was never verified: the registering account gets
        // it, and proves the address through the password-reset flow.
        if access == PortalAccess::Enabled
            && let Some(account) = store::registering_account(&mut tx, id).await?
        {
            crate::portal::grant_registered(&mut tx, account, id).await?;
        }
        let action = match access {
            PortalAccess::Enabled => "patient.portal_access.enable",
            PortalAccess::Disabled => "patient.portal_access.disable",
        };
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), action, client)
                .target(format!("patient:{id}")),
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Asks the clinic's rule before portal access is turned on by hand. A
    /// refusal is audited and answered with the rule's reason; a rule that
    /// asks the patient for something cannot be answered by staff, so it
    /// refuses too.
    async fn portal_access_rule_allows(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        id: PatientId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let record = store::get(&mut tx, id)
            .await?
            .ok_or(DomainError::NotFound("patient"))?;
        tx.commit().await?;
        if record.portal_access == PortalAccess::Enabled
            || !portal_access_missing(&record).is_empty()
        {
            // Nothing to rule on: already on, or refused below for what
            // is missing.
            return Ok(());
        }
        let verdict = self.rule_on_portal_access(tenant, &record).await?;
        let message = match &verdict {
            Verdict::Allow => return Ok(()),
            Verdict::Deny(reason) => reason.clone(),
            Verdict::AskFor(fields) => format!(
                "The clinic's rule asks the patient for {}, which cannot be given here.",
                fields
                    .iter()
                    .map(|f| f.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut tx = self.db.tenant_write(tenant.id).await?;
        audit::record(
            &mut tx,
            AuditEvent::failure(
                Actor::Staff(who.staff_id()),
                "patient.portal_access.enable",
                verdict.audit_reason(),
                client,
            )
            .target(format!("patient:{id}")),
        )
        .await?;
        tx.commit().await?;
        Err(DomainError::refused(
            RefusalKind::Forbidden,
            "verification_denied",
            message,
        ))
    }

    /// Archives a record: it leaves every list, its grants stop showing it,
    /// and its unused codes are cancelled. Nothing is erased.
    pub async fn patient_archive(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        id: PatientId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Patients, Action::Write),
            )
            .await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        revoke_active_codes_of(&mut tx, id, Some(who.staff_id()), "record_archived").await?;
        if !store::archive(&mut tx, id).await? {
            return Err(DomainError::NotFound("patient"));
        }
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "patient.archive", client)
                .target(format!("patient:{id}")),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a refused attempt in a transaction of its own, since the
    /// attempt's own transaction is abandoned.
    pub(crate) async fn record_refusal(
        &self,
        tenant: &Tenant,
        actor: Actor,
        action: &'static str,
        target: &str,
        reason: &str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let mut tx = self.db.tenant_write(tenant.id).await?;
        audit::record(
            &mut tx,
            AuditEvent::failure(actor, action, reason, client)
                .target(target.to_owned())
                .outcome(audit::Outcome::Denied),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
