//! The one way into the database.
//!
//! Both engines are reached through sqlx's `Any` driver with the same SQL
//! text: every query binds numbered `$n` parameters (which SQLite accepts as
//! well as PostgreSQL), and every column is TEXT or a 64-bit integer, the
//! types both engines and `Any` agree on. That keeps one copy of every query
//! instead of one per engine.
//!
//! Tenant-owned tables are reached only through a [`TenantTx`], a
//! transaction bound to one tenant, which can only be opened with a
//! [`TenantId`]. On PostgreSQL it also sets `portico.tenant_id` for the
//! row-level security policies, so a query that forgot its tenant filter
//! would still see nothing of another tenant.

mod connect;
mod cuts;
mod error;
mod history;
mod reads;
mod tenant_tx;

pub use connect::{DatabaseSettings, Engine, migrate_only};
pub use error::StorageError;
pub use tenant_tx::TenantTx;

use std::sync::Arc;

use sqlx::AnyPool;

use crate::coherence::Coherence;
use crate::domain::TenantId;

/// A handle on the database, shared by the whole process. Cloning is cheap.
#[derive(Clone)]
pub struct Database {
    /// Writes, and the platform's own tables.
    pool: AnyPool,
    /// A clinic's reads ([`reads`]).
    reads: reads::ReadPool,
    engine: Engine,
    /// What this node may keep in memory of what the database holds.
    coherence: Coherence,
    /// Where the listener for other nodes' changes connects (PostgreSQL).
    listen_url: Option<Arc<str>>,
    /// When the database last cut the connections, so neither pool lends
    /// one opened before.
    cuts: cuts::ConnectionCuts,
}

impl Database {
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// This node's news of changes, which its caches check entries against.
    pub fn coherence(&self) -> &Coherence {
        &self.coherence
    }

    /// Where to listen for other nodes' changes; `None` on SQLite, where
    /// there are no other nodes.
    pub(crate) fn listen_url(&self) -> Option<Arc<str>> {
        self.listen_url.clone()
    }

    /// Tells both pools that connections opened until now may be dead: the
    /// listener's connection was lost, and a restart or failover takes
    /// every connection with it.
    pub(crate) fn connections_may_be_cut(&self) {
        self.cuts.mark();
    }

    /// Opens a read transaction bound to `tenant`.
    pub(crate) async fn tenant_read(&self, tenant: TenantId) -> Result<TenantTx, StorageError> {
        TenantTx::begin(self, tenant, false).await
    }

    /// Opens a write transaction bound to `tenant`. On SQLite it takes the
    /// write lock up front (`BEGIN IMMEDIATE`), so a transaction that reads
    /// and then writes cannot fail half-way with a busy snapshot.
    pub(crate) async fn tenant_write(&self, tenant: TenantId) -> Result<TenantTx, StorageError> {
        TenantTx::begin(self, tenant, true).await
    }

    /// A write transaction on platform-level tables (the mail queue), which
    /// hold no tenant's data.
    pub(crate) async fn platform_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StorageError> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        })
    }

    /// The pool, for platform-level tables (tenants, operator tokens) only.
    pub(crate) fn platform_pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool's connections: how many are open, and how many of those
    /// are idle.
    pub fn connections(&self) -> (usize, usize) {
        let (reads, idle_reads) = self.reads.connections();
        (
            self.pool.size() as usize + reads,
            self.pool.num_idle() + idle_reads,
        )
    }

    /// Checks that the database answers, for readiness probes.
    pub async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(StorageError::from)
    }

    pub async fn close(&self) {
        self.reads.close().await;
        self.pool.close().await;
    }
}
