//! The rows of second factors, recovery codes and logins waiting for their
//! second step.

// The holder column is one of two fixed names ([`Holder::column`]); every
// value is bound.
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::coherence::Change;
use crate::domain::{AccountId, DisplayName, FactorId, StaffId, TenantId, Timestamp};
use crate::storage::{StorageError, TenantTx};

/// Whose factor it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Staff(StaffId),
    Account(AccountId),
}

impl Holder {
    /// The column that names the holder; the other one is NULL.
    fn column(self) -> &'static str {
        match self {
            Self::Staff(_) => "staff_id",
            Self::Account(_) => "account_id",
        }
    }

    fn id(self) -> String {
        match self {
            Self::Staff(id) => id.to_string(),
            Self::Account(id) => id.to_string(),
        }
    }

    /// What caches must forget when the holder's confirmed factors change
    /// (a staff session carries whether its member has one).
    fn change(self, tenant: TenantId) -> Change {
        match self {
            Self::Staff(staff) => Change::Staff { tenant, staff },
            Self::Account(account) => Change::Account { tenant, account },
        }
    }

    /// The key the throttle counts this holder's failures under.
    pub fn throttle_key(self) -> String {
        self.id()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorKind {
    /// An authenticator app's six-digit codes.
    Totp,
    Passkey,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Passkey => "passkey",
        }
    }

    fn parse(raw: &str) -> Result<Self, StorageError> {
        match raw {
            "totp" => Ok(Self::Totp),
            "passkey" => Ok(Self::Passkey),
            other => Err(StorageError::Corrupt(format!("factor kind {other:?}"))),
        }
    }
}

/// A confirmed factor, as its holder's list shows it.
#[derive(Debug, Clone)]
pub struct FactorSummary {
    pub id: FactorId,
    pub kind: FactorKind,
    pub name: DisplayName,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// An authenticator app's stored secret, for checking a code.
pub(crate) struct StoredTotp {
    pub id: FactorId,
    pub sealed_secret: String,
    pub last_step: Option<u64>,
}

fn summary(row: &AnyRow) -> Result<FactorSummary, StorageError> {
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    Ok(FactorSummary {
        id: FactorId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        kind: FactorKind::parse(&row.try_get::<String, _>(1)?)?,
        name: DisplayName::parse("name", &row.try_get::<String, _>(2)?).map_err(corrupt)?,
        created_at: Timestamp::from_unix_millis(row.try_get(3)?),
        last_used_at: row
            .try_get::<Option<i64>, _>(4)?
            .map(Timestamp::from_unix_millis),
    })
}

/// Starts an authenticator-app enrolment; an unfinished one of the same
/// holder is dropped, so at most one waits at a time.
pub(crate) async fn begin_totp(
    tx: &mut TenantTx,
    holder: Holder,
    name: &DisplayName,
    sealed_secret: &str,
) -> Result<FactorId, StorageError> {
    let key = tx.tenant_key();
    let column = holder.column();
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM second_factors WHERE tenant_id = $1 AND {column} = $2 AND confirmed_at IS NULL"
    )))
    .bind(key.clone())
    .bind(holder.id())
    .execute(tx.conn())
    .await?;
    let id = FactorId::generate();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO second_factors (tenant_id, id, {column}, kind, name, sealed_secret, created_at)
         VALUES ($1, $2, $3, 'totp', $4, $5, $6)"
    )))
    .bind(key)
    .bind(id.to_string())
    .bind(holder.id())
    .bind(name.as_str().to_owned())
    .bind(sealed_secret.to_owned())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// The unfinished authenticator-app enrolment `id` of `holder`, begun
/// after `since`.
pub(crate) async fn unconfirmed_totp(
    tx: &mut TenantTx,
    holder: Holder,
    id: FactorId,
    since: Timestamp,
) -> Result<Option<StoredTotp>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, sealed_secret, last_step FROM second_factors
          WHERE tenant_id = $1 AND {} = $2 AND id = $3 AND kind = 'totp'
            AND confirmed_at IS NULL AND created_at > $4",
        holder.column()
    )))
    .bind(key)
    .bind(holder.id())
    .bind(id.to_string())
    .bind(since.unix_millis())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(stored_totp).transpose()
}

