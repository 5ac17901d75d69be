use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{AccessCodeId, CodeDelivery, PatientId, StaffId, Timestamp};
use crate::storage::{StorageError, TenantTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// Unlocks a patient's records.
    MedicalRecords,
    /// Unlocks one assigned form and nothing else.
    SmartForm,
}

impl CodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MedicalRecords => "medical_records",
            Self::SmartForm => "smartform",
        }
    }
}

/// Where a code stands, worked out from its timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeStatus {
    Active,
    Redeemed,
    Revoked,
    Expired,
}

impl CodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Redeemed => "redeemed",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// An issued code as staff see it: everything but the code.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub id: AccessCodeId,
    pub kind: CodeKind,
    pub patient_id: PatientId,
    pub delivery: CodeDelivery,
    pub issued_by: Option<String>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub redeemed_at: Option<Timestamp>,
    pub redeemed_by: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
}

impl CodeRecord {
    pub fn status_at(&self, now: Timestamp) -> CodeStatus {
        if self.redeemed_at.is_some() {
            CodeStatus::Redeemed
        } else if self.revoked_at.is_some() {
            CodeStatus::Revoked
        } else if self.expires_at <= now {
            CodeStatus::Expired
        } else {
            CodeStatus::Active
        }
    }
}

/// An unredeemed code on the follow-up list, with whose it is.
#[derive(Debug, Clone)]
pub struct PendingCode {
    pub code: CodeRecord,
    pub patient_name: String,
}

macro_rules! columns {
    () => {
        "c.id, c.kind, c.patient_id, c.delivery, c.issued_by, c.issued_at, c.expires_at, \
         c.redeemed_at, c.redeemed_by, c.revoked_at, c.revoked_by, c.revoke_reason"
    };
}

fn from_row(row: &AnyRow) -> Result<CodeRecord, StorageError> {
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    let ts = |i: usize| -> Result<Option<Timestamp>, StorageError> {
        Ok(row
            .try_get::<Option<i64>, _>(i)?
            .map(Timestamp::from_unix_millis))
    };
    Ok(CodeRecord {
        id: AccessCodeId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        kind: match row.try_get::<String, _>(1)?.as_str() {
            "smartform" => CodeKind::SmartForm,
            _ => CodeKind::MedicalRecords,
        },
        patient_id: PatientId::parse(&row.try_get::<String, _>(2)?).map_err(corrupt)?,
        delivery: CodeDelivery::parse(&row.try_get::<String, _>(3)?).map_err(corrupt)?,
        issued_by: row.try_get(4)?,
        issued_at: Timestamp::from_unix_millis(row.try_get(5)?),
        expires_at: Timestamp::from_unix_millis(row.try_get(6)?),
        redeemed_at: ts(7)?,
        redeemed_by: row.try_get(8)?,
        revoked_at: ts(9)?,
        revoked_by: row.try_get(10)?,
        revoke_reason: row.try_get(11)?,
    })
}

pub(crate) struct NewCode<'a> {
    pub id: AccessCodeId,
    pub kind: CodeKind,
    pub patient_id: PatientId,
    pub code_hash: &'a str,
    pub delivery: CodeDelivery,
    pub issued_by: Option<StaffId>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// For a SmartForm code: the one assignment it unlocks.
    pub form_assignment_id: Option<&'a str>,
}

pub(crate) async fn insert(tx: &mut TenantTx, code: &NewCode<'_>) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "INSERT INTO access_codes (tenant_id, id, kind, patient_id, code_hash, delivery, issued_by, issued_at, expires_at, form_assignment_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(key)
    .bind(code.id.to_string())
    .bind(code.kind.as_str())
    .bind(code.patient_id.to_string())
    .bind(code.code_hash.to_owned())
    .bind(code.delivery.as_str())
    .bind(code.issued_by.map(|s| format!("staff:{s}")))
    .bind(code.issued_at.unix_millis())
    .bind(code.expires_at.unix_millis())
    .bind(code.form_assignment_id.map(str::to_owned))
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(crate) async fn get(
    tx: &mut TenantTx,
    id: AccessCodeId,
) -> Result<Option<CodeRecord>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM access_codes c WHERE c.tenant_id = $1 AND c.id = $2"
    ))
    .bind(key)
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub(crate) async fn for_patient(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<CodeRecord>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM access_codes c WHERE c.tenant_id = $1 AND c.patient_id = $2 ORDER BY c.issued_at DESC, c.id DESC"
    ))
    .bind(key)
    .bind(patient.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Unredeemed, unrevoked, unexpired codes, the soonest to expire first.
pub(crate) async fn pending(
    tx: &mut TenantTx,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<PendingCode>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        ", p.full_name FROM access_codes c
           JOIN patients p ON p.tenant_id = c.tenant_id AND p.id = c.patient_id
          WHERE c.tenant_id = $1 AND c.redeemed_at IS NULL AND c.revoked_at IS NULL AND c.expires_at > $2
          ORDER BY c.expires_at, c.id
          LIMIT $3"
    ))
    .bind(key)
    .bind(now.unix_millis())
    .bind(i64::from(limit))
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingCode {
                code: from_row(row)?,
                patient_name: row.try_get(12)?,
            })
        })
        .collect()
}

/// Revokes the code if it is still active; true when it was.
pub(crate) async fn revoke(
    tx: &mut TenantTx,
    id: AccessCodeId,
    by: Option<StaffId>,
    reason: &str,
    now: Timestamp,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE access_codes SET revoked_at = $3, revoked_by = $4, revoke_reason = $5
          WHERE tenant_id = $1 AND id = $2 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(now.unix_millis())
    .bind(by.map(|s| format!("staff:{s}")))
    .bind(reason.to_owned())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every active code of a patient (of any kind); returns how many.
pub(crate) async fn revoke_all_active(
    tx: &mut TenantTx,
    patient: PatientId,
    kind: Option<CodeKind>,
    delivery: Option<CodeDelivery>,
    by: Option<StaffId>,
    reason: &str,
    now: Timestamp,
) -> Result<u64, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE access_codes SET revoked_at = $3, revoked_by = $4, revoke_reason = $5
          WHERE tenant_id = $1 AND patient_id = $2 AND ($6 IS NULL OR kind = $6)
            AND ($7 IS NULL OR delivery = $7)
            AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(key)
    .bind(patient.to_string())
    .bind(now.unix_millis())
    .bind(by.map(|s| format!("staff:{s}")))
    .bind(reason.to_owned())
    .bind(kind.map(CodeKind::as_str))
    .bind(delivery.map(CodeDelivery::as_str))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Finds a code by its keyed hash (an index lookup, never a scan).
pub(crate) async fn by_hash(
    tx: &mut TenantTx,
    hash: &str,
) -> Result<Option<CodeRecord>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM access_codes c WHERE c.tenant_id = $1 AND c.code_hash = $2"
    ))
    .bind(key)
    .bind(hash.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Marks the code used by `account`, if it is still active; true when this
/// call is the one that used it.
pub(crate) async fn mark_redeemed(
    tx: &mut TenantTx,
    id: AccessCodeId,
    account: crate::domain::AccountId,
    now: Timestamp,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE access_codes SET redeemed_at = $3, redeemed_by = $4
          WHERE tenant_id = $1 AND id = $2 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(now.unix_millis())
    .bind(format!("account:{account}"))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
