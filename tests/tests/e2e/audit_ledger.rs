//! The audit ledger (issue 16): every clinic's events sit in one Merkle log
//! with a gap-free sequence, kept in order even when two servers append at
//! once, and whoever changes the trail around the application, with a raw
//! connection to the database, is caught at the first event that no longer
//! holds.

use portico_tenants::audit::ClientInfo;
use portico_tenants::ledger::{LedgerCheck, Tampering};
use portico_tenants::operators::Operator;
use portico_tenants::{Caller, Services};
use portico_tests::{Engine, TestApp, both_engines};
use sqlx::Connection;

async fn operator(services: &Services, slug: &str) -> Caller {
    let tenant = services.find_tenant(slug).await.unwrap();
    Operator {
        name: "auditor".into(),
    }
    .caller(tenant, &ClientInfo::default())
}

async fn verify(app: &TestApp, slug: &str) -> Result<LedgerCheck, Tampering> {
    let caller = operator(&app.services, slug).await;
    app.services.audit_verify(&caller).await.unwrap()
}

/// A clinic with a few events: its creation, its owner, and failed logins.
async fn busy_clinic(app: &TestApp, slug: &str) {
    let owner = app.clinic_with_owner(slug).await;
    for _ in 0..4 {
        let _ = app
            .try_login(
                slug,
                "/api/v1/auth/tokens",
                &owner.email,
                "not the password",
            )
            .await;
    }
}

/// The tenant id of `slug`, and its event id at `seq`.
async fn event_at(app: &TestApp, slug: &str, seq: i64) -> (String, String) {
    let tenant = app.services.find_tenant(slug).await.unwrap().id.to_string();
    let mut conn = app.raw_connection().await;
    let id: String =
        sqlx::query_scalar("SELECT event_id FROM audit_ledger WHERE tenant_id = $1 AND seq = $2")
            .bind(tenant.clone())
            .bind(seq)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    (tenant, id)
}

