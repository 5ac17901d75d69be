use std::time::Duration;

use sqlx::Row;

use crate::auth::SecretToken;
use crate::coherence::Change;
use crate::domain::{StaffId, Timestamp};
use crate::storage::{StorageError, TenantTx};

/// How a session is carried: a cookie for pages (needs a CSRF token on
/// unsafe requests), or a bearer token for API clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Cookie,
    Bearer,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Bearer => "bearer",
        }
    }
}

/// A live session, as found by its token.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub staff_id: StaffId,
    pub kind: SessionKind,
    pub csrf_token: String,
    pub expires_at: Timestamp,
    pub step_up_at: Option<Timestamp>,
    /// The last step-up was made with a second factor, not the password.
    pub step_up_by_factor: bool,
    /// The staff member's password was chosen by someone else: the door
    /// lets this session do nothing but change it (or log out).
    pub must_change_password: bool,
    /// The staff member has a confirmed second factor; a clinic that
    /// requires one lets a session without it do nothing but set one up.
    pub has_second_factor: bool,
}

pub(crate) struct CreatedSession {
    pub id: String,
    pub token: SecretToken,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

pub(crate) async fn create(
    tx: &mut TenantTx,
    staff: StaffId,
    kind: SessionKind,
    ttl: Duration,
) -> Result<CreatedSession, StorageError> {
    let token = SecretToken::generate();
    let csrf_token = SecretToken::generate().expose().to_owned();
    let now = Timestamp::now();
    let expires_at = now.plus(ttl);
    let key = tx.tenant_key();
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO staff_sessions (tenant_id, id, staff_id, token_hash, kind, csrf_token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key)
    .bind(id.clone())
    .bind(staff.to_string())
    .bind(token.hash())
    .bind(kind.as_str())
    .bind(csrf_token.clone())
    .bind(now.unix_millis())
    .bind(expires_at.unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(CreatedSession {
        id,
        token,
        csrf_token,
        expires_at,
    })
}

/// What a presented token turned out to be.
pub(crate) enum Lookup {
    Live(SessionRecord),
    Expired,
    Unknown,
}

pub(crate) async fn find(tx: &mut TenantTx, token: &SecretToken) -> Result<Lookup, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "SELECT s.id, s.staff_id, s.kind, s.csrf_token, s.expires_at, s.step_up_at, s.revoked_at, m.status,
                m.must_change_password, s.step_up_by_factor,
                (SELECT COUNT(*) FROM second_factors f
                  WHERE f.tenant_id = s.tenant_id AND f.staff_id = s.staff_id
                    AND f.confirmed_at IS NOT NULL)
           FROM staff_sessions s
           JOIN staff m ON m.tenant_id = s.tenant_id AND m.id = s.staff_id
          WHERE s.tenant_id = $1 AND s.token_hash = $2",
    )
    .bind(key)
    .bind(token.hash())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        return Ok(Lookup::Unknown);
    };
    let revoked_at: Option<i64> = row.try_get(6)?;
    let staff_status: String = row.try_get(7)?;
    if revoked_at.is_some() || staff_status != "active" {
        return Ok(Lookup::Unknown);
    }
    let expires_at = Timestamp::from_unix_millis(row.try_get(4)?);
    if expires_at <= Timestamp::now() {
        return Ok(Lookup::Expired);
    }
    let kind = match row.try_get::<String, _>(2)?.as_str() {
        "cookie" => SessionKind::Cookie,
        _ => SessionKind::Bearer,
    };
    Ok(Lookup::Live(SessionRecord {
        id: row.try_get(0)?,
        staff_id: StaffId::parse(&row.try_get::<String, _>(1)?)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        kind,
        csrf_token: row.try_get(3)?,
        expires_at,
        step_up_at: row
            .try_get::<Option<i64>, _>(5)?
            .map(Timestamp::from_unix_millis),
        must_change_password: row.try_get::<i64, _>(8)? == 1,
        step_up_by_factor: row.try_get::<i64, _>(9)? == 1,
        has_second_factor: row.try_get::<i64, _>(10)? > 0,
    }))
}

pub(crate) async fn revoke(tx: &mut TenantTx, session_id: &str) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    let staff = sqlx::query(
        "UPDATE staff_sessions SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL
         RETURNING staff_id",
    )
    .bind(key)
    .bind(session_id.to_owned())
    .bind(Timestamp::now().unix_millis())
    .fetch_optional(tx.conn())
    .await?;
    if let Some(staff) = staff {
        changed_for(tx, &staff.try_get::<String, _>(0)?)?;
    }
    Ok(())
}

/// Caches keep a session with what it carries; a change to either is told.
fn changed_for(tx: &mut TenantTx, staff: &str) -> Result<(), StorageError> {
    let staff = StaffId::parse(staff).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    tx.changed(Change::Staff {
        tenant: tx.tenant_id(),
        staff,
    });
    Ok(())
}

/// Ends every session of `staff` except `keep` (the one changing the
/// password stays logged in).
pub(crate) async fn revoke_all_for(
    tx: &mut TenantTx,
    staff: StaffId,
    keep: Option<&str>,
) -> Result<u64, StorageError> {
    tx.changed(Change::Staff {
        tenant: tx.tenant_id(),
        staff,
    });
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE staff_sessions SET revoked_at = $3
          WHERE tenant_id = $1 AND staff_id = $2 AND revoked_at IS NULL AND ($4 IS NULL OR id <> $4)",
    )
    .bind(key)
    .bind(staff.to_string())
    .bind(Timestamp::now().unix_millis())
    .bind(keep.map(str::to_owned))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// How a step-up was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepUpBy {
    Password,
    SecondFactor,
}

pub(crate) async fn mark_step_up(
    tx: &mut TenantTx,
    session_id: &str,
    by: StepUpBy,
) -> Result<Timestamp, StorageError> {
    let now = Timestamp::now();
    let key = tx.tenant_key();
    let staff = sqlx::query(
        "UPDATE staff_sessions SET step_up_at = $3, step_up_by_factor = $4 WHERE tenant_id = $1 AND id = $2
         RETURNING staff_id",
    )
    .bind(key)
    .bind(session_id.to_owned())
    .bind(now.unix_millis())
    .bind(i64::from(by == StepUpBy::SecondFactor))
    .fetch_optional(tx.conn())
    .await?;
    if let Some(staff) = staff {
        changed_for(tx, &staff.try_get::<String, _>(0)?)?;
    }
    Ok(now)
}
