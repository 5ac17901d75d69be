//! What the birthday job reads and writes: parents' proxies still live,
//! the transitions it has made, and the grants it ends.

use sqlx::Row;

use crate::domain::{DateOfBirth, EmailAddress, PatientId, Timestamp};
use crate::storage::{StorageError, TenantTx};

/// A birthday the job acts on, once per patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// A parent's view narrows to the limited one.
    Limited,
    /// A parent's proxy ends.
    Adult,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Limited => "limited",
            Self::Adult => "adult",
        }
    }
}

/// A parent's live proxy, with whom to tell about it.
#[derive(Debug, Clone)]
pub struct ParentProxy {
    /// The account's address, when it is confirmed.
    pub email: Option<EmailAddress>,
    pub patient: PatientId,
    pub patient_name: String,
    pub born: DateOfBirth,
    pub created_at: Timestamp,
    /// Whether the job has already told the parents the view narrowed.
    pub narrowed: bool,
}

fn corrupt(e: crate::domain::InvalidValue) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

/// Every live parent's proxy in the clinic, by patient.
pub(crate) async fn live_parent_proxies(
    tx: &mut TenantTx,
) -> Result<Vec<ParentProxy>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT CASE WHEN a.email_verified_at IS NOT NULL THEN a.email END,
                p.id, p.full_name, p.date_of_birth, g.created_at,
                CASE WHEN EXISTS (
                    SELECT 1 FROM age_transitions t
                     WHERE t.tenant_id = g.tenant_id AND t.patient_id = g.patient_id
                       AND t.transition = 'limited') THEN 1 ELSE 0 END
           FROM grants g
           JOIN portal_accounts a ON a.tenant_id = g.tenant_id AND a.id = g.account_id
           JOIN patients p ON p.tenant_id = g.tenant_id AND p.id = g.patient_id
          WHERE g.tenant_id = $1 AND g.relation = 'parent' AND g.revoked_at IS NULL
          ORDER BY p.id, g.created_at, g.id",
    )
    .bind(key)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ParentProxy {
                email: row
                    .try_get::<Option<String>, _>(0)?
                    .map(|e| EmailAddress::parse(&e))
                    .transpose()
                    .map_err(corrupt)?,
                patient: PatientId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
                patient_name: row.try_get(2)?,
                born: DateOfBirth::parse(&row.try_get::<String, _>(3)?).map_err(corrupt)?,
                created_at: Timestamp::from_unix_millis(row.try_get(4)?),
                narrowed: row.try_get::<i64, _>(5)? == 1,
            })
        })
        .collect()
}

/// Records that the job made `transition` for `patient`; false when it
/// had already been made (by this node or another), in which case the
/// caller does nothing more.
pub(crate) async fn claim_transition(
    tx: &mut TenantTx,
    patient: PatientId,
    transition: Transition,
    now: Timestamp,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "INSERT INTO age_transitions (tenant_id, patient_id, transition, happened_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(key)
    .bind(patient.to_string())
    .bind(transition.as_str())
    .bind(now.unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every live parent's proxy on `patient`, as of `now`; returns how
/// many.
pub(crate) async fn end_parent_proxies(
    tx: &mut TenantTx,
    patient: PatientId,
    now: Timestamp,
) -> Result<u64, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE grants SET revoked_at = $3, revoked_by = 'system:coming_of_age', ended_reason = 'aged_out'
          WHERE tenant_id = $1 AND patient_id = $2 AND relation = 'parent' AND revoked_at IS NULL",
    )
    .bind(key)
    .bind(patient.to_string())
    .bind(now.unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// The confirmed addresses of the patient's own accounts.
pub(crate) async fn own_account_emails(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<EmailAddress>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT DISTINCT a.email FROM grants g
           JOIN portal_accounts a ON a.tenant_id = g.tenant_id AND a.id = g.account_id
          WHERE g.tenant_id = $1 AND g.patient_id = $2 AND g.relation = 'self'
            AND g.revoked_at IS NULL AND a.email_verified_at IS NOT NULL
          ORDER BY a.email",
    )
    .bind(key)
    .bind(patient.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| EmailAddress::parse(&r.try_get::<String, _>(0)?).map_err(corrupt))
        .collect()
}
