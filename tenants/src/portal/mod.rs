//! The patient's side: portal accounts, their sessions, grants to patient
//! records, redeeming access codes, and the account's own email and
//! password flows.

mod accounts;
mod grants;
mod login;
mod redeem;
mod registration;
mod sessions;
mod tokens;

pub use accounts::PortalAccount;
pub use grants::{GrantRecord, GrantView};
pub use login::{PortalAuthenticated, PortalLogin, PortalSessionIssued};
pub use redeem::{NewAccount, RedeemFailure, Redeemed, Redeemer};
pub use registration::{RegistrationOutcome, SelfRegistration};
pub use sessions::PortalSession;

/// Grants a self-registered record to the account that registered it.
pub(crate) async fn grant_registered(
    tx: &mut crate::storage::TenantTx,
    account: crate::domain::AccountId,
    patient: crate::domain::PatientId,
) -> Result<(), crate::storage::StorageError> {
    grants::insert(tx, account, patient, None).await.map(|_| ())
}
