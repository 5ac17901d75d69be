//! Connections kept for reads, each remembering the clinic it is set to.
//!
//! Reads are most of what a server does, and on PostgreSQL a read through
//! sqlx's pool costs three round trips: one to begin a transaction and set
//! the clinic for row-level security, one for the query, and one when the
//! connection goes back, which sqlx checks every time. Read connections
//! instead live in a deadpool pool that takes them back without a check,
//! run each statement on its own (autocommit, read-only for the whole
//! session), and set the clinic at session level only when it changes.
//! A clinic's second read on the same connection is then one round trip:
//! the query itself.
//!
//! The recorded clinic is cleared before the setting is sent and written
//! after it succeeds, so a setting cut off half-way is sent again next
//! time rather than trusted. Were the two ever to disagree, the query's own
//! `tenant_id` filter and the policy would ask for different clinics and
//! match nothing: a wrong read could come back empty, never with another
//! clinic's rows.
//!
//! SQLite gets the same pool for the same reason in miniature: sqlx's check
//! on return is one more trip to the connection's worker thread.
//!
//! Unchecked lending has one cost: after the database cut every connection
//! (a restart, a failover), each idle one would fail the request it is next
//! lent to. So a connection opened before the last cut the node knows of
//! ([`super::cuts`]) is replaced instead of lent, and a read connection that
//! is checked and found dead is itself such a sign. The pool lends the most
//! recently returned connection first, so the connection whose read just
//! failed is the first one checked.

use std::str::FromStr;
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{self, Metrics, Object, QueueMode, RecycleResult};
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection, Executor};

use super::cuts::ConnectionCuts;
use super::{Engine, StorageError};
use crate::domain::TenantId;

/// A connection for reads, and the clinic its session is set to.
pub(crate) struct ReadConnection {
    pub(super) conn: AnyConnection,
    tenant: Option<TenantId>,
    /// Its last read did not finish (an error, or a request dropped): it
    /// is checked before it is lent again.
    pub(super) suspect: bool,
    opened: Instant,
}

/// Makes read connections; taking one back needs nothing.
pub(super) struct ReadConnections {
    options: AnyConnectOptions,
    engine: Engine,
    cuts: ConnectionCuts,
}

impl managed::Manager for ReadConnections {
    type Type = ReadConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<ReadConnection, sqlx::Error> {
        let opened = Instant::now();
        let mut conn = AnyConnection::connect_with(&self.options).await?;
        let setup = match self.engine {
            // The application's role, and no write can slip through a read.
            Engine::Postgres => "SET ROLE portico_app; SET default_transaction_read_only = on",
            Engine::Sqlite => "PRAGMA query_only = ON; PRAGMA busy_timeout = 5000",
        };
        conn.execute(setup).await?;
        Ok(ReadConnection {
            conn,
            tenant: None,
            suspect: false,
            opened,
        })
    }

    /// Lends a connection whose last read finished without a check; one
    /// whose read did not, or that sat idle long enough for a firewall or
    /// a database restart to have cut it, is pinged first (which also
    /// drains a statement a dropped request left behind), and replaced if
    /// it does not answer. One opened before the database last cut
    /// connections is replaced unasked.
    async fn recycle(
        &self,
        read: &mut ReadConnection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        if self.cuts.predates_last(read.opened) {
            return Err(managed::RecycleError::message(
                "opened before the database cut connections",
            ));
        }
        if read.suspect || metrics.last_used() > IDLE_BEFORE_CHECK {
            if let Err(err) = read.conn.ping().await {
                // Most likely every connection went with it.
                self.cuts.mark();
                return Err(managed::RecycleError::Backend(err));
            }
            read.suspect = false;
        }
        Ok(())
    }
}

/// How long a connection may sit unused before it is checked when lent.
const IDLE_BEFORE_CHECK: Duration = Duration::from_secs(30);

pub(super) type ReadObject = Object<ReadConnections>;

/// The pool of read connections.
#[derive(Clone)]
pub(super) struct ReadPool {
    pool: managed::Pool<ReadConnections>,
    engine: Engine,
}

impl ReadPool {
    pub(super) fn new(
        url: &str,
        engine: Engine,
        size: usize,
        wait: Duration,
        cuts: ConnectionCuts,
    ) -> Result<Self, StorageError> {
        let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let pool = managed::Pool::builder(ReadConnections {
            options,
            engine,
            cuts,
        })
        .max_size(size)
        // The connection a failed read just returned is checked first.
        .queue_mode(QueueMode::Lifo)
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait.max(Duration::from_secs(2))))
        // A check of a connection whose peer vanished without a word
        // would otherwise wait as long as TCP does.
        .recycle_timeout(Some(wait))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StorageError::Config(format!("the read pool: {e}")))?;
        Ok(Self { pool, engine })
    }

    /// A read connection whose session is set to `tenant`.
    pub(super) async fn read(&self, tenant: TenantId) -> Result<ReadObject, StorageError> {
        let mut object = self.pool.get().await.map_err(unavailable)?;
        if self.engine == Engine::Postgres && object.tenant != Some(tenant) {
            object.tenant = None;
            let set = sqlx::query("SELECT set_config('portico.tenant_id', $1, false)")
                .bind(tenant.to_string())
                .execute(&mut object.conn)
                .await;
            if let Err(err) = set {
                // Whatever state it is in, it goes.
                let _ = Object::take(object);
                return Err(err.into());
            }
            object.tenant = Some(tenant);
        }
        // Until the read commits.
        object.suspect = true;
        Ok(object)
    }

    /// Open connections, and idle ones among them.
    pub(super) fn connections(&self) -> (usize, usize) {
        let status = self.pool.status();
        (status.size, status.available)
    }

    pub(super) async fn close(&self) {
        self.pool.close();
    }
}

fn unavailable(err: managed::PoolError<sqlx::Error>) -> StorageError {
    match err {
        managed::PoolError::Backend(err) => StorageError::from(err),
        managed::PoolError::Closed => StorageError::Unavailable(sqlx::Error::PoolClosed),
        _ => StorageError::Unavailable(sqlx::Error::PoolTimedOut),
    }
}