fn stored_totp(row: &AnyRow) -> Result<StoredTotp, StorageError> {
    Ok(StoredTotp {
        id: FactorId::parse(&row.try_get::<String, _>(0)?)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        sealed_secret: row.try_get(1)?,
        last_step: row.try_get::<Option<i64>, _>(2)?.map(|s| s.max(0) as u64),
    })
}

/// Finishes an enrolment, with the step of the code that proved it.
pub(crate) async fn confirm(
    tx: &mut TenantTx,
    id: FactorId,
    step: Option<u64>,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let now = Timestamp::now().unix_millis();
    let holder = sqlx::query(
        "UPDATE second_factors SET confirmed_at = $3, last_used_at = $3, last_step = $4
          WHERE tenant_id = $1 AND id = $2 AND confirmed_at IS NULL
          RETURNING staff_id, account_id",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(now)
    .bind(step.map(|s| s as i64))
    .fetch_optional(tx.conn())
    .await?;
    let Some(holder) = holder else {
        return Ok(false);
    };
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    let holder = match (
        holder.try_get::<Option<String>, _>(0)?,
        holder.try_get::<Option<String>, _>(1)?,
    ) {
        (Some(staff), _) => Holder::Staff(StaffId::parse(&staff).map_err(corrupt)?),
        (None, Some(account)) => Holder::Account(AccountId::parse(&account).map_err(corrupt)?),
        (None, None) => return Err(StorageError::Corrupt("a factor with no holder".into())),
    };
    tx.changed(holder.change(tx.tenant_id()));
    Ok(true)
}

/// The holder's confirmed factors, oldest first.
pub(crate) async fn list(
    tx: &mut TenantTx,
    holder: Holder,
) -> Result<Vec<FactorSummary>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, kind, name, created_at, last_used_at FROM second_factors
          WHERE tenant_id = $1 AND {} = $2 AND confirmed_at IS NOT NULL
          ORDER BY created_at, id",
        holder.column()
    )))
    .bind(key)
    .bind(holder.id())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(summary).collect()
}

/// The holder's confirmed authenticator apps, for checking a code.
pub(crate) async fn totps(
    tx: &mut TenantTx,
    holder: Holder,
) -> Result<Vec<StoredTotp>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, sealed_secret, last_step FROM second_factors
          WHERE tenant_id = $1 AND {} = $2 AND kind = 'totp' AND confirmed_at IS NOT NULL
          ORDER BY created_at, id",
        holder.column()
    )))
    .bind(key)
    .bind(holder.id())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(stored_totp).collect()
}

/// Records that an authenticator code of time step `step` was accepted.
/// `false` when a code of that step or a later one got there first (two
/// requests racing with one code): the second is refused.
pub(crate) async fn spend_step(
    tx: &mut TenantTx,
    id: FactorId,
    step: u64,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE second_factors SET last_step = $3, last_used_at = $4
          WHERE tenant_id = $1 AND id = $2 AND (last_step IS NULL OR last_step < $3)",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(step as i64)
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Renames one of the holder's factors; `false` when it is not theirs.
pub(crate) async fn rename(
    tx: &mut TenantTx,
    holder: Holder,
    id: FactorId,
    name: &DisplayName,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE second_factors SET name = $4
          WHERE tenant_id = $1 AND {} = $2 AND id = $3 AND confirmed_at IS NOT NULL",
        holder.column()
    )))
    .bind(key)
    .bind(holder.id())
    .bind(id.to_string())
    .bind(name.as_str().to_owned())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes one of the holder's factors; `false` when it is not theirs.
pub(crate) async fn remove(
    tx: &mut TenantTx,
    holder: Holder,
    id: FactorId,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM second_factors WHERE tenant_id = $1 AND {} = $2 AND id = $3",
        holder.column()
    )))
    .bind(key)
    .bind(holder.id())
    .bind(id.to_string())
    .execute(tx.conn())
    .await?;
    tx.changed(holder.change(tx.tenant_id()));
    Ok(done.rows_affected() == 1)
}

