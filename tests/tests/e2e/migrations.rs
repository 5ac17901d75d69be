//! A database migrated by an earlier release upgrades without losing what
//! it holds: from before the foundation migration admitted account actors
//! (the history repair, then the audit trail's rebuild in migration 8,
//! which keeps every event, its indexes and its append-only triggers), and
//! from the last release.

use std::path::Path;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

fn copy_migrations(upto: &str, into: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() <= upto {
            std::fs::copy(&path, into.join(&name)).unwrap();
        }
    }
}

/// The foundation migration as it first landed, before `account` actors:
/// databases created then carry this text's checksum.
fn first_foundation(into: &Path) {
    let foundation = into.join("20261123000001_foundation.sql");
    let text = std::fs::read_to_string(&foundation).unwrap();
    let first = text.replace(
        "CHECK (actor_kind IN ('staff', 'account', 'operator',",
        "CHECK (actor_kind IN ('staff', 'operator',",
    );
    assert_ne!(first, text);
    std::fs::write(&foundation, first).unwrap();
}

/// Starts the server's storage on `file`: the history repair, then every
/// migration there is.
async fn upgrade(file: &Path) {
    portico_tenants::storage::Database::open(&portico_tenants::storage::DatabaseSettings::Sqlite {
        file: file.to_owned(),
    })
    .await
    .expect("the old database starts and upgrades")
    .close()
    .await;
}

#[tokio::test]
async fn the_audit_trail_survives_the_upgrade_that_admits_account_actors() {
    let dir = tempfile::tempdir().unwrap();
    let pool = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(dir.path().join("old.db"))
            .create_if_missing(true)
            .foreign_keys(true),
    )
    .await
    .unwrap();

    // The schema as the first releases left it.
    let old = tempfile::tempdir().unwrap();
    copy_migrations("20261123000007_~", old.path());
    first_foundation(old.path());
    Migrator::new(old.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO tenants (id, slug, display_name, status, created_at, updated_at) VALUES ('t1', 'north', 'North', 'active', 0, 0)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome) VALUES ('t1', 'e1', 1, 'staff', 'staff.login', 'success')")
        .execute(&pool)
        .await
        .unwrap();
    let refused = sqlx::query("INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome) VALUES ('t1', 'e2', 2, 'account', 'code.redeem', 'success')")
        .execute(&pool)
        .await;
    assert!(refused.is_err(), "the old schema has no account actors");

    // Upgrade as the server does.
    pool.close().await;
    upgrade(&dir.path().join("old.db")).await;
    let pool = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(dir.path().join("old.db"))
            .foreign_keys(true),
    )
    .await
    .unwrap();

    let kept: Vec<(String, String)> =
        sqlx::query_as("SELECT id, action FROM audit_events ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(kept, [("e1".to_owned(), "staff.login".to_owned())]);
    sqlx::query("INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome) VALUES ('t1', 'e2', 2, 'account', 'code.redeem', 'success')")
        .execute(&pool)
        .await
        .unwrap();
    let update = sqlx::query("UPDATE audit_events SET action = 'x' WHERE id = 'e1'")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = sqlx::query("DELETE FROM audit_events WHERE id = 'e1'")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events' AND name LIKE 'audit_events_by_%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(indexes, ["audit_events_by_action", "audit_events_by_actor"]);
}

/// The last release already admitted account actors in the foundation
/// migration; its databases upgrade as they are, rows kept.
#[tokio::test]
async fn a_database_from_the_last_release_upgrades_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("last.db");
    let pool = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    let old = tempfile::tempdir().unwrap();
    copy_migrations("20261123000007_~", old.path());
    Migrator::new(old.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO tenants (id, slug, display_name, status, created_at, updated_at) VALUES ('t1', 'north', 'North', 'active', 0, 0)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome) VALUES ('t1', 'e1', 1, 'account', 'code.redeem', 'success')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    upgrade(&file).await;

    let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&file))
        .await
        .unwrap();
    let kept: String = sqlx::query_scalar("SELECT actor_kind FROM audit_events WHERE id = 'e1'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kept, "account");
    let newest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        newest >= 20261123000009,
        "every later migration ran: {newest}"
    );
}

/// The patients' second-step migration as one release shipped it, without
/// the sign-in code's foreign key to its login: databases created then
/// carry this text's checksum.
fn keyless_second_step(into: &Path) {
    let file = into.join("20261127000019_patient_second_step.sql");
    let text = std::fs::read_to_string(&file).unwrap();
    let keyless = text.replace(
        "    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE,\n    FOREIGN KEY (tenant_id, pending_login_id) REFERENCES pending_logins (tenant_id, id) ON DELETE CASCADE\n",
        "    -- Not a foreign key: a code outlives its sign-in's row, so that the\n    -- mail budget counts every code sent in its window.\n    FOREIGN KEY (tenant_id, account_id) REFERENCES portal_accounts (tenant_id, id) ON DELETE CASCADE\n",
    );
    assert_ne!(keyless, text);
    std::fs::write(&file, keyless).unwrap();
}

/// Databases that ran either landed text of the second-step migration
/// start, keep their sign-in codes, and end with no foreign key from a
/// code to its waiting login (so a code outlives its login's row).
#[tokio::test]
async fn both_landed_texts_of_the_second_step_upgrade_to_codes_that_outlive_their_login() {
    for keyless in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("old.db");
        let pool = SqlitePool::connect_with(
            SqliteConnectOptions::new()
                .filename(&file)
                .create_if_missing(true)
                .foreign_keys(false),
        )
        .await
        .unwrap();
        let old = tempfile::tempdir().unwrap();
        copy_migrations("20261127000019_~", old.path());
        if keyless {
            keyless_second_step(old.path());
        }
        Migrator::new(old.path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        // A code whose waiting login is already gone (written with the
        // keys off, as the keyless release allowed).
        for sql in [
            "INSERT INTO tenants (id, slug, display_name, status, created_at, updated_at) VALUES ('t1', 'north', 'North', 'active', 0, 0)",
            "INSERT INTO portal_accounts (tenant_id, id, username, username_normalized, email, email_normalized, password_hash, created_at)
             VALUES ('t1', 'a1', 'mia', 'mia', 'mia@example.org', 'mia@example.org', 'x', 0)",
            "INSERT INTO email_sign_in_codes (tenant_id, id, account_id, pending_login_id, code_hash, created_at, expires_at)
             VALUES ('t1', 'c1', 'a1', 'gone', 'h', 1, 2)",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;

        upgrade(&file).await;
        let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&file))
            .await
            .unwrap();
        let kept: Vec<(String, String)> =
            sqlx::query_as("SELECT id, pending_login_id FROM email_sign_in_codes")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            kept,
            [("c1".to_owned(), "gone".to_owned())],
            "keyless: {keyless}"
        );
        let keys: Vec<(String,)> =
            sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_list('email_sign_in_codes')")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert!(
            keys.iter().all(|(table,)| table != "pending_logins"),
            "keyless: {keyless}: {keys:?}"
        );
        assert!(
            keys.iter().any(|(table,)| table == "portal_accounts"),
            "{keys:?}"
        );
        pool.close().await;
    }
}
