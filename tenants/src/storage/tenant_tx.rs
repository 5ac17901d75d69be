use sqlx::pool::PoolConnection;
use sqlx::{Any, AssertSqlSafe, Transaction};

use super::{Database, Engine, StorageError};
use crate::coherence::{Change, Coherence, listener};
use crate::domain::TenantId;

/// A unit of work bound to one tenant. Every tenant-owned query in this
/// crate takes one and filters on [`TenantTx::tenant_key`]; there is no
/// other way to reach those tables.
///
/// Writes always run in a transaction. On SQLite a read runs each
/// statement on its own, which saves two round trips per request and gives
/// the same per-statement visibility as PostgreSQL's default READ
/// COMMITTED. On PostgreSQL a read runs in a read-only transaction, which
/// carries the row-level security setting; it opens with one round trip
/// (`BEGIN` and the setting sent together) and is not committed: dropping
/// it queues its `ROLLBACK`, which the pool sends with the check it makes
/// of every connection returned to it, off the request's path.
///
/// A write that may make what a node caches wrong names the [`Change`]
/// ([`TenantTx::changed`]); committing tells this node's caches and, on
/// PostgreSQL, every other node's, in the same transaction.
pub struct TenantTx {
    inner: Inner,
    engine: Engine,
    write: bool,
    tenant: TenantId,
    tenant_key: String,
    coherence: Coherence,
    changes: Vec<Change>,
}

enum Inner {
    Transaction(Transaction<'static, Any>),
    Autocommit(PoolConnection<Any>),
}

impl TenantTx {
    pub(super) async fn begin(
        db: &Database,
        tenant: TenantId,
        write: bool,
    ) -> Result<Self, StorageError> {
        let tenant_key = tenant.to_string();
        let inner = match (db.engine, write) {
            (Engine::Sqlite, false) => Inner::Autocommit(db.pool.acquire().await?),
            (Engine::Sqlite, true) => {
                Inner::Transaction(db.pool.begin_with("BEGIN IMMEDIATE").await?)
            }
            (Engine::Postgres, write) => {
                // Transaction-local, so a pooled connection never carries
                // one tenant's setting into another's transaction. The id is
                // a parsed UUID, safe to write into the statement; that lets
                // the setting travel with BEGIN in one simple query.
                let begin = if write { "BEGIN" } else { "BEGIN READ ONLY" };
                Inner::Transaction(
                    db.pool
                        .begin_with(AssertSqlSafe(format!(
                            "{begin}; SELECT set_config('portico.tenant_id', '{tenant_key}', true)"
                        )))
                        .await?,
                )
            }
        };
        Ok(Self {
            inner,
            engine: db.engine,
            write,
            tenant,
            tenant_key,
            coherence: db.coherence.clone(),
            changes: Vec::new(),
        })
    }

    /// Which database this runs on, for the rare statement the two write
    /// differently.
    pub(crate) fn engine(&self) -> Engine {
        self.engine
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// The tenant id as bound in queries.
    pub fn tenant_key(&self) -> String {
        self.tenant_key.clone()
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        match &mut self.inner {
            Inner::Transaction(tx) => tx,
            Inner::Autocommit(conn) => conn,
        }
    }

    /// Notes that this transaction's writes change what caches may hold;
    /// told to every node when it commits, and to none if it does not.
    pub(crate) fn changed(&mut self, change: Change) {
        if !self.changes.contains(&change) {
            self.changes.push(change);
        }
    }

    /// Makes the work permanent. Dropping a `TenantTx` without committing
    /// rolls its writes back.
    pub async fn commit(self) -> Result<(), StorageError> {
        let Self {
            inner,
            engine,
            write,
            coherence,
            changes,
            ..
        } = self;
        match inner {
            Inner::Transaction(mut tx) => {
                if engine == Engine::Postgres && !changes.is_empty() {
                    // Delivered by PostgreSQL when, and only when, this
                    // transaction commits.
                    for payload in coherence.payloads(&changes) {
                        sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(listener::CHANNEL)
                            .bind(payload)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                if write || engine == Engine::Sqlite {
                    tx.commit().await?;
                }
            }
            Inner::Autocommit(_) => {}
        }
        coherence.apply(&changes);
        Ok(())
    }
}
