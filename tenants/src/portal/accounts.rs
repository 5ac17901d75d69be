use sqlx::Row;
use sqlx::any::AnyRow;

use crate::auth::PasswordHash;
use crate::domain::{AccountId, EmailAddress, Timestamp, Username};
use crate::storage::{StorageError, TenantTx};

/// A patient's login at one clinic.
#[derive(Debug, Clone)]
pub struct PortalAccount {
    pub id: AccountId,
    pub username: Username,
    pub email: EmailAddress,
    pub email_verified_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// The patient chose a code by email as their second step.
    pub email_second_step: bool,
}

macro_rules! columns {
    () => {
        "id, username, email, email_verified_at, created_at, password_hash, email_second_step"
    };
}

fn from_row(row: &AnyRow) -> Result<(PortalAccount, PasswordHash), StorageError> {
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    Ok((
        PortalAccount {
            id: AccountId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
            username: Username::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
            email: EmailAddress::parse(&row.try_get::<String, _>(2)?).map_err(corrupt)?,
            email_verified_at: row
                .try_get::<Option<i64>, _>(3)?
                .map(Timestamp::from_unix_millis),
            created_at: Timestamp::from_unix_millis(row.try_get(4)?),
            email_second_step: row.try_get::<i64, _>(6)? == 1,
        },
        PasswordHash::from_stored(row.try_get(5)?),
    ))
}

pub(crate) async fn insert(
    tx: &mut TenantTx,
    username: &Username,
    email: &EmailAddress,
    hash: &PasswordHash,
    verified: bool,
) -> Result<PortalAccount, StorageError> {
    let key = tx.tenant_key();
    let now = Timestamp::now().unix_millis();
    let row = sqlx::query(concat!(
        "INSERT INTO portal_accounts (tenant_id, id, username, username_normalized, email, email_normalized, email_verified_at, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
        columns!()
    ))
    .bind(key)
    .bind(AccountId::generate().to_string())
    .bind(username.as_str().to_owned())
    .bind(username.normalized())
    .bind(email.as_str().to_owned())
    .bind(email.normalized())
    .bind(verified.then_some(now))
    .bind(hash.as_str().to_owned())
    .bind(now)
    .fetch_one(tx.conn())
    .await?;
    Ok(from_row(&row)?.0)
}

pub(crate) async fn get(
    tx: &mut TenantTx,
    id: AccountId,
) -> Result<Option<(PortalAccount, PasswordHash)>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM portal_accounts WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(key)
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub(crate) async fn by_username(
    tx: &mut TenantTx,
    username: &str,
) -> Result<Option<(PortalAccount, PasswordHash)>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM portal_accounts WHERE tenant_id = $1 AND username_normalized = $2"
    ))
    .bind(key)
    .bind(username.to_ascii_lowercase())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every account using `email`; several when family members share one.
pub(crate) async fn by_email(
    tx: &mut TenantTx,
    email: &EmailAddress,
    limit: u32,
) -> Result<Vec<(PortalAccount, PasswordHash)>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM portal_accounts WHERE tenant_id = $1 AND email_normalized = $2 ORDER BY id LIMIT $3"
    ))
    .bind(key)
    .bind(email.normalized())
    .bind(i64::from(limit))
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(from_row).collect()
}

pub(crate) async fn set_password(
    tx: &mut TenantTx,
    id: AccountId,
    hash: &PasswordHash,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query("UPDATE portal_accounts SET password_hash = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(key)
        .bind(id.to_string())
        .bind(hash.as_str().to_owned())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub(crate) async fn set_email_verified(
    tx: &mut TenantTx,
    id: AccountId,
    email: &EmailAddress,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "UPDATE portal_accounts SET email = $3, email_normalized = $4, email_verified_at = $5 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(email.as_str().to_owned())
    .bind(email.normalized())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Renames the account's login.
pub(crate) async fn set_username(
    tx: &mut TenantTx,
    id: AccountId,
    username: &Username,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "UPDATE portal_accounts SET username = $3, username_normalized = $4 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(username.as_str().to_owned())
    .bind(username.normalized())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Turns the account's codes by email on or off.
pub(crate) async fn set_email_second_step(
    tx: &mut TenantTx,
    account: AccountId,
    on: bool,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "UPDATE portal_accounts SET email_second_step = $3 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(key)
    .bind(account.to_string())
    .bind(i64::from(on))
    .execute(tx.conn())
    .await?;
    Ok(())
}