/// Removes every factor and recovery code of the holder: how many
/// factors there were.
pub(crate) async fn remove_all(tx: &mut TenantTx, holder: Holder) -> Result<u64, StorageError> {
    tx.changed(holder.change(tx.tenant_id()));
    let key = tx.tenant_key();
    let column = holder.column();
    let done = sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM second_factors WHERE tenant_id = $1 AND {column} = $2 AND confirmed_at IS NOT NULL"
    )))
    .bind(key.clone())
    .bind(holder.id())
    .execute(tx.conn())
    .await?;
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM second_factors WHERE tenant_id = $1 AND {column} = $2"
    )))
    .bind(key.clone())
    .bind(holder.id())
    .execute(tx.conn())
    .await?;
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM recovery_codes WHERE tenant_id = $1 AND {column} = $2"
    )))
    .bind(key)
    .bind(holder.id())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Replaces the holder's recovery codes with `hashes`.
pub(crate) async fn replace_recovery_codes(
    tx: &mut TenantTx,
    holder: Holder,
    hashes: &[String],
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    let column = holder.column();
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM recovery_codes WHERE tenant_id = $1 AND {column} = $2"
    )))
    .bind(key.clone())
    .bind(holder.id())
    .execute(tx.conn())
    .await?;
    let now = Timestamp::now().unix_millis();
    for hash in hashes {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO recovery_codes (tenant_id, id, {column}, code_hash, created_at)
             VALUES ($1, $2, $3, $4, $5)"
        )))
        .bind(key.clone())
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(holder.id())
        .bind(hash.clone())
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Spends the holder's unused recovery code with `hash`; `false` when
/// there is none (wrong, used, or another person's).
pub(crate) async fn spend_recovery_code(
    tx: &mut TenantTx,
    holder: Holder,
    hash: &str,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE recovery_codes SET used_at = $4
          WHERE tenant_id = $1 AND {} = $2 AND code_hash = $3 AND used_at IS NULL",
        holder.column()
    )))
    .bind(key)
    .bind(holder.id())
    .bind(hash.to_owned())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many of the holder's recovery codes are unused.
pub(crate) async fn recovery_codes_left(
    tx: &mut TenantTx,
    holder: Holder,
) -> Result<u32, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM recovery_codes WHERE tenant_id = $1 AND {} = $2 AND used_at IS NULL",
        holder.column()
    )))
    .bind(key)
    .bind(holder.id())
    .fetch_one(tx.conn())
    .await?;
    Ok(row.try_get::<i64, _>(0)?.max(0) as u32)
}

/// Adds a registered passkey, confirmed: the ceremony proved it.
pub(crate) async fn insert_passkey(
    tx: &mut TenantTx,
    holder: Holder,
    name: &DisplayName,
    credential_id: &str,
    passkey: &str,
) -> Result<FactorId, StorageError> {
    tx.changed(holder.change(tx.tenant_id()));
    let key = tx.tenant_key();
    let id = FactorId::generate();
    let now = Timestamp::now().unix_millis();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO second_factors (tenant_id, id, {}, kind, name, credential_id, passkey, created_at, confirmed_at)
         VALUES ($1, $2, $3, 'passkey', $4, $5, $6, $7, $7)",
        holder.column()
    )))
    .bind(key)
    .bind(id.to_string())
    .bind(holder.id())
    .bind(name.as_str().to_owned())
    .bind(credential_id.to_owned())
    .bind(passkey.to_owned())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// A stored passkey: its factor, and the credential as JSON.
pub(crate) struct StoredPasskey {
    pub id: FactorId,
    pub passkey: String,
}

/// The holder's passkeys.
pub(crate) async fn passkeys(
    tx: &mut TenantTx,
    holder: Holder,
) -> Result<Vec<StoredPasskey>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, passkey FROM second_factors
          WHERE tenant_id = $1 AND {} = $2 AND kind = 'passkey' AND confirmed_at IS NOT NULL
          ORDER BY created_at, id",
        holder.column()
    )))
    .bind(key)
    .bind(holder.id())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredPasskey {
                id: FactorId::parse(&row.try_get::<String, _>(0)?)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?,
                passkey: row.try_get(1)?,
            })
        })
        .collect()
}

/// Keeps a passkey's new counter and backup state after a use.
pub(crate) async fn update_passkey(
    tx: &mut TenantTx,
    id: FactorId,
    passkey: &str,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "UPDATE second_factors SET passkey = $3, last_used_at = $4 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(passkey.to_owned())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(())
}
