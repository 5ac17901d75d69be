use sqlx::{Any, AssertSqlSafe, Transaction};

use super::reads::ReadObject;
use super::{Database, Engine, StorageError};
use crate::coherence::{Change, Coherence, listener};
use crate::domain::TenantId;

/// A unit of work bound to one tenant. Every tenant-owned query in this
/// crate takes one and filters on [`TenantTx::tenant_key`]; there is no
/// other way to reach those tables.
///
/// Writes always run in a transaction, which opens with one round trip on
/// PostgreSQL (`BEGIN` and the row-level security setting sent together).
/// Reads run each statement on its own, on a read-only connection of their
/// own pool that keeps its clinic's setting between reads ([`super::reads`]):
/// the same per-statement visibility as READ COMMITTED, and on a warm
/// connection one round trip per statement.
///
/// A write that may make what a node caches wrong names the [`Change`]
/// ([`TenantTx::changed`]); committing tells this node's caches and, on
/// PostgreSQL, every other node's, in the same transaction.
pub struct TenantTx {
    inner: Inner,
    engine: Engine,
    tenant: TenantId,
    tenant_key: String,
    coherence: Coherence,
    changes: Vec<Change>,
}

enum Inner {
    Transaction(Transaction<'static, Any>),
    Read(ReadObject),
}

impl TenantTx {
    pub(super) async fn begin(
        db: &Database,
        tenant: TenantId,
        write: bool,
    ) -> Result<Self, StorageError> {
        let tenant_key = tenant.to_string();
        let inner = match (db.engine, write) {
            (_, false) => Inner::Read(db.reads.read(tenant).await?),
            (Engine::Sqlite, true) => {
                Inner::Transaction(db.pool.begin_with("BEGIN IMMEDIATE").await?)
            }
            (Engine::Postgres, true) => {
                // Transaction-local, so a pooled connection never carries
                // one tenant's setting into another's transaction. The id is
                // a parsed UUID, safe to write into the statement; that lets
                // the setting travel with BEGIN in one simple query.
                Inner::Transaction(
                    db.pool
                        .begin_with(AssertSqlSafe(format!(
                            "BEGIN; SELECT set_config('portico.tenant_id', '{tenant_key}', true)"
                        )))
                        .await?,
                )
            }
        };
        Ok(Self {
            inner,
            engine: db.engine,
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
            Inner::Read(read) => &mut read.conn,
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
                tx.commit().await?;
            }
            // The read finished: its connection goes back unchecked.
            Inner::Read(mut read) => read.suspect = false,
        }
        coherence.apply(&changes);
        Ok(())
    }
}
