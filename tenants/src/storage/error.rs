/// What went wrong below the domain. Constraint violations are told apart so
/// the domain can turn them into a clear answer instead of a 500.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("a row with the same {0} already exists")]
    UniqueViolation(String),
    #[error("a referenced row does not exist")]
    ForeignKeyViolation,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The database cannot be reached now (refused, gone, or no connection
    /// free in time); worth trying again shortly.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database configuration: {0}")]
    Config(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StorageError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    let what = db
                        .constraint()
                        .map(str::to_owned)
                        .unwrap_or_else(|| db.message().to_owned());
                    return StorageError::UniqueViolation(what);
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StorageError::ForeignKeyViolation;
                }
                _ => {}
            }
            // PostgreSQL ending the connection (an administrator, a
            // restart, a failover: class 57P) or losing it (class 08).
            if db
                .code()
                .is_some_and(|code| code.starts_with("57P") || code.starts_with("08"))
            {
                return StorageError::Unavailable(err);
            }
        }
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StorageError::Unavailable(err)
            }
            other => StorageError::Database(other),
        }
    }
}
