use sqlx::{Any, AnyPool, Transaction};

use super::{Engine, StorageError};
use crate::domain::TenantId;

/// A transaction bound to one tenant. Every tenant-owned query in this crate
/// takes one and filters on [`TenantTx::tenant_key`]; there is no other way
/// to reach those tables.
pub struct TenantTx {
    tx: Transaction<'static, Any>,
    tenant: TenantId,
    tenant_key: String,
}

impl TenantTx {
    pub(super) async fn begin(
        pool: &AnyPool,
        engine: Engine,
        tenant: TenantId,
        write: bool,
    ) -> Result<Self, StorageError> {
        let mut tx = match (engine, write) {
            (Engine::Sqlite, true) => pool.begin_with("BEGIN IMMEDIATE").await?,
            _ => pool.begin().await?,
        };
        let tenant_key = tenant.to_string();
        if engine == Engine::Postgres {
            // Transaction-local, so a pooled connection never carries one
            // tenant's setting into another's transaction.
            sqlx::query("SELECT set_config('portico.tenant_id', $1, true)")
                .bind(tenant_key.clone())
                .execute(&mut *tx)
                .await?;
        }
        Ok(Self {
            tx,
            tenant,
            tenant_key,
        })
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// The tenant id as bound in queries.
    pub fn tenant_key(&self) -> String {
        self.tenant_key.clone()
    }

    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), StorageError> {
        self.tx.commit().await.map_err(StorageError::from)
    }
}
