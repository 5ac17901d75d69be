//! The access a code gave: who holds a patient's record, and taking it
//! away.

use crate::acts;
use crate::domain::{GrantId, PatientId};
use crate::door::Caller;
use crate::error::DomainError;
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
            if get_patient(&mut tx, patient).await?.is_none() {
                return Err(DomainError::NotFound("patient"));
            }
            let list = for_patient(&mut tx, patient).await?;
            tx.commit().await?;
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
            pass.commit(tx).await?;
            Ok(grant)
        }
        .await;
        pass.finish(done).await
    }
}

/// Refuses, inside `tx`, unless the calling portal account holds a live
/// grant on `patient`: the door's first guard for a patient's record,
/// checked in the act's own transaction so that a revocation counts on the
/// very next request.
pub(crate) async fn require_grant(
    pass: &mut crate::door::Passage<'_>,
    tx: &mut crate::storage::TenantTx,
    patient: PatientId,
) -> Result<GrantView, DomainError> {
    let account = pass.account_id()?;
    pass.target(format!("patient:{patient}"));
    match live(tx, account, patient).await? {
        Some(grant) => Ok(grant),
        None => {
            pass.failure_reason("no_live_grant");
            Err(DomainError::NotFound("record"))
        }
    }
}
