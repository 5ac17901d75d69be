//! The ledger's rows: appending an event in its own transaction, and
//! reading the log back for checking.

use sqlx::Row;

use super::heads::{SignedHead, TreeHead};
use super::merkle::Frontier;
use super::{CanonicalEvent, LeafHash};
use crate::storage::{Engine, StorageError, TenantTx};

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
    event_from_row_at(row, 0)
}

/// The event whose columns start at `at` in `row`.
fn event_from_row_at(row: &sqlx::any::AnyRow, at: usize) -> Result<StoredEvent, StorageError> {
    Ok(StoredEvent {
        id: row.try_get(at)?,
        occurred_at: row.try_get(at + 1)?,
        actor_kind: row.try_get(at + 2)?,
        actor_id: row.try_get(at + 3)?,
        action: row.try_get(at + 4)?,
        target: row.try_get(at + 5)?,
        outcome: row.try_get(at + 6)?,
        reason: row.try_get(at + 7)?,
        ip: row.try_get(at + 8)?,
        user_agent: row.try_get(at + 9)?,
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
    entries_after(tx, 0).await
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

/// Leaf hashes as stored (lowercase hex), back to bytes.
pub(crate) fn parse_hash(hex_hash: &str) -> Result<LeafHash, StorageError> {
    hex::decode(hex_hash)
        .ok()
        .and_then(|b| <LeafHash>::try_from(b).ok())
        .ok_or_else(|| StorageError::Corrupt(format!("{hex_hash:?} is not a SHA-256 hash")))
}

/// A frontier as stored: its hashes, lowercase hex joined by commas.
fn frontier_text(frontier: &Frontier) -> String {
    frontier
        .blocks()
        .iter()
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join(",")
}

fn frontier_of(size: u64, text: &str) -> Result<Frontier, StorageError> {
    let blocks = text
        .split(',')
        .filter(|b| !b.is_empty())
        .map(parse_hash)
        .collect::<Result<Vec<_>, _>>()?;
    Frontier::from_parts(size, blocks)
        .map_err(|e| StorageError::Corrupt(format!("an audit frontier: {e}")))
}

/// Where retention cut the clinic's log: the first `frontier.size()`
/// events are gone, summarised by the frontier whose root the head
/// `head_id` signed.
#[derive(Debug, Clone)]
pub struct Cut {
    pub frontier: Frontier,
    pub head_id: String,
    pub last_occurred_at: i64,
    pub cut_at: i64,
}

pub(crate) async fn cut(tx: &mut TenantTx) -> Result<Option<Cut>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "SELECT size, head_id, last_occurred_at, frontier, cut_at FROM audit_cuts WHERE tenant_id = $1",
    )
    .bind(key)
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let size = row.try_get::<i64, _>(0)?.max(0) as u64;
    let frontier = frontier_of(size, &row.try_get::<String, _>(3)?)?;
    Ok(Some(Cut {
        frontier,
        head_id: row.try_get(1)?,
        last_occurred_at: row.try_get(2)?,
        cut_at: row.try_get(4)?,
    }))
}

/// Moves the clinic's cut to `cut` and removes what it summarises: the
/// log's entries up to it, then their events. The database's triggers
/// allow exactly these removals and no others.
pub(crate) async fn prune_to(
    tx: &mut TenantTx,
    cut: &Cut,
    had_cut: bool,
) -> Result<u64, StorageError> {
    let key = tx.tenant_key();
    let frontier = frontier_text(&cut.frontier);
    let size = cut.frontier.size() as i64;
    let sql = if had_cut {
        "UPDATE audit_cuts SET size = $2, head_id = $3, last_occurred_at = $4, frontier = $5, cut_at = $6
          WHERE tenant_id = $1"
    } else {
        "INSERT INTO audit_cuts (tenant_id, size, head_id, last_occurred_at, frontier, cut_at)
         VALUES ($1, $2, $3, $4, $5, $6)"
    };
    sqlx::query(sql)
        .bind(key.clone())
        .bind(size)
        .bind(cut.head_id.clone())
        .bind(cut.last_occurred_at)
        .bind(frontier)
        .bind(cut.cut_at)
        .execute(tx.conn())
        .await?;
    if tx.engine() == Engine::Postgres {
        // The application's role may not delete from the trail; a function
        // owned by the schema's owner removes exactly what the cut allows.
        let removed: i64 = sqlx::query_scalar("SELECT audit_prune_to_cut($1)")
            .bind(key)
            .fetch_one(tx.conn())
            .await?;
        return Ok(removed.max(0) as u64);
    }
    let gone: Vec<String> = sqlx::query_scalar(
        "DELETE FROM audit_ledger WHERE tenant_id = $1 AND seq <= $2 RETURNING event_id",
    )
    .bind(key.clone())
    .bind(size)
    .fetch_all(tx.conn())
    .await?;
    for chunk in gone.chunks(500) {
        // One statement per chunk: the ids are bound, never spliced.
        let mut sql = String::from("DELETE FROM audit_events WHERE tenant_id = $1 AND id IN (");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", i + 2));
        }
        sql.push(')');
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key.clone());
        for id in chunk {
            query = query.bind(id.clone());
        }
        query.execute(tx.conn()).await?;
    }
    Ok(gone.len() as u64)
}

