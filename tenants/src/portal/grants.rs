//! Grants: which portal account may see which patient record. A grant is
//! live while it is not revoked and the record's portal access is enabled;
//! every portal request checks that afresh, so a revocation or a disabled
//! switch takes effect on the very next request.

use sqlx::Row;

use crate::domain::{AccessCodeId, AccountId, GrantId, PatientId, StaffId, Timestamp};
use crate::storage::{StorageError, TenantTx};

/// A record as its holder sees it in the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantView {
    pub grant_id: GrantId,
    pub patient_id: PatientId,
    pub patient_name: String,
    pub date_of_birth: String,
}

/// A grant as staff see it on a patient.
#[derive(Debug, Clone)]
pub struct GrantRecord {
    pub id: GrantId,
    pub account_id: AccountId,
    pub username: String,
    pub account_email: String,
    pub patient_id: PatientId,
    pub code_id: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
}

fn corrupt(e: crate::domain::InvalidValue) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

/// Gives `account` the record, unless it already holds it. Returns the
/// grant's id and whether it is new.
pub(crate) async fn insert(
    tx: &mut TenantTx,
    account: AccountId,
    patient: PatientId,
    code: Option<AccessCodeId>,
) -> Result<(GrantId, bool), StorageError> {
    let key = tx.tenant_key();
    let existing = sqlx::query(
        "SELECT id FROM grants WHERE tenant_id = $1 AND account_id = $2 AND patient_id = $3 AND revoked_at IS NULL",
    )
    .bind(key.clone())
    .bind(account.to_string())
    .bind(patient.to_string())
    .fetch_optional(tx.conn())
    .await?;
    if let Some(row) = existing {
        return Ok((
            GrantId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
            false,
        ));
    }
    let id = GrantId::generate();
    sqlx::query(
        "INSERT INTO grants (tenant_id, id, account_id, patient_id, code_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(account.to_string())
    .bind(patient.to_string())
    .bind(code.map(|c| c.to_string()))
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok((id, true))
}

fn view_from_row(row: &sqlx::any::AnyRow) -> Result<GrantView, StorageError> {
    Ok(GrantView {
        grant_id: GrantId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        patient_id: PatientId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
        patient_name: row.try_get(2)?,
        date_of_birth: row.try_get(3)?,
    })
}

/// The records `account` can see now, by name.
pub(crate) async fn live_for_account(
    tx: &mut TenantTx,
    account: AccountId,
) -> Result<Vec<GrantView>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT g.id, p.id, p.full_name, p.date_of_birth
           FROM grants g JOIN patients p ON p.tenant_id = g.tenant_id AND p.id = g.patient_id
          WHERE g.tenant_id = $1 AND g.account_id = $2 AND g.revoked_at IS NULL
            AND p.portal_access = 'enabled' AND p.archived_at IS NULL
          ORDER BY p.name_search, p.id",
    )
    .bind(key)
    .bind(account.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(view_from_row).collect()
}

/// The live grant of `account` to `patient`, if there is one.
pub(crate) async fn live(
    tx: &mut TenantTx,
    account: AccountId,
    patient: PatientId,
) -> Result<Option<GrantView>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "SELECT g.id, p.id, p.full_name, p.date_of_birth
           FROM grants g JOIN patients p ON p.tenant_id = g.tenant_id AND p.id = g.patient_id
          WHERE g.tenant_id = $1 AND g.account_id = $2 AND g.patient_id = $3 AND g.revoked_at IS NULL
            AND p.portal_access = 'enabled' AND p.archived_at IS NULL",
    )
    .bind(key)
    .bind(account.to_string())
    .bind(patient.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(view_from_row).transpose()
}

macro_rules! record_columns {
    () => {
        "g.id, g.account_id, a.username, a.email, g.patient_id, g.code_id, g.created_at, g.revoked_at, g.revoked_by"
    };
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<GrantRecord, StorageError> {
    Ok(GrantRecord {
        id: GrantId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        account_id: AccountId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
        username: row.try_get(2)?,
        account_email: row.try_get(3)?,
        patient_id: PatientId::parse(&row.try_get::<String, _>(4)?).map_err(corrupt)?,
        code_id: row.try_get(5)?,
        created_at: Timestamp::from_unix_millis(row.try_get(6)?),
        revoked_at: row
            .try_get::<Option<i64>, _>(7)?
            .map(Timestamp::from_unix_millis),
        revoked_by: row.try_get(8)?,
    })
}

/// Every grant ever made to a record, newest first.
pub(crate) async fn for_patient(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<GrantRecord>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        record_columns!(),
        " FROM grants g JOIN portal_accounts a ON a.tenant_id = g.tenant_id AND a.id = g.account_id
          WHERE g.tenant_id = $1 AND g.patient_id = $2 ORDER BY g.created_at DESC, g.id DESC"
    ))
    .bind(key)
    .bind(patient.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(record_from_row).collect()
}

pub(crate) async fn get(
    tx: &mut TenantTx,
    id: GrantId,
) -> Result<Option<GrantRecord>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        record_columns!(),
        " FROM grants g JOIN portal_accounts a ON a.tenant_id = g.tenant_id AND a.id = g.account_id
          WHERE g.tenant_id = $1 AND g.id = $2"
    ))
    .bind(key)
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(record_from_row).transpose()
}

pub(crate) async fn revoke(
    tx: &mut TenantTx,
    id: GrantId,
    by: StaffId,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE grants SET revoked_at = $3, revoked_by = $4 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(Timestamp::now().unix_millis())
    .bind(format!("staff:{by}"))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Accounts that hold the record now.
pub(crate) async fn holders(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<AccountId>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT g.account_id FROM grants g JOIN patients p ON p.tenant_id = g.tenant_id AND p.id = g.patient_id
          WHERE g.tenant_id = $1 AND g.patient_id = $2 AND g.revoked_at IS NULL AND p.portal_access = 'enabled'
          ORDER BY g.created_at, g.id",
    )
    .bind(key)
    .bind(patient.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| AccountId::parse(&r.try_get::<String, _>(0)?).map_err(corrupt))
        .collect()
}
