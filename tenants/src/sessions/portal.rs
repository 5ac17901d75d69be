use std::time::Duration;

use sqlx::Row;

use crate::auth::SecretToken;
use crate::coherence::Change;
use crate::domain::{AccountId, PatientId, Timestamp};
use crate::storage::{StorageError, TenantTx};

/// A live portal session.
#[derive(Debug, Clone)]
pub struct PortalSession {
    pub id: String,
    pub account_id: AccountId,
    pub csrf_token: String,
    pub active_patient: Option<PatientId>,
    pub expires_at: Timestamp,
}

pub(crate) struct Created {
    pub token: SecretToken,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

pub(crate) async fn create(
    tx: &mut TenantTx,
    account: AccountId,
    active_patient: Option<PatientId>,
    ttl: Duration,
) -> Result<Created, StorageError> {
    let token = SecretToken::generate();
    let csrf_token = SecretToken::generate().expose().to_owned();
    let now = Timestamp::now();
    let expires_at = now.plus(ttl);
    let key = tx.tenant_key();
    sqlx::query(
        "INSERT INTO portal_sessions (tenant_id, id, account_id, token_hash, csrf_token, active_patient_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(account.to_string())
    .bind(token.hash())
    .bind(csrf_token.clone())
    .bind(active_patient.map(|p| p.to_string()))
    .bind(now.unix_millis())
    .bind(expires_at.unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(Created {
        token,
        csrf_token,
        expires_at,
    })
}

pub(crate) enum Lookup {
    Live(PortalSession),
    Expired,
    Unknown,
}

pub(crate) async fn find(tx: &mut TenantTx, token: &SecretToken) -> Result<Lookup, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "SELECT id, account_id, csrf_token, active_patient_id, expires_at, revoked_at
           FROM portal_sessions WHERE tenant_id = $1 AND token_hash = $2",
    )
    .bind(key)
    .bind(token.hash())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        return Ok(Lookup::Unknown);
    };
    if row.try_get::<Option<i64>, _>(5)?.is_some() {
        return Ok(Lookup::Unknown);
    }
    let expires_at = Timestamp::from_unix_millis(row.try_get(4)?);
    if expires_at <= Timestamp::now() {
        return Ok(Lookup::Expired);
    }
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    Ok(Lookup::Live(PortalSession {
        id: row.try_get(0)?,
        account_id: AccountId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
        csrf_token: row.try_get(2)?,
        active_patient: row
            .try_get::<Option<String>, _>(3)?
            .map(|p| PatientId::parse(&p))
            .transpose()
            .map_err(corrupt)?,
        expires_at,
    }))
}

pub(crate) async fn revoke(tx: &mut TenantTx, id: &str) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    let account = sqlx::query(
        "UPDATE portal_sessions SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL
         RETURNING account_id",
    )
    .bind(key)
    .bind(id.to_owned())
    .bind(Timestamp::now().unix_millis())
    .fetch_optional(tx.conn())
    .await?;
    if let Some(account) = account {
        changed_for(tx, &account.try_get::<String, _>(0)?)?;
    }
    Ok(())
}

/// Caches keep a session with what it carries; a change to either is told.
fn changed_for(tx: &mut TenantTx, account: &str) -> Result<(), StorageError> {
    let account = AccountId::parse(account).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    tx.changed(Change::Account {
        tenant: tx.tenant_id(),
        account,
    });
    Ok(())
}

pub(crate) async fn revoke_all_for(
    tx: &mut TenantTx,
    account: AccountId,
) -> Result<(), StorageError> {
    revoke_others_of(tx, account, "").await.map(|_| ())
}

/// Ends every session of `account` but `keep` (none, when `keep` is no
/// session's id); how many ended.
pub(crate) async fn revoke_others_of(
    tx: &mut TenantTx,
    account: AccountId,
    keep: &str,
) -> Result<u64, StorageError> {
    tx.changed(Change::Account {
        tenant: tx.tenant_id(),
        account,
    });
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE portal_sessions SET revoked_at = $3
          WHERE tenant_id = $1 AND account_id = $2 AND revoked_at IS NULL AND id <> $4",
    )
    .bind(key)
    .bind(account.to_string())
    .bind(Timestamp::now().unix_millis())
    .bind(keep.to_owned())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn set_active_patient(
    tx: &mut TenantTx,
    id: &str,
    patient: PatientId,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    let account = sqlx::query(
        "UPDATE portal_sessions SET active_patient_id = $3 WHERE tenant_id = $1 AND id = $2
         RETURNING account_id",
    )
    .bind(key)
    .bind(id.to_owned())
    .bind(patient.to_string())
    .fetch_optional(tx.conn())
    .await?;
    if let Some(account) = account {
        changed_for(tx, &account.try_get::<String, _>(0)?)?;
    }
    Ok(())
}