/// The log's entries from `from` to `to` (inclusive), each with its event
/// (absent when the event is gone), in order.
pub(crate) async fn entries_with_events(
    tx: &mut TenantTx,
    from: u64,
    to: u64,
) -> Result<Vec<(LedgerEntry, Option<StoredEvent>)>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT l.seq, l.event_id, l.leaf_hash, ",
        event_columns!(),
        " FROM audit_ledger l
          LEFT JOIN audit_events e ON e.tenant_id = l.tenant_id AND e.id = l.event_id
          WHERE l.tenant_id = $1 AND l.seq >= $2 AND l.seq <= $3
          ORDER BY l.seq"
    ))
    .bind(key)
    .bind(from as i64)
    .bind(to as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            let entry = LedgerEntry {
                seq: r.try_get::<i64, _>(0)?.max(0) as u64,
                event_id: r.try_get(1)?,
                leaf_hash: r.try_get(2)?,
            };
            let present: Option<String> = r.try_get(3)?;
            let event = match present {
                Some(_) => Some(event_from_row_at(r, 3)?),
                None => None,
            };
            Ok((entry, event))
        })
        .collect()
}

/// The seq of the newest logged event that occurred before `at`.
pub(crate) async fn last_seq_before(tx: &mut TenantTx, at: i64) -> Result<u64, StorageError> {
    let key = tx.tenant_key();
    // The log's order is the order of commits, and two nodes may commit a
    // moment out of time order; the cut stops before the first event that
    // is young enough to keep, so nothing younger is ever pruned.
    let first_kept: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(l.seq) FROM audit_ledger l
           JOIN audit_events e ON e.tenant_id = l.tenant_id AND e.id = l.event_id
          WHERE l.tenant_id = $1 AND e.occurred_at >= $2",
    )
    .bind(key.clone())
    .bind(at)
    .fetch_one(tx.conn())
    .await?;
    match first_kept {
        Some(seq) => Ok((seq - 1).max(0) as u64),
        None => size(tx).await,
    }
}

/// When event `seq` occurred.
pub(crate) async fn occurred_at(tx: &mut TenantTx, seq: u64) -> Result<Option<i64>, StorageError> {
    let key = tx.tenant_key();
    Ok(sqlx::query_scalar(
        "SELECT e.occurred_at FROM audit_ledger l
           JOIN audit_events e ON e.tenant_id = l.tenant_id AND e.id = l.event_id
          WHERE l.tenant_id = $1 AND l.seq = $2",
    )
    .bind(key)
    .bind(seq as i64)
    .fetch_optional(tx.conn())
    .await?)
}

macro_rules! head_columns {
    () => {
        "id, size, root_hash, signed_at, key_id, public_key, signature"
    };
}

fn head_from_row(tenant_id: &str, row: &sqlx::any::AnyRow) -> Result<SignedHead, StorageError> {
    let corrupt = |what: &str| StorageError::Corrupt(format!("a signed head's {what}"));
    let public_key: String = row.try_get(5)?;
    let signature: String = row.try_get(6)?;
    Ok(SignedHead {
        id: row.try_get(0)?,
        head: TreeHead {
            tenant_id: tenant_id.to_owned(),
            size: row.try_get::<i64, _>(1)?.max(0) as u64,
            root: parse_hash(&row.try_get::<String, _>(2)?)?,
            signed_at: row.try_get(3)?,
        },
        key_id: row.try_get(4)?,
        public_key: hex::decode(public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt("public key"))?,
        signature: hex::decode(signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt("signature"))?,
    })
}

/// Stores a signed head with the frontier of its events.
pub(crate) async fn insert_head(
    tx: &mut TenantTx,
    head: &SignedHead,
    frontier: &Frontier,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "INSERT INTO audit_heads (tenant_id, id, size, root_hash, signed_at, key_id, public_key, signature, frontier)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(key)
    .bind(head.id.clone())
    .bind(head.head.size as i64)
    .bind(hex::encode(head.head.root))
    .bind(head.head.signed_at)
    .bind(head.key_id.clone())
    .bind(hex::encode(head.public_key))
    .bind(hex::encode(head.signature))
    .bind(frontier_text(frontier))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The clinic's signed heads, oldest first.
pub(crate) async fn heads(tx: &mut TenantTx) -> Result<Vec<SignedHead>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        head_columns!(),
        " FROM audit_heads WHERE tenant_id = $1 ORDER BY size, signed_at, id"
    ))
    .bind(key.clone())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| head_from_row(&key, r)).collect()
}

/// One signed head, by id.
pub(crate) async fn head(tx: &mut TenantTx, id: &str) -> Result<Option<SignedHead>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        head_columns!(),
        " FROM audit_heads WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(key.clone())
    .bind(id.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| head_from_row(&key, &r)).transpose()
}

/// The newest signed head.
pub(crate) async fn latest_head(tx: &mut TenantTx) -> Result<Option<SignedHead>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        head_columns!(),
        " FROM audit_heads WHERE tenant_id = $1 ORDER BY size DESC, signed_at DESC, id DESC LIMIT 1"
    ))
    .bind(key.clone())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| head_from_row(&key, &r)).transpose()
}

/// The newest signed head with the frontier stored beside it.
pub(crate) async fn latest_head_with_frontier(
    tx: &mut TenantTx,
) -> Result<Option<(SignedHead, Frontier)>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        head_columns!(),
        ", frontier FROM audit_heads WHERE tenant_id = $1 ORDER BY size DESC, signed_at DESC, id DESC LIMIT 1"
    ))
    .bind(key.clone())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let head = head_from_row(&key, &row)?;
    let frontier = frontier_of(head.head.size, &row.try_get::<String, _>(7)?)?;
    Ok(Some((head, frontier)))
}

/// The log's entries after place `after`, in order.
pub(crate) async fn entries_after(
    tx: &mut TenantTx,
    after: u64,
) -> Result<Vec<LedgerEntry>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT seq, event_id, leaf_hash FROM audit_ledger WHERE tenant_id = $1 AND seq > $2 ORDER BY seq",
    )
    .bind(key)
    .bind(after as i64)
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
