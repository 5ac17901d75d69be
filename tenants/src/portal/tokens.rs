//! One-time tokens mailed to an account: verify an email, reset a
//! password, confirm a new email. Stored as SHA-256, single use.

use std::time::Duration;

use sqlx::Row;

use crate::auth::SecretToken;
use crate::domain::{AccountId, EmailAddress, Timestamp};
use crate::storage::{StorageError, TenantTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    VerifyEmail,
    ResetPassword,
    ChangeEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::ChangeEmail => "change_email",
        }
    }

    /// How long a mailed link works.
    pub(crate) fn lifetime(self) -> Duration {
        match self {
            Self::ResetPassword => Duration::from_secs(3600),
            Self::VerifyEmail | Self::ChangeEmail => Duration::from_secs(3 * 24 * 3600),
        }
    }
}

pub(crate) async fn issue(
    tx: &mut TenantTx,
    account: AccountId,
    purpose: Purpose,
    new_email: Option<&EmailAddress>,
) -> Result<SecretToken, StorageError> {
    let token = SecretToken::generate();
    let now = Timestamp::now();
    let key = tx.tenant_key();
    sqlx::query(
        "INSERT INTO account_tokens (tenant_id, id, account_id, purpose, token_hash, new_email, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(account.to_string())
    .bind(purpose.as_str())
    .bind(token.hash())
    .bind(new_email.map(|e| e.as_str().to_owned()))
    .bind(now.unix_millis())
    .bind(now.plus(purpose.lifetime()).unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(token)
}

pub(crate) struct Used {
    pub account: AccountId,
    pub purpose: Purpose,
    pub new_email: Option<EmailAddress>,
}

/// Spends a token: `None` when it is unknown, used or expired.
pub(crate) async fn consume(
    tx: &mut TenantTx,
    token: &SecretToken,
) -> Result<Option<Used>, StorageError> {
    let key = tx.tenant_key();
    let now = Timestamp::now().unix_millis();
    let row = sqlx::query(
        "UPDATE account_tokens SET used_at = $3
          WHERE tenant_id = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > $3
          RETURNING account_id, purpose, new_email",
    )
    .bind(key)
    .bind(token.hash())
    .bind(now)
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    let purpose = match row.try_get::<String, _>(1)?.as_str() {
        "verify_email" => Purpose::VerifyEmail,
        "reset_password" => Purpose::ResetPassword,
        _ => Purpose::ChangeEmail,
    };
    Ok(Some(Used {
        account: AccountId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        purpose,
        new_email: row
            .try_get::<Option<String>, _>(2)?
            .map(|e| EmailAddress::parse(&e))
            .transpose()
            .map_err(corrupt)?,
    }))
}

/// Spends every unused link of `account`: its address changed, and links
/// mailed to the old one must not outlive it.
pub(crate) async fn spend_all(tx: &mut TenantTx, account: AccountId) -> Result<u64, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE account_tokens SET used_at = $3
          WHERE tenant_id = $1 AND account_id = $2 AND used_at IS NULL",
    )
    .bind(key)
    .bind(account.to_string())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}
