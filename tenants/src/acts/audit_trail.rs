//! Reading the audit trail.

use crate::acts;
use crate::audit::{AuditFilter, AuditPage, AuditRecord, query};
use crate::door::Caller;
use crate::error::DomainError;
use crate::services::Services;

impl Services {
    /// Reads the tenant's trail, for staff whose role may.
    pub async fn audit_trail(
        &self,
        caller: &Caller,
        filter: &AuditFilter,
        page: &AuditPage,
    ) -> Result<Vec<AuditRecord>, DomainError> {
        let pass = self.enter(caller, &acts::AUDIT_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let records = query(&mut tx, filter, page).await?;
            tx.commit().await?;
            Ok(records)
        }
        .await;
        pass.finish(done).await
    }
}
