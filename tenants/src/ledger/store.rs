//! The ledger's rows: an audit event written at its place in its clinic's
//! log (the place and leaf hash are columns of the event's own row), and
//! the log read back for checking.

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

/// Writes `event` in `tx` at the end of its clinic's log, starting the log
/// first if the clinic has none; its place.
pub(crate) async fn append(tx: &mut TenantTx, event: &StoredEvent) -> Result<u64, StorageError> {
    if let Some(seq) = next_place(tx).await? {
        insert_event(tx, event, Some(seq)).await?;
        return Ok(seq);
    }
    // A clinic's first event: starting the log takes it in with any
    // earlier ones.
    insert_event(tx, event, None).await?;
    if start(tx).await? {
        return size(tx).await;
    }
    // Another node started it a moment ago; its row is there now.
    let seq = next_place(tx)
        .await?
        .ok_or_else(|| StorageError::Corrupt("the audit log's size row is gone".into()))?;
    take_place(tx, event, seq).await?;
    Ok(seq)
}

/// Writes `event` outside the log, as it would be without the ledger: for
/// the benchmark that measures the ledger's cost, and nothing else.
pub(crate) async fn write_unlogged(
    tx: &mut TenantTx,
    event: &StoredEvent,
) -> Result<(), StorageError> {
    insert_event(tx, event, None).await
}

/// The next place in the clinic's log; `None` when the log has not
/// started.
async fn next_place(tx: &mut TenantTx) -> Result<Option<u64>, StorageError> {
    let key = tx.tenant_key();
    match tx.engine() {
        // The size row's lock orders this clinic's appends across nodes:
        // whoever waits here reads the size its predecessor committed.
        Engine::Postgres => {
            let size: Option<i64> = sqlx::query_scalar(
                "UPDATE audit_ledger_size SET size = size + 1 WHERE tenant_id = $1 RETURNING size",
            )
            .bind(key)
            .fetch_optional(tx.conn())
            .await?;
            Ok(size.map(|s| s.max(0) as u64))
        }
        // The writer is exclusive (`BEGIN IMMEDIATE`), so the place after
        // the last one is free; reading it writes no page, where counting
        // in the size row would write one more on every audited
        // transaction. A log pruned to nothing goes on after its cut.
        Engine::Sqlite => {
            let row = sqlx::query(
                "SELECT s.size,
                        (SELECT MAX(e.seq) FROM audit_events e WHERE e.tenant_id = s.tenant_id),
                        (SELECT c.size FROM audit_cuts c WHERE c.tenant_id = s.tenant_id)
                   FROM audit_ledger_size s WHERE s.tenant_id = $1",
            )
            .bind(key)
            .fetch_optional(tx.conn())
            .await?;
            let Some(row) = row else { return Ok(None) };
            let last = [
                row.try_get::<Option<i64>, _>(0)?,
                row.try_get::<Option<i64>, _>(1)?,
                row.try_get::<Option<i64>, _>(2)?,
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
            Ok(Some(last.max(0) as u64 + 1))
        }
    }
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
    crate::registry::mark_audit_log_started(tx).await?;
    if !created {
        return Ok(false);
    }
    let rows = sqlx::query(concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events e WHERE e.tenant_id = $1 AND e.seq IS NULL ORDER BY e.occurred_at, e.id"
    ))
    .bind(key.clone())
    .fetch_all(tx.conn())
    .await?;
    // Places already taken stay taken, should any event hold one.
    let mut size: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_events WHERE tenant_id = $1")
            .bind(key.clone())
            .fetch_one(tx.conn())
            .await?;
    for row in &rows {
        size += 1;
        take_place(tx, &event_from_row(row)?, size as u64).await?;
    }
    sqlx::query("UPDATE audit_ledger_size SET size = $2 WHERE tenant_id = $1")
        .bind(key)
        .bind(size)
        .execute(tx.conn())
        .await?;
    Ok(true)
}

