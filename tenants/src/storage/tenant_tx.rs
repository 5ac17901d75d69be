use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Transaction};

use super::{Engine, StorageError};
use crate::domain::TenantId;

/// A unit of work bound to one tenant. Every tenant-owned query in this
/// crate takes one and filters on [`TenantTx::tenant_key`]; there is no
/// other way to reach those tables.
///
/// Writes always run in a transaction. Reads run in one on PostgreSQL (the
/// row-level security setting lives in it); on SQLite a read runs each
/// statement on its own, which saves two round trips per request and gives
/// the same per-statement visibility as PostgreSQL's default READ COMMITTED.
pub struct TenantTx {
    inner: Inner,
    engine: Engine,
    tenant: TenantId,
    tenant_key: String,
}

enum Inner {
    Transaction(Transaction<'static, Any>),
    Autocommit(PoolConnection<Any>),
}

impl TenantTx {
    pub(super) async fn begin(
        pool: &AnyPool,
        engine: Engine,
        tenant: TenantId,
        write: bool,
    ) -> Result<Self, StorageError> {
        let tenant_key = tenant.to_string();
        let inner = match (engine, write) {
            (Engine::Sqlite, false) => Inner::Autocommit(pool.acquire().await?),
            (Engine::Sqlite, true) => Inner::Transaction(pool.begin_with("BEGIN IMMEDIATE").await?),
            (Engine::Postgres, _) => {
                let mut tx = pool.begin().await?;
                // Transaction-local, so a pooled connection never carries
                // one tenant's setting into another's transaction.
                sqlx::query("SELECT set_config('portico.tenant_id', $1, true)")
                    .bind(tenant_key.clone())
                    .execute(&mut *tx)
                    .await?;
                Inner::Transaction(tx)
            }
        };
        Ok(Self {
            inner,
            engine,
            tenant,
            tenant_key,
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

    /// Makes the work permanent. Dropping a `TenantTx` without committing
    /// rolls its writes back.
    pub async fn commit(self) -> Result<(), StorageError> {
        match self.inner {
            Inner::Transaction(tx) => tx.commit().await.map_err(StorageError::from),
            Inner::Autocommit(_) => Ok(()),
        }
    }
}
