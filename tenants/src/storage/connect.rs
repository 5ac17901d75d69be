use std::path::PathBuf;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, Executor};

use super::cuts::ConnectionCuts;
use super::reads::ReadPool;
use super::{Database, StorageError};
use crate::coherence::Coherence;

// Each accepts a database that a newer release has already migrated
// further. In a rolling release the new binary migrates first (only ever
// adding), and a node of the old one that restarts meanwhile must still
// start: what it does not know of, it does not use.
static SQLITE_MIGRATIONS: LazyLock<sqlx::migrate::Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("../migrations/sqlite");
    migrator.set_ignore_missing(true);
    migrator
});
static POSTGRES_MIGRATIONS: LazyLock<sqlx::migrate::Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("../migrations/postgres");
    migrator.set_ignore_missing(true);
    migrator
});

/// Runs the migrations `$conn` has not run yet, one at a time, logging
/// each as it starts and ends: `portico migrate` shows its progress, and a
/// long one is seen to be under way. Each runs in its own transaction, so
/// an interrupted run leaves the one under way undone, never half-done,
/// and the next run takes it again. (A macro: the two engines migrate
/// through different connection types.)
macro_rules! migrate_one_by_one {
    ($conn:ident, $migrator:expr) => {{
        let migrator: &sqlx::migrate::Migrator = &$migrator;
        // A new database has no history table yet: nothing is applied.
        let applied: std::collections::HashSet<i64> =
            sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&mut $conn)
                .await
                .map(|versions| versions.into_iter().collect())
                .unwrap_or_default();
        let pending: Vec<_> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .collect();
        let total = pending.len();
        for (done, migration) in pending.into_iter().enumerate() {
            let started = std::time::Instant::now();
            tracing::info!(
                version = migration.version,
                "migration {} of {total}: {}",
                done + 1,
                migration.description
            );
            migrator.run_to(migration.version, &mut $conn).await?;
            tracing::info!(
                version = migration.version,
                millis = started.elapsed().as_millis() as u64,
                "migration {} of {total} applied",
                done + 1
            );
        }
        // Anything the loop did not name (none today) runs as before.
        migrator.run(&mut $conn).await?;
    }};
}

/// How long a cached entry lives on SQLite. The server's own writes reach
/// its caches at once; a command run beside it on the same file (`portico
/// tenant suspend`, `reset-password`) holds within this.
const SQLITE_ENTRY_LIFETIME: Duration = Duration::from_secs(1);

/// How long a cached entry lives on PostgreSQL, where every change reaches
/// every node by notification: a backstop, not the means.
const POSTGRES_ENTRY_LIFETIME: Duration = Duration::from_secs(60);

/// The role the server's queries run as on PostgreSQL; created by the
/// migrations, without BYPASSRLS.
pub const POSTGRES_APP_ROLE: &str = "portico_app";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Where the data lives.
#[derive(Clone)]
pub enum DatabaseSettings {
    /// The embedded default: a file in the data directory.
    Sqlite { file: PathBuf },
    /// A PostgreSQL server. `url` must be allowed to run migrations; queries
    /// then run as the application role.
    Postgres {
        url: String,
        max_connections: u32,
        /// How long a request waits for a connection before it is refused
        /// with "unavailable" (the database away, or every connection busy).
        acquire_timeout: Duration,
    },
}

impl std::fmt::Debug for DatabaseSettings {
    // The URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite { file } => f.debug_struct("Sqlite").field("file", file).finish(),
            Self::Postgres { .. } => f.write_str("Postgres { url: <redacted> }"),
        }
    }
}

impl DatabaseSettings {
    /// Long enough for a busy pool, short enough that a request fails fast
    /// when the database is away.
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

    /// The same settings, waiting at most `timeout` for a connection.
    pub fn with_acquire_timeout(self, timeout: Duration) -> Self {
        match self {
            Self::Postgres {
                url,
                max_connections,
                ..
            } => Self::Postgres {
                url,
                max_connections,
                acquire_timeout: timeout,
            },
            sqlite => sqlite,
        }
    }

    /// Chooses the engine: PostgreSQL when `database_url` names one, else a
    /// SQLite file in `data_dir`.
    pub fn from_parts(
        database_url: Option<&str>,
        data_dir: &std::path::Path,
    ) -> Result<Self, StorageError> {
        match database_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(Self::Sqlite {
                file: data_dir.join("portico.db"),
            }),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres {
                    url: url.to_owned(),
                    max_connections: 16,
                    acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
                })
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                let path = path.split('?').next().unwrap_or(path);
                Ok(Self::Sqlite {
                    file: PathBuf::from(path),
                })
            }
            Some(_) => Err(StorageError::Config(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into(),
            )),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite { file } => format!("SQLite at {}", file.display()),
            Self::Postgres { .. } => "PostgreSQL".to_owned(),
        }
    }
}

