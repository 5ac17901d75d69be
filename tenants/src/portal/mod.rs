//! The patient's side: portal accounts, their sessions, grants to patient
//! records, redeeming access codes, and the account's own email and
//! password flows.

pub(crate) mod accounts;
pub(crate) mod grants;
pub(crate) mod registrations;
pub(crate) mod tokens;

pub use crate::sessions::{PortalAuthenticated, PortalSession};
pub use accounts::PortalAccount;
pub use grants::{EndedReason, GrantRecord, GrantView};
pub use registrations::NewPatientForm;

pub(crate) async fn grant_registered(
    tx: &mut crate::storage::TenantTx,
    account: crate::domain::AccountId,
    patient: crate::domain::PatientId,
) -> Result<(), crate::storage::StorageError> {
    grants::insert(tx, account, patient, None, crate::family::Relation::Own)
        .await
        .map(|_| ())
}

pub(crate) async fn known_account(
    tx: &mut crate::storage::TenantTx,
    patient: crate::domain::PatientId,
) -> Result<Option<crate::domain::AccountId>, crate::storage::StorageError> {
    Ok(grants::holders(tx, patient).await?.into_iter().next())
}
