//! The access a code gave: who holds a patient's record, and taking it
//! away.

use crate::acts;
use crate::domain::{GrantId, PatientId, Timestamp};
use crate::door::Caller;
use crate::error::DomainError;
use crate::family::{Access, ClinicDay, Relation};
use crate::patients::get_patient;
use crate::portal::grants::*;
use crate::services::Services;

impl Services {
    /// Who can see a patient's record through the portal, and who could.
    pub async fn grants_of_patient(
        &self,
        caller: &Caller,
        patient: PatientId,
    ) -> Result<Vec<GrantRecord>, DomainError> {
        let pass = self
            .enter_about(caller, &acts::GRANTS_READ, format!("patient:{patient}"))
            .await?;
        let done = async {
            let mut tx = pass.read().await?;
            let record = get_patient(&mut tx, patient)
                .await?
                .ok_or(DomainError::NotFound("patient"))?;
            let mut list = for_patient(&mut tx, patient).await?;
            tx.commit().await?;
            // A parent's proxy ends on the adult birthday, whether or not
            // the birthday job has recorded it yet.
            let day = today_at(pass.tenant());
            for grant in &mut list {
                if grant.is_live()
                    && day.access(
                        grant.relation,
                        record.date_of_birth,
                        grant.sees_confidential,
                    ) == Access::Ended
                {
                    grant.ended_reason = Some(EndedReason::AgedOut);
                }
            }
            Ok(list)
        }
        .await;
        pass.finish(done).await
    }

    /// Takes a record away from a portal account, such as one reached by
    /// a link sent to the wrong person. The account's very next request
    /// no longer shows it.
    pub async fn revoke_grant(
        &self,
        caller: &Caller,
        id: GrantId,
    ) -> Result<GrantRecord, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::GRANT_REVOKE, format!("grant:{id}"))
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let mut tx = pass.write().await?;
            let grant = get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("grant"))?;
            pass.target(format!("patient:{}", grant.patient_id));
            pass.detail(format!("grant={id} account={}", grant.account_id));
            if !revoke(&mut tx, id, staff).await? {
                return Err(DomainError::Conflict {
                    code: "grant_already_revoked",
                    message: "this access was already revoked".into(),
                });
            }
            let grant = get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("grant"))?;
            if grant.relation != Relation::Own {
                tell_proxy_it_ended(&mut tx, pass.tenant(), &grant, EndedReason::Revoked).await?;
            }
            pass.commit(tx).await?;
            Ok(grant)
        }
        .await;
        pass.finish(done).await
    }
}

/// Tells a parent or caregiver, at their confirmed address, that their
/// access to a record ended, and why; not whose record it was, as mail
/// passes through other hands.
pub(crate) async fn tell_proxy_it_ended(
    tx: &mut crate::storage::TenantTx,
    tenant: &crate::registry::Tenant,
    grant: &GrantRecord,
    reason: EndedReason,
) -> Result<(), DomainError> {
    let Some((account, _)) = crate::portal::accounts::get(tx, grant.account_id).await? else {
        return Ok(());
    };
    if account.email_verified_at.is_none() {
        return Ok(());
    }
    crate::outbox::enqueue(
        tx,
        crate::outbox::MailKind::ProxyEnded,
        &account.email,
        Some(grant.patient_id),
        serde_json::json!({
            "clinic_name": tenant.display_name.as_str(),
            "reason": reason.as_str(),
        }),
    )
    .await?;
    Ok(())
}

/// The clinic's day now, with its age rules: what the portal's views of
/// records are worked out from.
pub(crate) fn today_at(tenant: &crate::registry::Tenant) -> ClinicDay {
    tenant.settings.day_at(Timestamp::now())
}

/// Refuses, inside `tx`, unless the calling portal account holds a live
/// grant on `patient` that still gives something today (a parent's
/// proxy ends on the adult birthday): the door's first guard for a patient's record,
/// checked in the act's own transaction so that a revocation counts on the
/// very next request.
pub(crate) async fn require_grant(
    pass: &mut crate::door::Passage<'_>,
    tx: &mut crate::storage::TenantTx,
    patient: PatientId,
) -> Result<GrantView, DomainError> {
    let account = pass.account_id()?;
    pass.target(format!("patient:{patient}"));
    let day = today_at(pass.tenant());
    match live(tx, account, patient, &day).await? {
        Some(grant) => Ok(grant),
        None => {
            pass.failure_reason("no_live_grant");
            Err(DomainError::NotFound("record"))
        }
    }
}
