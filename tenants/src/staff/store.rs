use sqlx::Row;
use sqlx::any::AnyRow;

use crate::auth::PasswordHash;
use crate::coherence::Change;
use crate::domain::{DisplayName, EmailAddress, StaffId, Timestamp};
use crate::storage::{StorageError, TenantTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffStatus {
    Active,
    Disabled,
}

impl StaffStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StaffMember {
    pub id: StaffId,
    pub email: EmailAddress,
    pub display_name: DisplayName,
    pub status: StaffStatus,
    pub created_at: Timestamp,
    /// Their password was chosen by someone else: they must choose their
    /// own before anything else.
    pub must_change_password: bool,
    /// How many confirmed second factors they have.
    pub second_factors: u32,
}

macro_rules! columns {
    () => {
        "id, email, display_name, status, created_at, password_hash, must_change_password, \
         (SELECT COUNT(*) FROM second_factors f \
           WHERE f.tenant_id = staff.tenant_id AND f.staff_id = staff.id AND f.confirmed_at IS NOT NULL)"
    };
}

fn from_row(row: &AnyRow) -> Result<(StaffMember, PasswordHash), StorageError> {
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    let status = match row.try_get::<String, _>(3)?.as_str() {
        "active" => StaffStatus::Active,
        "disabled" => StaffStatus::Disabled,
        other => return Err(StorageError::Corrupt(format!("staff status {other:?}"))),
    };
    Ok((
        StaffMember {
            id: StaffId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
            email: EmailAddress::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
            display_name: DisplayName::parse("display_name", &row.try_get::<String, _>(2)?)
                .map_err(corrupt)?,
            status,
            created_at: Timestamp::from_unix_millis(row.try_get(4)?),
            must_change_password: row.try_get::<i64, _>(6)? == 1,
            second_factors: row.try_get::<i64, _>(7)?.max(0) as u32,
        },
        PasswordHash::from_stored(row.try_get(5)?),
    ))
}

/// Whose choice a password is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChosenBy {
    /// The staff member's own.
    Themselves,
    /// Someone else's, to be replaced at the next login.
    Someone,
}

impl ChosenBy {
    fn must_change(self) -> i64 {
        i64::from(self == Self::Someone)
    }
}

pub(crate) async fn insert(
    tx: &mut TenantTx,
    email: &EmailAddress,
    display_name: &DisplayName,
    hash: &PasswordHash,
    chosen_by: ChosenBy,
) -> Result<StaffMember, StorageError> {
    let now = Timestamp::now().unix_millis();
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "INSERT INTO staff (tenant_id, id, email, email_normalized, display_name, password_hash, status, password_changed_at, created_at, must_change_password)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $7, $8) RETURNING ",
        columns!()
    ))
    .bind(key)
    .bind(StaffId::generate().to_string())
    .bind(email.as_str().to_owned())
    .bind(email.normalized())
    .bind(display_name.as_str().to_owned())
    .bind(hash.as_str().to_owned())
    .bind(now)
    .bind(chosen_by.must_change())
    .fetch_one(tx.conn())
    .await?;
    Ok(from_row(&row)?.0)
}

pub(crate) async fn find_by_email(
    tx: &mut TenantTx,
    email: &EmailAddress,
) -> Result<Option<(StaffMember, PasswordHash)>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM staff WHERE tenant_id = $1 AND email_normalized = $2"
    ))
    .bind(key)
    .bind(email.normalized())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub(crate) async fn get(
    tx: &mut TenantTx,
    id: StaffId,
) -> Result<Option<(StaffMember, PasswordHash)>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM staff WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(key)
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub(crate) async fn list(tx: &mut TenantTx) -> Result<Vec<StaffMember>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM staff WHERE tenant_id = $1 ORDER BY email_normalized"
    ))
    .bind(key)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| from_row(r).map(|(m, _)| m)).collect()
}

pub(crate) async fn set_password(
    tx: &mut TenantTx,
    id: StaffId,
    hash: &PasswordHash,
    chosen_by: ChosenBy,
) -> Result<bool, StorageError> {
    // A session carries whether its member must change their password.
    tx.changed(Change::Staff {
        tenant: tx.tenant_id(),
        staff: id,
    });
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE staff SET password_hash = $3, password_changed_at = $4, must_change_password = $5
          WHERE tenant_id = $1 AND id = $2",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(hash.as_str().to_owned())
    .bind(Timestamp::now().unix_millis())
    .bind(chosen_by.must_change())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Locks the clinic's active staff rows until the transaction ends (a
/// no-op write: PostgreSQL takes row locks; SQLite's write transaction is
/// exclusive already), so a count of owners cannot change underfoot.
pub(crate) async fn lock_active(tx: &mut TenantTx) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query("UPDATE staff SET status = status WHERE tenant_id = $1 AND status = 'active'")
        .bind(key)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Deactivates or reactivates a staff member. False when the status was
/// already that.
pub(crate) async fn set_status(
    tx: &mut TenantTx,
    id: StaffId,
    status: StaffStatus,
) -> Result<bool, StorageError> {
    // A deactivated member's sessions end with it.
    tx.changed(Change::Staff {
        tenant: tx.tenant_id(),
        staff: id,
    });
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE staff SET status = $3 WHERE tenant_id = $1 AND id = $2 AND status <> $3",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(status.as_str())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
