use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{AccessCodeId, CodeDelivery, PatientId, StaffId, Timestamp};
use crate::family::Relation;
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
    /// What its redemption makes the account to the patient.
    pub relation: Relation,
    /// Wrong dates of birth given with it (a proxy code).
    pub dob_misses: i64,
    /// For a caregiver's code: whether the grant it makes shows
    /// confidential items.
    pub sees_confidential: bool,
    /// Where the patient's invitation went, when the patient invited a
    /// caregiver from the portal.
    pub invited_email: Option<String>,
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
         c.redeemed_at, c.redeemed_by, c.revoked_at, c.revoked_by, c.revoke_reason, \
         c.relation, c.dob_misses, c.sees_confidential, c.invited_email"
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
        relation: Relation::parse(&row.try_get::<String, _>(12)?).map_err(corrupt)?,
        dob_misses: row.try_get(13)?,
        sees_confidential: row.try_get::<i64, _>(14)? == 1,
        invited_email: row.try_get(15)?,
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
    pub relation: Relation,
    /// A caregiver's invitation from the patient: who sent it, to which
    /// address, and whether it shows confidential items.
    pub invitation: Option<Invitation<'a>>,
}

/// A patient's invitation of a caregiver, as its code records it.
pub(crate) struct Invitation<'a> {
    pub by: crate::domain::AccountId,
    pub email: &'a str,
    pub sees_confidential: bool,
}

pub(crate) async fn insert(tx: &mut TenantTx, code: &NewCode<'_>) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "INSERT INTO access_codes (tenant_id, id, kind, patient_id, code_hash, delivery, issued_by, issued_at, expires_at, form_assignment_id, relation,
                                   sees_confidential, invited_email)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(key)
    .bind(code.id.to_string())
    .bind(code.kind.as_str())
    .bind(code.patient_id.to_string())
    .bind(code.code_hash.to_owned())
    .bind(code.delivery.as_str())
    .bind(match (&code.issued_by, &code.invitation) {
        (Some(staff), _) => Some(format!("staff:{staff}")),
        (None, Some(invitation)) => Some(format!("account:{}", invitation.by)),
        (None, None) => None,
    })
    .bind(code.issued_at.unix_millis())
    .bind(code.expires_at.unix_millis())
    .bind(code.form_assignment_id.map(str::to_owned))
    .bind(code.relation.as_str())
    .bind(i64::from(
        code.invitation
            .as_ref()
            .is_some_and(|i| i.sees_confidential),
    ))
    .bind(code.invitation.as_ref().map(|i| i.email.to_owned()))
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
                patient_name: row.try_get(16)?,
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

/// Which of a patient's active codes to revoke: `None` in a field
/// matches any.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CodeFilter {
    pub kind: Option<CodeKind>,
    pub delivery: Option<CodeDelivery>,
    pub relation: Option<Relation>,
}

/// Revokes every active code of a patient that `filter` matches; returns
/// how many.
pub(crate) async fn revoke_all_active(
    tx: &mut TenantTx,
    patient: PatientId,
    filter: CodeFilter,
    by: Option<StaffId>,
    reason: &str,
    now: Timestamp,
) -> Result<u64, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE access_codes SET revoked_at = $3, revoked_by = $4, revoke_reason = $5
          WHERE tenant_id = $1 AND patient_id = $2 AND ($6 IS NULL OR kind = $6)
            AND ($7 IS NULL OR delivery = $7) AND ($8 IS NULL OR relation = $8)
            AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(key)
    .bind(patient.to_string())
    .bind(now.unix_millis())
    .bind(by.map(|s| format!("staff:{s}")))
    .bind(reason.to_owned())
    .bind(filter.kind.map(CodeKind::as_str))
    .bind(filter.delivery.map(CodeDelivery::as_str))
    .bind(filter.relation.map(Relation::as_str))
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

/// Counts a wrong date of birth given with a proxy code, and cancels the
/// code when it is the `limit`th. Returns the misses so far and whether
/// this one cancelled it. Runs in its own committed transaction, so a
/// refused redemption still counts.
pub(crate) async fn count_dob_miss(
    tx: &mut TenantTx,
    id: AccessCodeId,
    limit: i64,
    reason: &str,
    now: Timestamp,
) -> Result<(i64, bool), StorageError> {
    let key = tx.tenant_key();
    let misses: i64 = sqlx::query_scalar(
        "UPDATE access_codes SET dob_misses = dob_misses + 1
          WHERE tenant_id = $1 AND id = $2 RETURNING dob_misses",
    )
    .bind(key)
    .bind(id.to_string())
    .fetch_one(tx.conn())
    .await?;
    let cancelled = misses >= limit && revoke(tx, id, None, reason, now).await?;
    Ok((misses, cancelled))
}

/// A patient's invitations of caregivers to `patient` that are still
/// waiting to be used, newest first.
pub(crate) async fn waiting_invitations(
    tx: &mut TenantTx,
    patient: PatientId,
    now: Timestamp,
) -> Result<Vec<CodeRecord>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM access_codes c
          WHERE c.tenant_id = $1 AND c.patient_id = $2 AND c.invited_email IS NOT NULL
            AND c.redeemed_at IS NULL AND c.revoked_at IS NULL AND c.expires_at > $3
          ORDER BY c.issued_at DESC, c.id DESC"
    ))
    .bind(key)
    .bind(patient.to_string())
    .bind(now.unix_millis())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Invitations `account` sent since `since`, for its daily budget.
pub(crate) async fn invitations_sent_since(
    tx: &mut TenantTx,
    account: crate::domain::AccountId,
    since: Timestamp,
) -> Result<i64, StorageError> {
    let key = tx.tenant_key();
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM access_codes WHERE tenant_id = $1 AND issued_by = $2 AND issued_at > $3",
    )
    .bind(key)
    .bind(format!("account:{account}"))
    .bind(since.unix_millis())
    .fetch_one(tx.conn())
    .await?)
}
