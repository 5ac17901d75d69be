//! A database migrated by an earlier release upgrades without losing what
//! it holds: the audit trail's rebuild on SQLite (migration 8) keeps every
//! event, its indexes and its append-only triggers.

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

    // The schema as the last release left it.
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
    sqlx::query("INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome) VALUES ('t1', 'e1', 1, 'staff', 'staff.login', 'success')")
        .execute(&pool)
        .await
        .unwrap();
    let refused = sqlx::query("INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome) VALUES ('t1', 'e2', 2, 'account', 'code.redeem', 'success')")
        .execute(&pool)
        .await;
    assert!(refused.is_err(), "the old schema has no account actors");

    // Upgrade with every migration there is.
    let all = tempfile::tempdir().unwrap();
    copy_migrations("99999999999999_~", all.path());
    Migrator::new(all.path())
        .await
        .unwrap()
        .run(&pool)
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
