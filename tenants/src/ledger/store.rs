//! The ledger's rows: appending an event in its own transaction, and
//! reading the log back for checking.

use sqlx::Row;

use super::CanonicalEvent;
use crate::storage::{StorageError, TenantTx};

/// An audit event as stored, with every field the canonical form hashes.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: String,
    pub occurred_at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl StoredEvent {
    pub fn canonical<'a>(&'a self, tenant_id: &'a str, seq: u64) -> CanonicalEvent<'a> {
        CanonicalEvent {
            seq,
            occurred_at: self.occurred_at,
            tenant_id,
            event_id: &self.id,
            actor_kind: &self.actor_kind,
            actor_id: self.actor_id.as_deref(),
            action: &self.action,
            target: self.target.as_deref(),
            outcome: &self.outcome,
            reason: self.reason.as_deref(),
            ip: self.ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
        }
    }
}

/// An event's place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub seq: u64,
    pub event_id: String,
    pub leaf_hash: String,
}

macro_rules! event_columns {
    () => {
        "e.id, e.occurred_at, e.actor_kind, e.actor_id, e.action, e.target, e.outcome, e.reason, e.ip, e.user_agent"
    };
}

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<StoredEvent, StorageError> {
    Ok(StoredEvent {
        id: row.try_get(0)?,
        occurred_at: row.try_get(1)?,
        actor_kind: row.try_get(2)?,
        actor_id: row.try_get(3)?,
        action: row.try_get(4)?,
        target: row.try_get(5)?,
        outcome: row.try_get(6)?,
        reason: row.try_get(7)?,
        ip: row.try_get(8)?,
        user_agent: row.try_get(9)?,
    })
}

/// Puts `event`, just written in `tx`, at the end of its clinic's log,
/// starting the log first if the clinic has none.
pub(crate) async fn append(tx: &mut TenantTx, event: &StoredEvent) -> Result<u64, StorageError> {
    let key = tx.tenant_key();
    // The row's lock orders this clinic's appends across nodes: whoever
    // waits here reads the size its predecessor committed.
    let mut size = next_place(tx, &key).await?;
    if size.is_none() {
        // A clinic's first event: starting the log takes it in with any
        // earlier ones.
        if start(tx).await? {
            return self::size(tx).await;
        }
        // Another node started it a moment ago; its row is there now.
        size = next_place(tx, &key).await?;
    }
    let size =
        size.ok_or_else(|| StorageError::Corrupt("the audit log's size row is gone".into()))?;
    insert_entry(tx, event, size).await?;
    Ok(size as u64)
}

/// Takes the next place in the clinic's log, under its size row's lock;
/// `None` when the log has not started.
async fn next_place(tx: &mut TenantTx, key: &str) -> Result<Option<i64>, StorageError> {
    Ok(sqlx::query_scalar(
        "UPDATE audit_ledger_size SET size = size + 1 WHERE tenant_id = $1 RETURNING size",
    )
    .bind(key.to_owned())
    .fetch_optional(tx.conn())
    .await?)
}

/// Starts the clinic's log if it has none yet: the clinic's events so far
/// (from before the ledger existed) take places 1, 2, 3… oldest first.
/// True when this call started it. After that an event enters the log
/// only through its own append, so one written around it stays out.
pub(crate) async fn start(tx: &mut TenantTx) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let created = sqlx::query(
        "INSERT INTO audit_ledger_size (tenant_id, size) VALUES ($1, 0) ON CONFLICT DO NOTHING",
    )
    .bind(key.clone())
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1;
    if !created {
        return Ok(false);
    }
    let rows = sqlx::query(concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events e
          WHERE e.tenant_id = $1 AND NOT EXISTS (
              SELECT 1 FROM audit_ledger l WHERE l.tenant_id = e.tenant_id AND l.event_id = e.id)
          ORDER BY e.occurred_at, e.id"
    ))
    .bind(key.clone())
    .fetch_all(tx.conn())
    .await?;
    let mut size = 0_i64;
    for row in &rows {
        size += 1;
        insert_entry(tx, &event_from_row(row)?, size).await?;
    }
    sqlx::query("UPDATE audit_ledger_size SET size = $2 WHERE tenant_id = $1")
        .bind(key)
        .bind(size)
        .execute(tx.conn())
        .await?;
    Ok(true)
}

async fn insert_entry(
    tx: &mut TenantTx,
    event: &StoredEvent,
    seq: i64,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    let leaf = event.canonical(&key, seq as u64).leaf_hash();
    sqlx::query(
        "INSERT INTO audit_ledger (tenant_id, seq, event_id, leaf_hash) VALUES ($1, $2, $3, $4)",
    )
    .bind(key.clone())
    .bind(seq)
    .bind(event.id.clone())
    .bind(hex::encode(leaf))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The size the clinic's log says it has; 0 before its first append.
pub(crate) async fn size(tx: &mut TenantTx) -> Result<u64, StorageError> {
    let key = tx.tenant_key();
    let size: Option<i64> =
        sqlx::query_scalar("SELECT size FROM audit_ledger_size WHERE tenant_id = $1")
            .bind(key)
            .fetch_optional(tx.conn())
            .await?;
    Ok(size.unwrap_or(0).max(0) as u64)
}

/// Every entry of the clinic's log, in order.
pub(crate) async fn entries(tx: &mut TenantTx) -> Result<Vec<LedgerEntry>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT seq, event_id, leaf_hash FROM audit_ledger WHERE tenant_id = $1 ORDER BY seq",
    )
    .bind(key)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LedgerEntry {
                seq: r.try_get::<i64, _>(0)?.max(0) as u64,
                event_id: r.try_get(1)?,
                leaf_hash: r.try_get(2)?,
            })
        })
        .collect()
}

/// Every audit event of the clinic, whether or not it is in the log.
pub(crate) async fn events(tx: &mut TenantTx) -> Result<Vec<StoredEvent>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events e WHERE e.tenant_id = $1 ORDER BY e.occurred_at, e.id"
    ))
    .bind(key)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(event_from_row).collect()
}
