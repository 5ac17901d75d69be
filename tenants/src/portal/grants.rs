//! Grants: which portal account may see which patient record. A grant is
//! live while it is not revoked and the record's portal access is enabled;
//! every portal request checks that afresh, so a revocation or a disabled
//! switch takes effect on the very next request.

use sqlx::Row;

use crate::domain::{AccessCodeId, AccountId, DateOfBirth, GrantId, PatientId, StaffId, Timestamp};
use crate::family::{Access, ClinicDay, Relation, Stage, View};
use crate::storage::{StorageError, TenantTx};

/// A record as its holder sees it in the portal today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantView {
    pub grant_id: GrantId,
    pub patient_id: PatientId,
    pub patient_name: String,
    pub date_of_birth: DateOfBirth,
    /// What the holder is to the patient.
    pub relation: Relation,
    /// The patient's stage on the clinic's calendar today.
    pub stage: Stage,
    /// What the holder may open of the record today.
    pub view: View,
}

impl GrantView {
    /// Whether the holder sees less than the whole record.
    pub fn is_limited(&self) -> bool {
        self.view != View::WHOLE
    }
}

/// Why a grant ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedReason {
    /// Staff took it away.
    Revoked,
    /// A parent's proxy ended on the patient's adult birthday.
    AgedOut,
    /// The patient ended a caregiver's proxy.
    EndedByPatient,
}

impl EndedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::AgedOut => "aged_out",
            Self::EndedByPatient => "ended_by_patient",
        }
    }

    fn parse(raw: &str) -> Result<Self, StorageError> {
        match raw {
            "revoked" => Ok(Self::Revoked),
            "aged_out" => Ok(Self::AgedOut),
            "ended_by_patient" => Ok(Self::EndedByPatient),
            other => Err(StorageError::Corrupt(format!(
                "unknown ended reason {other}"
            ))),
        }
    }
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
    pub relation: Relation,
    pub sees_confidential: bool,
    pub created_at: Timestamp,
    /// When it ended, whatever the reason.
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    pub ended_reason: Option<EndedReason>,
}

impl GrantRecord {
    /// Neither revoked nor ended.
    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none() && self.ended_reason.is_none()
    }
}

fn corrupt(e: crate::domain::InvalidValue) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

/// Gives `account` the record, unless it already holds it. Returns the
/// grant's id and whether it is new.
/// A grant already live for the pair keeps its relation: a parent who
/// redeems a second code for the same child stays a parent.
pub(crate) async fn insert(
    tx: &mut TenantTx,
    account: AccountId,
    patient: PatientId,
    code: Option<AccessCodeId>,
    relation: Relation,
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
        "INSERT INTO grants (tenant_id, id, account_id, patient_id, code_id, created_at, relation) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(account.to_string())
    .bind(patient.to_string())
    .bind(code.map(|c| c.to_string()))
    .bind(Timestamp::now().unix_millis())
    .bind(relation.as_str())
    .execute(tx.conn())
    .await?;
    Ok((id, true))
}

macro_rules! view_columns {
    () => {
        "g.id, p.id, p.full_name, p.date_of_birth, g.relation, g.sees_confidential"
    };
}

/// The grant as its holder sees it on `day`; `None` for a parent's proxy
/// of a patient now grown up, which ended on the birthday whether or not
/// the birthday job has recorded it yet.
fn view_from_row(
    row: &sqlx::any::AnyRow,
    day: &ClinicDay,
) -> Result<Option<GrantView>, StorageError> {
    let date_of_birth = DateOfBirth::parse(&row.try_get::<String, _>(3)?).map_err(corrupt)?;
    let relation = Relation::parse(&row.try_get::<String, _>(4)?).map_err(corrupt)?;
    let sees_confidential = row.try_get::<i64, _>(5)? == 1;
    let Access::Sees(view) = day.access(relation, date_of_birth, sees_confidential) else {
        return Ok(None);
    };
    Ok(Some(GrantView {
        grant_id: GrantId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        patient_id: PatientId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
        patient_name: row.try_get(2)?,
        date_of_birth,
        relation,
        stage: day.stage_of(date_of_birth),
        view,
    }))
}

/// The records `account` can see on `day`: its own first (the portal
/// opens on it), then the others by name.
pub(crate) async fn live_for_account(
    tx: &mut TenantTx,
    account: AccountId,
    day: &ClinicDay,
) -> Result<Vec<GrantView>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        view_columns!(),
        " FROM grants g JOIN patients p ON p.tenant_id = g.tenant_id AND p.id = g.patient_id
          WHERE g.tenant_id = $1 AND g.account_id = $2 AND g.revoked_at IS NULL
            AND p.portal_access = 'enabled' AND p.archived_at IS NULL
          ORDER BY CASE WHEN g.relation = 'self' THEN 0 ELSE 1 END, p.name_search, p.id"
    ))
    .bind(key)
    .bind(account.to_string())
    .fetch_all(tx.conn())
    .await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in &rows {
        views.extend(view_from_row(row, day)?);
    }
    Ok(views)
}

/// The live grant of `account` to `patient` on `day`, if there is one.
pub(crate) async fn live(
    tx: &mut TenantTx,
    account: AccountId,
    patient: PatientId,
    day: &ClinicDay,
) -> Result<Option<GrantView>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        view_columns!(),
        " FROM grants g JOIN patients p ON p.tenant_id = g.tenant_id AND p.id = g.patient_id
          WHERE g.tenant_id = $1 AND g.account_id = $2 AND g.patient_id = $3 AND g.revoked_at IS NULL
            AND p.portal_access = 'enabled' AND p.archived_at IS NULL"
    ))
    .bind(key)
    .bind(account.to_string())
    .bind(patient.to_string())
    .fetch_optional(tx.conn())
    .await?;
    match row {
        Some(row) => view_from_row(&row, day),
        None => Ok(None),
    }
}

macro_rules! record_columns {
    () => {
        "g.id, g.account_id, a.username, a.email, g.patient_id, g.code_id, g.created_at, g.revoked_at, g.revoked_by, \
         g.relation, g.sees_confidential, g.ended_reason"
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
        relation: Relation::parse(&row.try_get::<String, _>(9)?).map_err(corrupt)?,
        sees_confidential: row.try_get::<i64, _>(10)? == 1,
        ended_reason: row
            .try_get::<Option<String>, _>(11)?
            .map(|r| EndedReason::parse(&r))
            .transpose()?,
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
        "UPDATE grants SET revoked_at = $3, revoked_by = $4, ended_reason = 'revoked' WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
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

/// Ends a proxy the patient no longer wants; false if it had ended.
pub(crate) async fn end_by_patient(
    tx: &mut TenantTx,
    id: GrantId,
    by: AccountId,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE grants SET revoked_at = $3, revoked_by = $4, ended_reason = 'ended_by_patient'
          WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(Timestamp::now().unix_millis())
    .bind(format!("account:{by}"))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether a caregiver sees confidential items.
pub(crate) async fn set_sees_confidential(
    tx: &mut TenantTx,
    id: GrantId,
    sees: bool,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query("UPDATE grants SET sees_confidential = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(key)
        .bind(id.to_string())
        .bind(i64::from(sees))
        .execute(tx.conn())
        .await?;
    Ok(())
}
