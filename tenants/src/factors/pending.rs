//! A login whose password was right and whose second step is still to
//! come. Its token is the only thing the second step accepts, once, for a
//! few minutes; only its hash is stored.

use std::time::Duration;

use sqlx::Row;

use super::Holder;
use crate::auth::SecretToken;
use crate::domain::{AccountId, StaffId, Timestamp};
use crate::sessions::SessionKind;
use crate::storage::{StorageError, TenantTx};

/// How long the second step may take.
pub const PENDING_LOGIN_TTL: Duration = Duration::from_secs(5 * 60);

/// A login waiting for its second factor. The token goes to the client
/// once.
#[derive(Debug)]
pub struct PendingLogin {
    pub(crate) id: String,
    pub token: SecretToken,
    pub expires_at: Timestamp,
    /// What the second step accepts from this person: `totp`, `passkey`
    /// (in a browser), `recovery_code`, and for a patient `email_code`.
    pub methods: Vec<&'static str>,
}

/// What a presented pending token stands for.
pub(crate) struct Waiting {
    pub id: String,
    pub holder: Holder,
    /// For staff: the session the finished login opens.
    pub session_kind: Option<SessionKind>,
}

pub(crate) async fn create(
    tx: &mut TenantTx,
    holder: Holder,
    session_kind: Option<SessionKind>,
) -> Result<PendingLogin, StorageError> {
    let token = SecretToken::generate();
    let id = uuid::Uuid::now_v7().to_string();
    let now = Timestamp::now();
    let expires_at = now.plus(PENDING_LOGIN_TTL);
    let key = tx.tenant_key();
    let (staff, account) = match holder {
        Holder::Staff(id) => (Some(id.to_string()), None),
        Holder::Account(id) => (None, Some(id.to_string())),
    };
    sqlx::query(
        "INSERT INTO pending_logins (tenant_id, id, token_hash, staff_id, account_id, session_kind, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key.clone())
    .bind(id.clone())
    .bind(token.hash())
    .bind(staff)
    .bind(account)
    .bind(session_kind.map(|k| k.as_str()))
    .bind(now.unix_millis())
    .bind(expires_at.unix_millis())
    .execute(tx.conn())
    .await?;
    // Old ones go as new ones come, so the table stays small.
    sqlx::query("DELETE FROM pending_logins WHERE tenant_id = $1 AND expires_at < $2")
        .bind(key)
        .bind(now.minus(PENDING_LOGIN_TTL).unix_millis())
        .execute(tx.conn())
        .await?;
    Ok(PendingLogin {
        id,
        token,
        expires_at,
        methods: Vec::new(),
    })
}

/// The live, unused pending login behind `token`.
pub(crate) async fn find(
    tx: &mut TenantTx,
    token: &SecretToken,
) -> Result<Option<Waiting>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "SELECT id, staff_id, account_id, session_kind FROM pending_logins
          WHERE tenant_id = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(key)
    .bind(token.hash())
    .bind(Timestamp::now().unix_millis())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    let holder = match (
        row.try_get::<Option<String>, _>(1)?,
        row.try_get::<Option<String>, _>(2)?,
    ) {
        (Some(staff), None) => Holder::Staff(StaffId::parse(&staff).map_err(corrupt)?),
        (None, Some(account)) => Holder::Account(AccountId::parse(&account).map_err(corrupt)?),
        _ => return Err(StorageError::Corrupt("pending login holder".into())),
    };
    let session_kind = match row.try_get::<Option<String>, _>(3)?.as_deref() {
        Some("cookie") => Some(SessionKind::Cookie),
        Some("bearer") => Some(SessionKind::Bearer),
        _ => None,
    };
    Ok(Some(Waiting {
        id: row.try_get(0)?,
        holder,
        session_kind,
    }))
}

/// Uses the pending login up; `false` when another request already did.
pub(crate) async fn spend(tx: &mut TenantTx, id: &str) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE pending_logins SET used_at = $3 WHERE tenant_id = $1 AND id = $2 AND used_at IS NULL",
    )
    .bind(key)
    .bind(id.to_owned())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
