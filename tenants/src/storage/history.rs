//! One repair of migration history, done before migrating.
//!
//! The foundation migration (000001) changed after it first landed: the
//! release after it shipped the text with `account` added to the audit
//! trail's actor check, and that text is what stands now (migration 000008
//! makes the same change for databases that never saw it). A database
//! created before that release records the first text's checksum, and sqlx
//! refuses to start on a checksum it does not know. The two texts build the
//! same schema but for that check, which 000008 sets either way, so the
//! first text's known checksum is rewritten to the current one. Nothing else
//! is ever accepted.

use sqlx::Row;
use sqlx::migrate::Migrator;

use super::StorageError;

pub(super) const FOUNDATION: i64 = 20261123000001;

/// SHA-384 of the first foundation text, per engine (what sqlx stored).
pub(super) const FIRST_FOUNDATION_SQLITE: &str = "5e9b4e57d1495fdefdf04a22665ff62d2142cfebcf9cf1e979a83c21caf812f9b0ef022e878445f30c04c293ad484811";
pub(super) const FIRST_FOUNDATION_POSTGRES: &str = "9a9c8c8a7a88c569ee337d64b64cd5b13eda18be1aa7152d7460d84a12d2aa223136f07a02fbbc9412ecf939330e1150";

fn current_foundation(migrator: &Migrator) -> Result<Vec<u8>, StorageError> {
    migrator
        .iter()
        .find(|m| m.version == FOUNDATION)
        .map(|m| m.checksum.to_vec())
        .ok_or_else(|| StorageError::Config("the foundation migration is missing".into()))
}

fn first(hex_digest: &str) -> Vec<u8> {
    hex::decode(hex_digest).expect("a constant of this module")
}

const REWRITE: &str =
    "UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2 AND checksum = $3";

pub(super) async fn repair_sqlite(
    conn: &mut sqlx::SqliteConnection,
    migrator: &Migrator,
) -> Result<(), StorageError> {
    let migrated: bool = sqlx::query(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    if migrated {
        sqlx::query(REWRITE)
            .bind(current_foundation(migrator)?)
            .bind(FOUNDATION)
            .bind(first(FIRST_FOUNDATION_SQLITE))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn repair_postgres(
    conn: &mut sqlx::AnyConnection,
    migrator: &Migrator,
) -> Result<(), StorageError> {
    let migrated: bool = sqlx::query("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    if migrated {
        sqlx::query(REWRITE)
            .bind(current_foundation(migrator)?)
            .bind(FOUNDATION)
            .bind(first(FIRST_FOUNDATION_POSTGRES))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha384};

    /// The constants are the SHA-384 of the foundation text without
    /// `account` in the actor check, which is how sqlx computes a checksum.
    #[test]
    fn the_first_checksums_are_the_first_texts() {
        for (text, digest) in [
            (
                include_str!("../../../migrations/sqlite/20261123000001_foundation.sql"),
                FIRST_FOUNDATION_SQLITE,
            ),
            (
                include_str!("../../../migrations/postgres/20261123000001_foundation.sql"),
                FIRST_FOUNDATION_POSTGRES,
            ),
        ] {
            let first_text = text.replace(
                "CHECK (actor_kind IN ('staff', 'account', 'operator',",
                "CHECK (actor_kind IN ('staff', 'operator',",
            );
            assert_ne!(first_text, text);
            assert_eq!(hex::encode(Sha384::digest(first_text.as_bytes())), digest);
        }
    }
}