impl Database {
    /// Connects, migrates, and returns a handle whose queries run with the
    /// application's (not the migrator's) privileges.
    pub async fn open(settings: &DatabaseSettings) -> Result<Self, StorageError> {
        sqlx::any::install_default_drivers();
        match settings {
            DatabaseSettings::Sqlite { file } => open_sqlite(file).await,
            DatabaseSettings::Postgres {
                url,
                max_connections,
                acquire_timeout,
            } => open_postgres(url, *max_connections, *acquire_timeout).await,
        }
    }
}

async fn open_sqlite(file: &std::path::Path) -> Result<Database, StorageError> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StorageError::Config(format!("cannot create {}: {e}", dir.display())))?;
    }
    // WAL is a property of the file: set it once with a native connection
    // (the Any driver's URL cannot carry it), then migrate there too.
    let native = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .disable_statement_logging();
    let mut conn = native.connect().await?;
    super::history::repair_sqlite(&mut conn, &SQLITE_MIGRATIONS).await?;
    migrate_one_by_one!(conn, SQLITE_MIGRATIONS);
    conn.close().await?;

    let url = format!("sqlite://{}", file.display());
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        // A file does not drop a connection the way a network does; the
        // check sqlx makes on taking one would be one more trip to the
        // connection's worker thread on every request.
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL makes NORMAL durable against application crashes; only
                // an OS crash can lose the last transactions. Deleted and
                // overwritten content is zeroed (`secure_delete`), so a free
                // page never keeps what a row held: personal data, a payload.
                conn.execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON;")
                    .await?;
                Ok(())
            })
        })
        .connect_with(
            sqlx::any::AnyConnectOptions::from_str(&url)?.disable_statement_logging(),
        )
        .await?;
    let cuts = ConnectionCuts::new();
    let reads = ReadPool::new(
        &url,
        Engine::Sqlite,
        8,
        Duration::from_secs(5),
        cuts.clone(),
    )?;
    Ok(Database {
        pool,
        reads,
        engine: super::Engine::Sqlite,
        coherence: Coherence::in_process(SQLITE_ENTRY_LIFETIME),
        listen_url: None,
        cuts,
    })
}

async fn open_postgres(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<Database, StorageError> {
    let options = sqlx::any::AnyConnectOptions::from_str(url)?.disable_statement_logging();
    {
        let mut conn = sqlx::AnyConnection::connect_with(&options).await?;
        super::history::repair_postgres(&mut conn, &POSTGRES_MIGRATIONS).await?;
        migrate_one_by_one!(conn, POSTGRES_MIGRATIONS);
        conn.close().await?;
    }
    // Reads have a pool of their own (see `reads`); writes, fewer, get
    // half as many connections.
    let cuts = ConnectionCuts::new();
    let reads = ReadPool::new(
        url,
        Engine::Postgres,
        max_connections as usize,
        acquire_timeout,
        cuts.clone(),
    )?;
    let write_cuts = cuts.clone();
    let pool = AnyPoolOptions::new()
        .max_connections((max_connections / 2).max(2))
        .min_connections(1)
        .acquire_timeout(acquire_timeout)
        // sqlx already checks every connection when it goes back to the
        // pool (a ping that also sends a dropped transaction's rollback);
        // checking again when it is taken would add a round trip to every
        // request. A connection that dies while idle fails one request,
        // unless the node knows the database cut it (`cuts`): then it is
        // replaced before it is lent.
        .test_before_acquire(false)
        .before_acquire(move |_conn, meta| {
            let fresh = !write_cuts.older_than_last(meta.age);
            Box::pin(async move { Ok(fresh) })
        })
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("SET ROLE portico_app").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;

    // Refuse to run with a role that would make row-level security moot.
    let (superuser, bypass): (bool, bool) = {
        use sqlx::Row;
        let row =
            sqlx::query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&pool)
                .await?;
        (row.try_get(0)?, row.try_get(1)?)
    };
    if superuser || bypass {
        return Err(StorageError::Config(format!(
            "queries would run as a role that bypasses row-level security; \
             the {POSTGRES_APP_ROLE} role must be NOSUPERUSER NOBYPASSRLS"
        )));
    }
    Ok(Database {
        pool,
        reads,
        engine: super::Engine::Postgres,
        coherence: Coherence::over_listener(POSTGRES_ENTRY_LIFETIME),
        listen_url: Some(url.into()),
        cuts,
    })
}

/// Runs only the migrations, for `portico migrate`.
pub async fn migrate_only(settings: &DatabaseSettings) -> Result<(), StorageError> {
    Database::open(settings).await?.close().await;
    Ok(())
}