/// Runs `statements` as someone with the database in hand: the
/// append-only triggers and the foreign keys out of the way.
async fn tamper(app: &TestApp, statements: &[String]) {
    let mut conn = app.raw_connection().await;
    let preamble: &[&str] = match app.engine {
        Engine::Sqlite => &[
            "PRAGMA foreign_keys = OFF",
            "DROP TRIGGER IF EXISTS audit_events_no_update",
            "DROP TRIGGER IF EXISTS audit_events_no_delete",
            "DROP TRIGGER IF EXISTS audit_ledger_no_update",
            "DROP TRIGGER IF EXISTS audit_ledger_no_delete",
        ],
        Engine::Postgres => &["SET session_replication_role = replica"],
    };
    for sql in preamble
        .iter()
        .map(|s| s.to_string())
        .chain(statements.iter().cloned())
    {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    conn.close().await.unwrap();
}

both_engines! {
    async fn every_event_has_its_place_and_each_kind_of_tampering_is_named(app) {
        for slug in ["changed", "deleted", "reordered", "truncated", "sneaked"] {
            busy_clinic(&app, slug).await;
        }
        // Sound: the log holds every event of the clinic, numbered 1 to N.
        let mut conn = app.raw_connection().await;
        for slug in ["changed", "deleted", "reordered", "truncated", "sneaked"] {
            let log = verify(&app, slug).await.unwrap_or_else(|t| panic!("{slug}: {t}"));
            let tenant = app.services.find_tenant(slug).await.unwrap().id.to_string();
            let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1")
                .bind(tenant.clone()).fetch_one(&mut conn).await.unwrap();
            let (count, max): (i64, i64) = sqlx::query_as("SELECT COUNT(*), MAX(seq) FROM audit_ledger WHERE tenant_id = $1")
                .bind(tenant).fetch_one(&mut conn).await.unwrap();
            assert!(events >= 6, "{slug} has {events} events");
            assert_eq!((log.size as i64, count, max), (events, events, events), "{slug}");
        }
        conn.close().await.unwrap();

        // One event's reason rewritten.
        let (_, third) = event_at(&app, "changed", 3).await;
        tamper(&app, &[format!("UPDATE audit_events SET reason = 'nothing happened' WHERE id = '{third}'")]).await;
        assert_eq!(verify(&app, "changed").await, Err(Tampering::Changed { seq: 3 }));

        // One event deleted, with its place in the log.
        let (tenant, third) = event_at(&app, "deleted", 3).await;
        tamper(&app, &[
            format!("DELETE FROM audit_ledger WHERE tenant_id = '{tenant}' AND seq = 3"),
            format!("DELETE FROM audit_events WHERE id = '{third}'"),
        ]).await;
        assert_eq!(verify(&app, "deleted").await, Err(Tampering::Missing { seq: 3 }));

        // Two events swapped in the log.
        let (tenant, _) = event_at(&app, "reordered", 2).await;
        tamper(&app, &[
            format!("UPDATE audit_ledger SET seq = 1000000 WHERE tenant_id = '{tenant}' AND seq = 2"),
            format!("UPDATE audit_ledger SET seq = 2 WHERE tenant_id = '{tenant}' AND seq = 4"),
            format!("UPDATE audit_ledger SET seq = 4 WHERE tenant_id = '{tenant}' AND seq = 1000000"),
        ]).await;
        assert_eq!(verify(&app, "reordered").await, Err(Tampering::Changed { seq: 2 }));

        // The tail cut off from the fourth event on.
        let (tenant, _) = event_at(&app, "truncated", 4).await;
        tamper(&app, &[
            format!("DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_ledger WHERE tenant_id = '{tenant}' AND seq >= 4)"),
            format!("DELETE FROM audit_ledger WHERE tenant_id = '{tenant}' AND seq >= 4"),
        ]).await;
        assert_eq!(verify(&app, "truncated").await, Err(Tampering::Missing { seq: 4 }));

        // An event written around the application is no part of the log.
        let tenant = app.services.find_tenant("sneaked").await.unwrap().id.to_string();
        tamper(&app, &[format!(
            "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome) \
             VALUES ('{tenant}', 'sneaked-in', 1, 'system', 'staff.login', 'success')"
        )]).await;
        assert_eq!(verify(&app, "sneaked").await, Err(Tampering::Unlogged { event_id: "sneaked-in".into() }));
        // Later events still take their places after it, and it stays out.
        let _ = app.try_login("sneaked", "/api/v1/auth/tokens", "nobody@example.org", "not the password").await;
        assert_eq!(verify(&app, "sneaked").await, Err(Tampering::Unlogged { event_id: "sneaked-in".into() }));

        // A clinic whose events predate the ledger (as after an upgrade):
        // its first append brings them in, oldest first, and it verifies.
        busy_clinic(&app, "older").await;
        let tenant = app.services.find_tenant("older").await.unwrap().id.to_string();
        tamper(&app, &[
            format!("DELETE FROM audit_ledger WHERE tenant_id = '{tenant}'"),
            format!("DELETE FROM audit_ledger_size WHERE tenant_id = '{tenant}'"),
        ]).await;
        let _ = app.try_login("older", "/api/v1/auth/tokens", "nobody@example.org", "not the password").await;
        let adopted = verify(&app, "older").await.unwrap_or_else(|t| panic!("{t}"));
        assert!(adopted.size >= 7, "{adopted:?}");
        let mut conn = app.raw_connection().await;
        let first: String = sqlx::query_scalar(
            "SELECT e.action FROM audit_ledger l JOIN audit_events e ON e.tenant_id = l.tenant_id AND e.id = l.event_id \
             WHERE l.tenant_id = $1 ORDER BY l.seq LIMIT 1",
        ).bind(tenant).fetch_one(&mut conn).await.unwrap();
        assert_eq!(first, "tenant.create", "the oldest event comes first");
        conn.close().await.unwrap();

        // Each clinic's log is its own: the others still verify.
        let other = app.clinic_with_owner("untouched").await;
        let _ = other;
        assert!(verify(&app, "untouched").await.is_ok());
    }
}

/// Two server processes on one PostgreSQL append to one clinic's log at
/// once: one order, no gaps, no forks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_appending_at_once_keep_one_order_without_gaps() {
    let Some(app) = TestApp::spawn(Engine::Postgres).await else {
        return;
    };
    let owner = app.clinic_with_owner("north").await;
    let other = app.sibling(|_| {}).await;
    let visitor = |services: &Services| {
        let services = services.clone();
        async move {
            let tenant = services.find_tenant("north").await.unwrap();
            Caller::visitor(tenant, ClientInfo::new(Some("198.51.100.7".into()), None))
        }
    };
    let (here, there) = (visitor(&app.services).await, visitor(&other.services).await);
    let mut writes = Vec::new();
    for n in 0..40 {
        let (services, caller) = if n % 2 == 0 {
            (app.services.clone(), here.clone())
        } else {
            (other.services.clone(), there.clone())
        };
        let email = owner.email.clone();
        writes.push(tokio::spawn(async move {
            let password =
                portico_tenants::domain::PlainPassword::new(format!("wrong password {n}")).unwrap();
            let _ = services
                .staff_login(
                    &caller,
                    &portico_tenants::domain::EmailAddress::parse(&email).unwrap(),
                    &password,
                    portico_tenants::staff::SessionKind::Bearer,
                )
                .await;
        }));
    }
    for w in writes {
        w.await.unwrap();
    }
    let log = verify(&app, "north")
        .await
        .unwrap_or_else(|t| panic!("{t}"));
    let mut conn = app.raw_connection().await;
    let tenant = app
        .services
        .find_tenant("north")
        .await
        .unwrap()
        .id
        .to_string();
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(events >= 40, "every attempt was audited: {events}");
    assert_eq!(log.size as i64, events, "one place per event, none twice");
}
