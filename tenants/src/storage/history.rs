//! One repair of migration history, done before migrating.
//!
//! The foundation migration (000001) was edited after it had landed: one
//! release shipped it with `account` added to the audit trail's actor
//! check. The text has since been restored to what first landed, and
//! migration 000008 makes that change the proper way. A database created by
//! the edited release records the edited text's checksum, and sqlx refuses
//! to start on a checksum it does not know. Both texts build the same schema
//! but for that check, and migration 000008 applies to either, so the known
//! edited checksum is rewritten to the current one. Nothing else is ever
//! accepted.

use sqlx::Row;
use sqlx::migrate::Migrator;

use super::StorageError;

pub(super) const FOUNDATION: i64 = 20261123000001;

/// SHA-384 of the edited foundation text, per engine (what sqlx stored).
pub(super) const EDITED_FOUNDATION_SQLITE: &str = "56f1763a1f2469743e9b81c9cfc6d12db461abe7425744d04016774d1cf59e96974d1a3bfc0fabcdaff0d91bd2ae36db";
pub(super) const EDITED_FOUNDATION_POSTGRES: &str = "d78ca2c98d8ac34f9ed4f8b87b14a13d46e372b522e15a21be0e4c0b1ca8d63d2f02152e40af57adc7b773a1593129b8";

fn current_foundation(migrator: &Migrator) -> Result<Vec<u8>, StorageError> {
    migrator
        .iter()
        .find(|m| m.version == FOUNDATION)
        .map(|m| m.checksum.to_vec())
        .ok_or_else(|| StorageError::Config("the foundation migration is missing".into()))
}

fn edited(hex_digest: &str) -> Vec<u8> {
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
            .bind(edited(EDITED_FOUNDATION_SQLITE))
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
            .bind(edited(EDITED_FOUNDATION_POSTGRES))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha384};

    /// The constants are the SHA-384 of the foundation text with the one
    /// edit, which is how sqlx computes a checksum.
    #[test]
    fn the_edited_checksums_are_the_edited_texts() {
        for (text, digest) in [
            (
                include_str!("../../../migrations/sqlite/20261123000001_foundation.sql"),
                EDITED_FOUNDATION_SQLITE,
            ),
            (
                include_str!("../../../migrations/postgres/20261123000001_foundation.sql"),
                EDITED_FOUNDATION_POSTGRES,
            ),
        ] {
            let edited_text = text.replace(
                "CHECK (actor_kind IN ('staff', 'operator',",
                "CHECK (actor_kind IN ('staff', 'account', 'operator',",
            );
            assert_ne!(edited_text, text);
            assert_eq!(hex::encode(Sha384::digest(edited_text.as_bytes())), digest);
        }
    }
}
