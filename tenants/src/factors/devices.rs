//! Browsers a patient trusts: for 30 days a sign-in from one skips the
//! second step. The browser keeps a random token in a cookie; only its
//! hash is stored. The patient sees and revokes them on the account page,
//! and a new password revokes them all.

use std::time::Duration;

use sqlx::Row;

use crate::auth::SecretToken;
use crate::domain::{AccountId, Timestamp};
use crate::storage::{StorageError, TenantTx};

/// How long a device stays trusted.
pub const TRUSTED_DEVICE_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A device just trusted; the token goes to the browser once.
#[derive(Debug)]
pub struct DeviceTrusted {
    pub token: SecretToken,
    pub expires_at: Timestamp,
}

/// A trusted device as the account page lists it.
#[derive(Debug, Clone)]
pub struct TrustedDevice {
    pub id: String,
    /// What the browser said it was, shortened ("Firefox on Linux").
    pub label: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Timestamp,
}

/// A short, readable name for a browser from its User-Agent; the patient
/// recognises "Chrome on Android", not the whole string.
pub fn label_of(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(mark, _)| ua.contains(mark))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(mark, _)| ua.contains(mark))
    .map(|(_, name)| name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

pub(crate) async fn trust(
    tx: &mut TenantTx,
    account: AccountId,
    label: &str,
) -> Result<DeviceTrusted, StorageError> {
    let token = SecretToken::generate();
    let now = Timestamp::now();
    let expires_at = now.plus(TRUSTED_DEVICE_TTL);
    sqlx::query(
        "INSERT INTO trusted_devices (tenant_id, id, account_id, token_hash, label, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant_key())
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(account.to_string())
    .bind(token.hash())
    .bind(label.to_owned())
    .bind(now.unix_millis())
    .bind(expires_at.unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(DeviceTrusted { token, expires_at })
}

/// Whether `token` is a live trusted device of `account`; marks it used.
pub(crate) async fn recognise(
    tx: &mut TenantTx,
    account: AccountId,
    token: &SecretToken,
) -> Result<Option<String>, StorageError> {
    let now = Timestamp::now().unix_millis();
    let row = sqlx::query(
        "UPDATE trusted_devices SET last_used_at = $4
          WHERE tenant_id = $1 AND account_id = $2 AND token_hash = $3
            AND revoked_at IS NULL AND expires_at > $4
          RETURNING id",
    )
    .bind(tx.tenant_key())
    .bind(account.to_string())
    .bind(token.hash())
    .bind(now)
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
}

/// The account's live trusted devices, newest first.
pub(crate) async fn list(
    tx: &mut TenantTx,
    account: AccountId,
) -> Result<Vec<TrustedDevice>, StorageError> {
    let rows = sqlx::query(
        "SELECT id, label, created_at, last_used_at, expires_at FROM trusted_devices
          WHERE tenant_id = $1 AND account_id = $2 AND revoked_at IS NULL AND expires_at > $3
          ORDER BY created_at DESC",
    )
    .bind(tx.tenant_key())
    .bind(account.to_string())
    .bind(Timestamp::now().unix_millis())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(TrustedDevice {
                id: row.try_get(0)?,
                label: row.try_get(1)?,
                created_at: Timestamp::from_unix_millis(row.try_get(2)?),
                last_used_at: row
                    .try_get::<Option<i64>, _>(3)?
                    .map(Timestamp::from_unix_millis),
                expires_at: Timestamp::from_unix_millis(row.try_get(4)?),
            })
        })
        .collect()
}

/// Revokes one device of `account`; `false` when there is no such live one.
pub(crate) async fn revoke(
    tx: &mut TenantTx,
    account: AccountId,
    id: &str,
) -> Result<bool, StorageError> {
    let done = sqlx::query(
        "UPDATE trusted_devices SET revoked_at = $4
          WHERE tenant_id = $1 AND account_id = $2 AND id = $3 AND revoked_at IS NULL",
    )
    .bind(tx.tenant_key())
    .bind(account.to_string())
    .bind(id.to_owned())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every device of `account` (a new password); how many.
pub(crate) async fn revoke_all(tx: &mut TenantTx, account: AccountId) -> Result<u64, StorageError> {
    let done = sqlx::query(
        "UPDATE trusted_devices SET revoked_at = $3
          WHERE tenant_id = $1 AND account_id = $2 AND revoked_at IS NULL",
    )
    .bind(tx.tenant_key())
    .bind(account.to_string())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::label_of;

    #[test]
    fn a_browser_gets_a_name_a_person_recognises() {
        assert_eq!(
            label_of(Some(
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
            )),
            "Firefox on Linux"
        );
        assert_eq!(
            label_of(Some(
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
            )),
            "Chrome on Android"
        );
        assert_eq!(
            label_of(Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
            )),
            "Safari on iPhone"
        );
        assert_eq!(label_of(None), "A browser");
    }
}
