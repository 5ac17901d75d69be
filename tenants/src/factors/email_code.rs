//! Six-digit sign-in codes sent by email, for patients who chose them as
//! their second step (or whose clinic requires one and who chose nothing
//! else). A code belongs to one waiting sign-in, works once, for ten
//! minutes; three wrong tries spend it, and only a keyed hash is stored.

use std::time::Duration;

use sqlx::Row;

use crate::auth::CodeKey;
use crate::domain::{AccountId, TenantId, Timestamp};
use crate::storage::{StorageError, TenantTx};

use super::TotpCode;

/// How long a mailed code works.
pub const EMAIL_CODE_TTL: Duration = Duration::from_secs(10 * 60);

/// Wrong tries a code survives; the next one spends it, and the patient
/// asks for a new one. The throttle bounds guessing across codes.
const MISSES_PER_CODE: i64 = 3;

/// How long a spent or expired code's row stays, for the mail budget.
const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// A fresh code, shown once in the mail.
pub struct EmailCode(String);

impl std::fmt::Debug for EmailCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailCode(<redacted>)")
    }
}

impl EmailCode {
    pub fn generate() -> Self {
        // Uniform over 000000..=999999: 2^32 is not a multiple of a million,
        // so draws past the last whole multiple are drawn again.
        const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000);
        loop {
            let n: u32 = rand::random();
            if n < LIMIT {
                return Self(format!("{:06}", n % 1_000_000));
            }
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The stored form: bound to the clinic and to the sign-in it was sent for.
fn hash(key: &CodeKey, tenant: TenantId, pending_login: &str, digits: &str) -> String {
    key.hash(tenant, &format!("email-sign-in:{pending_login}:{digits}"))
}

/// Stores `code` for the waiting sign-in `pending_login`; an earlier code
/// for it stops working, so only the newest mail counts.
pub(crate) async fn store(
    tx: &mut TenantTx,
    key: &CodeKey,
    account: AccountId,
    pending_login: &str,
    code: &EmailCode,
) -> Result<Timestamp, StorageError> {
    let tenant_key = tx.tenant_key();
    let tenant = tx.tenant_id();
    let now = Timestamp::now();
    let expires_at = now.plus(EMAIL_CODE_TTL);
    sqlx::query(
        "UPDATE email_sign_in_codes SET used_at = $3
          WHERE tenant_id = $1 AND pending_login_id = $2 AND used_at IS NULL",
    )
    .bind(tenant_key.clone())
    .bind(pending_login.to_owned())
    .bind(now.unix_millis())
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "INSERT INTO email_sign_in_codes (tenant_id, id, account_id, pending_login_id, code_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_key)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(account.to_string())
    .bind(pending_login.to_owned())
    .bind(hash(key, tenant, pending_login, code.expose()))
    .bind(now.unix_millis())
    .bind(expires_at.unix_millis())
    .execute(tx.conn())
    .await?;
    // Old ones go as new ones come, once past any budget's window.
    sqlx::query("DELETE FROM email_sign_in_codes WHERE tenant_id = $1 AND created_at < $2")
        .bind(tx.tenant_key())
        .bind(now.minus(KEPT_FOR).unix_millis())
        .execute(tx.conn())
        .await?;
    Ok(expires_at)
}

/// How many codes were sent to `account` since `since`: the budget that
/// keeps a stranger who knows a password from filling the patient's inbox.
pub(crate) async fn sent_since(
    tx: &mut TenantTx,
    account: AccountId,
    since: Timestamp,
) -> Result<u32, StorageError> {
    let key = tx.tenant_key();
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) FROM email_sign_in_codes WHERE tenant_id = $1 AND account_id = $2 AND created_at > $3",
    )
    .bind(key)
    .bind(account.to_string())
    .bind(since.unix_millis())
    .fetch_one(tx.conn())
    .await?
    .try_get(0)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// What checking a typed code found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EmailCodeCheck {
    /// The live code of this sign-in; spent now.
    Spent,
    /// No live code matches; the live one (if any) took a miss.
    Wrong,
}

/// Checks `typed` against the live code of `pending_login`, spending it on
/// a match and counting a miss otherwise, in `tx`.
pub(crate) async fn check_and_spend(
    tx: &mut TenantTx,
    key: &CodeKey,
    pending_login: &str,
    typed: &TotpCode,
) -> Result<EmailCodeCheck, StorageError> {
    let tenant_key = tx.tenant_key();
    let tenant = tx.tenant_id();
    let now = Timestamp::now().unix_millis();
    let spent = sqlx::query(
        "UPDATE email_sign_in_codes SET used_at = $4
          WHERE tenant_id = $1 AND pending_login_id = $2 AND code_hash = $3
            AND used_at IS NULL AND expires_at > $4",
    )
    .bind(tenant_key.clone())
    .bind(pending_login.to_owned())
    .bind(hash(key, tenant, pending_login, typed.digits()))
    .bind(now)
    .execute(tx.conn())
    .await?;
    if spent.rows_affected() == 1 {
        return Ok(EmailCodeCheck::Spent);
    }
    sqlx::query(
        "UPDATE email_sign_in_codes
            SET misses = misses + 1,
                used_at = CASE WHEN misses + 1 >= $4 THEN $3 ELSE used_at END
          WHERE tenant_id = $1 AND pending_login_id = $2 AND used_at IS NULL",
    )
    .bind(tenant_key)
    .bind(pending_login.to_owned())
    .bind(now)
    .bind(MISSES_PER_CODE)
    .execute(tx.conn())
    .await?;
    Ok(EmailCodeCheck::Wrong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_not_printed() {
        for _ in 0..200 {
            let code = EmailCode::generate();
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
            assert!(!format!("{code:?}").contains(code.expose()));
        }
    }

    #[test]
    fn the_stored_form_is_bound_to_the_clinic_and_the_sign_in() {
        let key = CodeKey::generate();
        let (a, b) = (TenantId::generate(), TenantId::generate());
        assert_ne!(hash(&key, a, "p1", "123456"), hash(&key, b, "p1", "123456"));
        assert_ne!(hash(&key, a, "p1", "123456"), hash(&key, a, "p2", "123456"));
        assert!(!hash(&key, a, "p1", "123456").contains("123456"));
    }
}
