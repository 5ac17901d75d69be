//! Access codes: four words from the EFF large wordlist, shown to people
//! with dashes or spaces and matched ignoring case and separators. A code
//! is stored only as a keyed hash; the plain code exists in the issuing
//! response, the email and the handout, and nowhere else.

pub(crate) mod store;

pub use crate::auth::{CodeKey, CodeKeyError};
pub use store::{CodeKind, CodeRecord, CodeStatus, PendingCode};
pub(crate) use store::{NewCode, by_hash as find_by_hash, insert as insert_code, mark_redeemed};

/// Cancels a patient's unused codes inside the caller's transaction.
pub(crate) async fn revoke_active_codes_of(
    tx: &mut crate::storage::TenantTx,
    patient: crate::domain::PatientId,
    by: Option<crate::domain::StaffId>,
    reason: &str,
) -> Result<u64, crate::storage::StorageError> {
    store::revoke_all_active(
        tx,
        patient,
        store::CodeFilter::default(),
        by,
        reason,
        crate::domain::Timestamp::now(),
    )
    .await
}

/// Cancels a patient's unused codes that went out by email, inside the
/// caller's transaction: the address they went to is no longer the
/// patient's.
pub(crate) async fn revoke_emailed_codes_of(
    tx: &mut crate::storage::TenantTx,
    patient: crate::domain::PatientId,
    by: Option<crate::domain::StaffId>,
) -> Result<u64, crate::storage::StorageError> {
    store::revoke_all_active(
        tx,
        patient,
        store::CodeFilter {
            delivery: Some(crate::domain::CodeDelivery::Email),
            ..Default::default()
        },
        by,
        "email_changed",
        crate::domain::Timestamp::now(),
    )
    .await
}
pub use crate::domain::{
    CodeInputError, PlainCode, PresentedCode, WORDS_PER_CODE, looks_like_a_code, wordlist_len,
};