/// Holds off this clinic's appends until `tx` ends, so what the signer
/// reads is the whole log and no append can come between its reading and
/// its clearing of the log's mark ([`note_head`]). On PostgreSQL that is
/// the size row's lock, the one appends take first; on SQLite the writer
/// is exclusive already.
pub(crate) async fn hold_appends(tx: &mut TenantTx) -> Result<(), StorageError> {
    if tx.engine() == Engine::Postgres {
        let key = tx.tenant_key();
        // Unchanged, so the trigger that marks a grown log does not fire.
        sqlx::query("UPDATE audit_ledger_size SET size = size WHERE tenant_id = $1")
            .bind(key)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Records on the platform's list of heads due that the clinic's log is
/// covered by a head signed at `signed_at` (Unix ms; `None` while it has
/// none): the hourly job passes it by until the log grows, which marks it
/// again (migration 29's trigger), or until the head is a day old. Call it
/// only after [`hold_appends`].
pub(crate) async fn note_head(
    tx: &mut TenantTx,
    signed_at: Option<i64>,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "INSERT INTO audit_heads_due (tenant_id, grown, last_signed_at) VALUES ($1, 0, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET grown = 0, last_signed_at = excluded.last_signed_at",
    )
    .bind(key)
    .bind(signed_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Inserts `event`, at place `seq` in the log or (`None`) outside it.
async fn insert_event(
    tx: &mut TenantTx,
    event: &StoredEvent,
    seq: Option<u64>,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    let leaf = seq.map(|seq| hex::encode(event.canonical(&key, seq).leaf_hash()));
    sqlx::query(
        "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, actor_id, action, target, outcome, reason, ip, user_agent, seq, leaf_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(key)
    .bind(event.id.clone())
    .bind(event.occurred_at)
    .bind(event.actor_kind.clone())
    .bind(event.actor_id.clone())
    .bind(event.action.clone())
    .bind(event.target.clone())
    .bind(event.outcome.clone())
    .bind(event.reason.clone())
    .bind(event.ip.clone())
    .bind(event.user_agent.clone())
    .bind(seq.map(|s| s as i64))
    .bind(leaf)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Gives `event`, written without a place, its place `seq`: the one change
/// the database allows to an event.
async fn take_place(tx: &mut TenantTx, event: &StoredEvent, seq: u64) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    let leaf = event.canonical(&key, seq).leaf_hash();
    sqlx::query(
        "UPDATE audit_events SET seq = $3, leaf_hash = $4 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(key)
    .bind(event.id.clone())
    .bind(seq as i64)
    .bind(hex::encode(leaf))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The size of the clinic's log; 0 before its first append. On
/// PostgreSQL the size row counts it; on SQLite it is the last place (or
/// the cut, when everything was pruned).
pub(crate) async fn size(tx: &mut TenantTx) -> Result<u64, StorageError> {
    let key = tx.tenant_key();
    let size: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(n) FROM (
             SELECT size AS n FROM audit_ledger_size WHERE tenant_id = $1
             UNION ALL SELECT MAX(seq) AS n FROM audit_events WHERE tenant_id = $1
             UNION ALL SELECT size AS n FROM audit_cuts WHERE tenant_id = $1
         ) AS sizes",
    )
    .bind(key)
    .fetch_one(tx.conn())
    .await?;
    Ok(size.unwrap_or(0).max(0) as u64)
}

/// Every entry of the clinic's log, in order.
pub(crate) async fn entries(tx: &mut TenantTx) -> Result<Vec<LedgerEntry>, StorageError> {
    entries_after(tx, 0).await
}

/// Every audit event of the clinic, whether or not it is in the log, and
/// the log's entries among them: one read of the trail for a check.
pub(crate) async fn events_and_entries(
    tx: &mut TenantTx,
) -> Result<(Vec<StoredEvent>, Vec<LedgerEntry>), StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT e.seq, e.leaf_hash, ",
        event_columns!(),
        " FROM audit_events e WHERE e.tenant_id = $1 ORDER BY e.occurred_at, e.id"
    ))
    .bind(key)
    .fetch_all(tx.conn())
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    let mut entries = Vec::with_capacity(rows.len());
    for row in &rows {
        let event = event_from_row_at(row, 2)?;
        let seq: Option<i64> = row.try_get(0)?;
        let leaf_hash: Option<String> = row.try_get(1)?;
        if let (Some(seq), Some(leaf_hash)) = (seq, leaf_hash) {
            entries.push(LedgerEntry {
                seq: seq.max(0) as u64,
                event_id: event.id.clone(),
                leaf_hash,
            });
        }
        events.push(event);
    }
    entries.sort_by_key(|e| e.seq);
    Ok((events, entries))
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

/// Moves the clinic's cut to `cut` and removes the events it summarises.
/// The database's triggers allow exactly these removals and no others.
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
    let removed = sqlx::query("DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= $2")
        .bind(key)
        .bind(size)
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(removed)
}

/// The log's entries from `from` to `to` (inclusive), each with its event,
/// in order.
pub(crate) async fn entries_with_events(
    tx: &mut TenantTx,
    from: u64,
    to: u64,
) -> Result<Vec<(LedgerEntry, StoredEvent)>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT e.seq, e.leaf_hash, ",
        event_columns!(),
        " FROM audit_events e
          WHERE e.tenant_id = $1 AND e.seq >= $2 AND e.seq <= $3
          ORDER BY e.seq"
    ))
    .bind(key)
    .bind(from as i64)
    .bind(to as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            let event = event_from_row_at(r, 2)?;
            let entry = LedgerEntry {
                seq: r.try_get::<i64, _>(0)?.max(0) as u64,
                event_id: event.id.clone(),
                leaf_hash: r.try_get(1)?,
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
        "SELECT MIN(seq) FROM audit_events WHERE tenant_id = $1 AND occurred_at >= $2",
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
    Ok(
        sqlx::query_scalar(
            "SELECT occurred_at FROM audit_events WHERE tenant_id = $1 AND seq = $2",
        )
        .bind(key)
        .bind(seq as i64)
        .fetch_optional(tx.conn())
        .await?,
    )
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
        "SELECT seq, id, leaf_hash FROM audit_events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq",
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
