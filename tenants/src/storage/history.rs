//! Repairs of migration history, done before migrating.
//!
//! Two migrations changed after they first landed, and each text that
//! landed was run by some database. sqlx records a migration's checksum and
//! refuses to start on one it does not know, so a database that ran the
//! other text has that checksum rewritten to the current one. Nothing else
//! is ever accepted.
//!
//! - The foundation (000001): the release after it shipped the text with
//!   `account` added to the audit trail's actor check. The two texts build
//!   the same schema but for that check, which 000008 sets either way.
//! - The patients' second step (000019): one release shipped it without the
//!   foreign key from a sign-in code to its waiting login. The text that
//!   first landed, with the key, stands; 000022 drops the key either way.

use sqlx::Row;
use sqlx::migrate::Migrator;

use super::StorageError;

pub(super) const FOUNDATION: i64 = 20261123000001;
pub(super) const SECOND_STEP: i64 = 20261127000019;

/// SHA-384 of the first foundation text, per engine (what sqlx stored).
pub(super) const FIRST_FOUNDATION_SQLITE: &str = "5e9b4e57d1495fdefdf04a22665ff62d2142cfebcf9cf1e979a83c21caf812f9b0ef022e878445f30c04c293ad484811";
pub(super) const FIRST_FOUNDATION_POSTGRES: &str = "9a9c8c8a7a88c569ee337d64b64cd5b13eda18be1aa7152d7460d84a12d2aa223136f07a02fbbc9412ecf939330e1150";

/// SHA-384 of the second-step text without the login's foreign key.
pub(super) const KEYLESS_SECOND_STEP_SQLITE: &str = "5deff571187daa1453ff642b27c77721d38b9665f46026a5e34b1512c78df8a268448ed7b88b3e53de6b07a06cfa6369";
pub(super) const KEYLESS_SECOND_STEP_POSTGRES: &str = "51c007c0e1b816663a79d35bcad50fe2ad68a7edfc8431012c49fab24be278da013711147f2fdec694b3ec6b54ceac07";

/// Each migration whose other landed text is accepted, with that text's
/// checksum: (version, SQLite, PostgreSQL).
const OTHER_TEXTS: [(i64, &str, &str); 2] = [
    (
        FOUNDATION,
        FIRST_FOUNDATION_SQLITE,
        FIRST_FOUNDATION_POSTGRES,
    ),
    (
        SECOND_STEP,
        KEYLESS_SECOND_STEP_SQLITE,
        KEYLESS_SECOND_STEP_POSTGRES,
    ),
];

fn current(migrator: &Migrator, version: i64) -> Result<Vec<u8>, StorageError> {
    migrator
        .iter()
        .find(|m| m.version == version)
        .map(|m| m.checksum.to_vec())
        .ok_or_else(|| StorageError::Config(format!("migration {version} is missing")))
}

fn bytes(hex_digest: &str) -> Vec<u8> {
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
        for (version, other, _) in OTHER_TEXTS {
            sqlx::query(REWRITE)
                .bind(current(migrator, version)?)
                .bind(version)
                .bind(bytes(other))
                .execute(&mut *conn)
                .await?;
        }
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
        for (version, _, other) in OTHER_TEXTS {
            sqlx::query(REWRITE)
                .bind(current(migrator, version)?)
                .bind(version)
                .bind(bytes(other))
                .execute(&mut *conn)
                .await?;
        }
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

    /// The constants are the SHA-384 of the second-step text without the
    /// sign-in code's foreign key to its login.
    #[test]
    fn the_keyless_checksums_are_the_keyless_texts() {
        for (text, digest) in [
            (
                include_str!("../../../migrations/sqlite/20261127000019_patient_second_step.sql"),
                KEYLESS_SECOND_STEP_SQLITE,
            ),
            (
                include_str!("../../../migrations/postgres/20261127000019_patient_second_step.sql"),
                KEYLESS_SECOND_STEP_POSTGRES,
            ),
        ] {
            let keyless = keyless_second_step(text);
            assert_ne!(keyless, text);
            assert_eq!(hex::encode(Sha384::digest(keyless.as_bytes())), digest);
        }
    }

    /// The second-step migration as one release shipped it: the sign-in
    /// code's foreign key to its login left out, with a comment saying why.
    fn keyless_second_step(text: &str) -> String {
        text.replace(
            "    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE,\n    FOREIGN KEY (tenant_id, pending_login_id) REFERENCES pending_logins (tenant_id, id) ON DELETE CASCADE\n",
            "    -- Not a foreign key: a code outlives its sign-in's row, so that the\n    -- mail budget counts every code sent in its window.\n    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE\n",
        )
    }
}
