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
pub(crate) use grants::live as live_grant;
pub use grants::{GrantRecord, GrantView};
pub use login::{PortalAuthenticated, PortalLogin, PortalSessionIssued};
pub use redeem::{AccountForm, RedeemFailure, Redeemed, Unlocked};
pub use registration::{RegistrationOutcome, SelfRegistration};
pub use sessions::PortalSession;

/// Finds the live portal session behind `token`, for the door to build a
/// caller.
pub(crate) async fn find_session(
    tx: &mut crate::storage::TenantTx,
    token: &crate::auth::SecretToken,
) -> Result<PortalAuthenticated, crate::DomainError> {
    match sessions::find(tx, token).await? {
        sessions::Lookup::Live(session) => Ok(PortalAuthenticated { session }),
        sessions::Lookup::Expired => Err(crate::DomainError::SessionExpired),
        sessions::Lookup::Unknown => Err(crate::DomainError::InvalidToken),
    }
}

/// Grants a self-registered record to the account that registered it.
pub(crate) async fn grant_registered(
    tx: &mut crate::storage::TenantTx,
    account: crate::domain::AccountId,
    patient: crate::domain::PatientId,
) -> Result<(), crate::storage::StorageError> {
    grants::insert(tx, account, patient, None).await.map(|_| ())
}

/// The portal account that already holds a patient's record, if any: a
/// form assigned to the patient goes straight to it.
pub(crate) async fn known_account(
    tx: &mut crate::storage::TenantTx,
    patient: crate::domain::PatientId,
) -> Result<Option<crate::domain::AccountId>, crate::storage::StorageError> {
    Ok(grants::holders(tx, patient).await?.into_iter().next())
}
