//! The audit ledger (issue 16): every clinic's events sit in one Merkle log
//! with a gap-free sequence, kept in order even when two servers append at
//! once, and whoever changes the trail around the application, with a raw
//! connection to the database, is caught at the first event that no longer
//! holds.

use portico_tenants::audit::ClientInfo;
use portico_tenants::domain::Timestamp;
use portico_tenants::ledger::{
    AuditKey, HeadJson, LedgerCheck, SignedHead, StoredEvent, Tampering, merkle,
};
use portico_tenants::operators::Operator;
use portico_tenants::{Caller, Services};
use portico_tests::{Engine, TestApp, both_engines, expect_error, json_ok};
use reqwest::StatusCode;
use serde_json::{Value, json};
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
async fn busy_clinic(app: &TestApp, slug: &str) -> portico_tests::Staff {
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
    owner
}

/// The tenant id of `slug`, and its event id at `seq`.
async fn event_at(app: &TestApp, slug: &str, seq: i64) -> (String, String) {
    let tenant = app.services.find_tenant(slug).await.unwrap().id.to_string();
    let mut conn = app.raw_connection().await;
    let id: String =
        sqlx::query_scalar("SELECT id FROM audit_events WHERE tenant_id = $1 AND seq = $2")
            .bind(tenant.clone())
            .bind(seq)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    (tenant, id)
}

/// North's and south's `audit_log_started`, by slug.
async fn log_started(app: &TestApp) -> Vec<(String, i64)> {
    let mut conn = app.raw_connection().await;
    let flags = sqlx::query_as(
        "SELECT slug, audit_log_started FROM tenants WHERE slug IN ('north', 'south') ORDER BY slug",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    flags
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

/// A signed head as the API gives it, as the domain holds it.
fn head_of(json: &Value) -> SignedHead {
    serde_json::from_value::<HeadJson>(json.clone())
        .unwrap()
        .to_head()
        .unwrap()
}

fn hash(text: &Value) -> [u8; 32] {
    hex::decode(text.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn hashes(list: &Value) -> Vec<[u8; 32]> {
    list.as_array().unwrap().iter().map(hash).collect()
}

/// Runs the standalone Python verifier, written from docs/audit.md alone,
/// on `export`: its exit code and output. `None` where Python is missing
/// (never under CI).
fn python_verifier(export: &std::path::Path, key: &str) -> Option<(i32, String)> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/verifier/verify_audit_export.py"
    );
    match std::process::Command::new("python3")
        .arg(script)
        .arg(export)
        .args(["--public-key", key])
        .output()
    {
        Ok(out) => Some((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )),
        Err(err) if !portico_tests::in_ci() => {
            eprintln!("SKIPPED: the Python verifier needs python3 ({err}); it runs under CI=true");
            None
        }
        Err(err) => panic!("CI=true but python3 cannot run: {err}"),
    }
}

/// Rewrites event `seq` of an export as a careful forger would: the event
/// and its recorded leaf hash together.
fn forge(export: &str, seq: u64) -> String {
    let tenant =
        serde_json::from_str::<Value>(export.lines().next().unwrap()).unwrap()["tenant_id"]
            .as_str()
            .unwrap()
            .to_owned();
    export
        .lines()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            if v["type"] == "event" && v["seq"] == seq {
                v["outcome"] = json!("success");
                v["reason"] = json!("nothing to see");
                let opt = |k: &str| v[k].as_str().map(str::to_owned);
                let event = StoredEvent {
                    id: v["id"].as_str().unwrap().into(),
                    occurred_at: v["occurred_at"].as_i64().unwrap(),
                    actor_kind: v["actor_kind"].as_str().unwrap().into(),
                    actor_id: opt("actor_id"),
                    action: v["action"].as_str().unwrap().into(),
                    target: opt("target"),
                    outcome: "success".into(),
                    reason: opt("reason"),
                    ip: opt("ip"),
                    user_agent: opt("user_agent"),
                };
                v["leaf_hash"] = json!(hex::encode(event.canonical(&tenant, seq).leaf_hash()));
            }
            format!("{v}\n")
        })
        .collect()
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
            let (count, max): (i64, i64) = sqlx::query_as("SELECT COUNT(seq), MAX(seq) FROM audit_events WHERE tenant_id = $1")
                .bind(tenant).fetch_one(&mut conn).await.unwrap();
            assert!(events >= 6, "{slug} has {events} events");
            assert_eq!((log.size as i64, count, max), (events, events, events), "{slug}");
        }
        conn.close().await.unwrap();

        // One event's reason rewritten.
        let (_, third) = event_at(&app, "changed", 3).await;
        tamper(&app, &[format!("UPDATE audit_events SET reason = 'nothing happened' WHERE id = '{third}'")]).await;
        assert_eq!(verify(&app, "changed").await, Err(Tampering::Changed { seq: 3 }));

        // One event deleted, and with it its place in the log.
        let (_, third) = event_at(&app, "deleted", 3).await;
        tamper(&app, &[format!("DELETE FROM audit_events WHERE id = '{third}'")]).await;
        assert_eq!(verify(&app, "deleted").await, Err(Tampering::Missing { seq: 3 }));

        // Two events swapped in the log.
        let (tenant, _) = event_at(&app, "reordered", 2).await;
        tamper(&app, &[
            format!("UPDATE audit_events SET seq = 1000000 WHERE tenant_id = '{tenant}' AND seq = 2"),
            format!("UPDATE audit_events SET seq = 2 WHERE tenant_id = '{tenant}' AND seq = 4"),
            format!("UPDATE audit_events SET seq = 4 WHERE tenant_id = '{tenant}' AND seq = 1000000"),
        ]).await;
        assert_eq!(verify(&app, "reordered").await, Err(Tampering::Changed { seq: 2 }));

        // The tail cut off from the fourth event on. Whoever holds the
        // database can also rewrite any count kept beside the log; the
        // signed head, whose copies live outside it, is what remembers
        // how long the log was.
        let (tenant, _) = event_at(&app, "truncated", 4).await;
        app.services.sign_audit_head(&operator(&app.services, "truncated").await).await.unwrap();
        tamper(&app, &[
            format!("DELETE FROM audit_events WHERE tenant_id = '{tenant}' AND seq >= 4"),
            format!("UPDATE audit_ledger_size SET size = 3 WHERE tenant_id = '{tenant}'"),
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
            format!("UPDATE audit_events SET seq = NULL, leaf_hash = NULL WHERE tenant_id = '{tenant}'"),
            format!("DELETE FROM audit_ledger_size WHERE tenant_id = '{tenant}'"),
        ]).await;
        let _ = app.try_login("older", "/api/v1/auth/tokens", "nobody@example.org", "not the password").await;
        let adopted = verify(&app, "older").await.unwrap_or_else(|t| panic!("{t}"));
        assert!(adopted.size >= 7, "{adopted:?}");
        let mut conn = app.raw_connection().await;
        let first: String = sqlx::query_scalar(
            "SELECT action FROM audit_events WHERE tenant_id = $1 AND seq IS NOT NULL ORDER BY seq LIMIT 1",
        ).bind(tenant).fetch_one(&mut conn).await.unwrap();
        assert_eq!(first, "tenant.create", "the oldest event comes first");
        conn.close().await.unwrap();

        // Each clinic's log is its own: the others still verify.
        let other = app.clinic_with_owner("untouched").await;
        let _ = other;
        assert!(verify(&app, "untouched").await.is_ok());
    }

    async fn a_node_start_looks_only_at_clinics_not_known_to_have_a_log(app) {
        // A clinic's first event starts its log, and marks it started.
        busy_clinic(&app, "north").await;
        busy_clinic(&app, "south").await;
        assert_eq!(log_started(&app).await, [("north".into(), 1), ("south".into(), 1)]);

        // South as after the upgrade that brought the ledger: events with
        // no places, no log, not marked. North's log is taken away too, but
        // north stays marked, so a start does not look at it.
        let south = app.services.find_tenant("south").await.unwrap().id.to_string();
        let north = app.services.find_tenant("north").await.unwrap().id.to_string();
        tamper(&app, &[
            format!("UPDATE audit_events SET seq = NULL, leaf_hash = NULL WHERE tenant_id = '{south}'"),
            format!("DELETE FROM audit_ledger_size WHERE tenant_id = '{south}'"),
            format!("UPDATE tenants SET audit_log_started = 0 WHERE id = '{south}'"),
            format!("DELETE FROM audit_ledger_size WHERE tenant_id = '{north}'"),
        ]).await;
        assert_eq!(app.services.start_audit_ledgers().await.unwrap(), 1, "south alone");
        let adopted = verify(&app, "south").await.unwrap_or_else(|t| panic!("{t}"));
        assert!(adopted.size >= 7, "{adopted:?}");
        assert_eq!(log_started(&app).await, [("north".into(), 1), ("south".into(), 1)]);
        assert_eq!(app.services.start_audit_ledgers().await.unwrap(), 0, "nothing left to look at");
    }

    async fn the_head_job_looks_only_at_logs_that_grew_or_heads_a_day_old(app) {
        let north = busy_clinic(&app, "north").await;
        let owner_south = busy_clinic(&app, "south").await;
        busy_clinic(&app, "east").await;
        let now = Timestamp::now();

        // Every log grew since it started: each is looked at and signed.
        let first = app.services.sign_audit_heads_due(now).await.unwrap();
        assert_eq!((first.examined, first.signed), (3, 3), "{first:?}");
        let quiet = app.services.sign_audit_heads_due(now).await.unwrap();
        assert_eq!((quiet.examined, quiet.signed), (0, 0), "nothing grew, nothing is asked");

        // One refused sign-in grows south's log alone; its new head covers it.
        let _ = app.try_login("south", "/api/v1/auth/tokens", "nobody@south.example", "wrong").await;
        let grown = app.services.sign_audit_heads_due(now).await.unwrap();
        assert_eq!((grown.examined, grown.signed), (1, 1), "south alone");
        let south = verify(&app, "south").await.unwrap_or_else(|t| panic!("{t}"));
        let heads = json_ok(owner_south.get(&app, "/api/v1/audit/heads").await).await;
        assert_eq!(head_of(&heads["heads"][0]).head.size, south.size, "the newest head covers the log");

        // A day on, every head is signed again, though no log grew. Heads
        // carry the real time they were signed at, so back in the present
        // nothing is due.
        let tomorrow = now.plus(std::time::Duration::from_secs(24 * 3600 + 60));
        let daily = app.services.sign_audit_heads_due(tomorrow).await.unwrap();
        assert_eq!((daily.examined, daily.signed), (3, 3), "{daily:?}");
        let after = app.services.sign_audit_heads_due(now).await.unwrap();
        assert_eq!((after.examined, after.signed), (0, 0));

        // A mark with nothing behind it (as every clinic has once after the
        // upgrade) is looked at once, signs nothing, and is cleared.
        let north_id = app.services.find_tenant("north").await.unwrap().id.to_string();
        tamper(&app, &[format!("UPDATE audit_heads_due SET grown = 1 WHERE tenant_id = '{north_id}'")]).await;
        let heads_before = json_ok(north.get(&app, "/api/v1/audit/heads").await).await["heads"].as_array().unwrap().len();
        let stale = app.services.sign_audit_heads_due(now).await.unwrap();
        assert_eq!((stale.examined, stale.signed), (1, 0), "{stale:?}");
        let heads_after = json_ok(north.get(&app, "/api/v1/audit/heads").await).await["heads"].as_array().unwrap().len();
        assert_eq!(heads_after, heads_before, "no head for a log that did not grow");
        let settled = app.services.sign_audit_heads_due(now).await.unwrap();
        assert_eq!((settled.examined, settled.signed), (0, 0));

        // A suspended clinic is passed by even when its log grew.
        let _ = app.try_login("east", "/api/v1/auth/tokens", "nobody@east.example", "wrong").await;
        app.suspend_tenant("east").await;
        let suspended = app.services.sign_audit_heads_due(now).await.unwrap();
        assert_eq!((suspended.examined, suspended.signed), (0, 0), "{suspended:?}");

        // A log that has not started (as before the ledger) has nothing to
        // hold appends with, so it keeps its mark until a node's start
        // starts it; then its first head is signed.
        busy_clinic(&app, "west").await;
        let west = app.services.find_tenant("west").await.unwrap().id.to_string();
        tamper(&app, &[
            format!("UPDATE audit_events SET seq = NULL, leaf_hash = NULL WHERE tenant_id = '{west}'"),
            format!("DELETE FROM audit_ledger_size WHERE tenant_id = '{west}'"),
            format!("UPDATE tenants SET audit_log_started = 0 WHERE id = '{west}'"),
        ]).await;
        let unstarted = app.services.sign_audit_heads_due(now).await.unwrap();
        assert_eq!((unstarted.examined, unstarted.signed), (1, 0), "{unstarted:?}");
        let mut conn = app.raw_connection().await;
        let mark: i64 = sqlx::query_scalar("SELECT grown FROM audit_heads_due WHERE tenant_id = $1")
            .bind(&west)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        assert_eq!(mark, 1, "the mark stays");
        assert_eq!(app.services.start_audit_ledgers().await.unwrap(), 1);
        let started = app.services.sign_audit_heads_due(now).await.unwrap();
        assert_eq!((started.examined, started.signed), (1, 1), "{started:?}");
        let done = app.services.sign_audit_heads_due(now).await.unwrap();
        assert_eq!((done.examined, done.signed), (0, 0), "{done:?}");
    }

    async fn signed_heads_give_proofs_an_offline_export_and_a_verifiable_cut(app) {
        let owner = busy_clinic(&app, "north").await;
        let key: Value = reqwest::get(app.url("/.well-known/portico-audit-key")).await.unwrap().json().await.unwrap();
        assert_eq!(key["algorithm"], "Ed25519");
        let public_key = key["public_key"].as_str().unwrap().to_owned();

        // The schedule signs each clinic whose log grew, once.
        assert!(app.services.sign_audit_heads_due(Timestamp::now()).await.unwrap().signed >= 1);
        let again = app.services.sign_audit_heads_due(Timestamp::now()).await.unwrap();
        assert_eq!((again.examined, again.signed), (0, 0), "nothing grew, nothing looked at");
        let listed = json_ok(owner.get(&app, "/api/v1/audit/heads").await).await;
        assert_eq!(listed["public_key"], key["public_key"]);
        let first = head_of(&listed["heads"][0]);
        assert!(first.signature_holds());
        assert_eq!(hex::encode(first.public_key), public_key);

        // On demand, after more events.
        for _ in 0..5 {
            let _ = app.try_login("north", "/api/v1/auth/tokens", "nobody@example.org", "still not it").await;
        }
        let second_json = json_ok(owner.post(&app, "/api/v1/audit/heads", json!({})).await).await;
        let second = head_of(&second_json);
        assert!(second.head.size > first.head.size + 4, "{} then {}", first.head.size, second.head.size);

        // Every event is in both heads' trees, and the first is a prefix.
        for seq in 1..=second.head.size {
            let proof = json_ok(owner.get(&app, &format!("/api/v1/audit/proofs/inclusion?seq={seq}&head={}", second.id)).await).await;
            assert!(merkle::verify_inclusion(&hash(&proof["leaf_hash"]), seq - 1, second.head.size, &hashes(&proof["path"]), &second.head.root), "event {seq}");
        }
        let proof = json_ok(owner.get(&app, &format!("/api/v1/audit/proofs/inclusion?seq=2&head={}", first.id)).await).await;
        assert!(merkle::verify_inclusion(&hash(&proof["leaf_hash"]), 1, first.head.size, &hashes(&proof["path"]), &first.head.root));
        assert!(!merkle::verify_inclusion(&hash(&proof["leaf_hash"]), 2, first.head.size, &hashes(&proof["path"]), &first.head.root));
        let beyond = owner.get(&app, &format!("/api/v1/audit/proofs/inclusion?seq={}&head={}", first.head.size + 1, first.id)).await;
        let body = expect_error(beyond, StatusCode::UNPROCESSABLE_ENTITY, "invalid_proof_request").await;
        assert_eq!(body["field"], "seq");
        let consistency = json_ok(owner.get(&app, &format!("/api/v1/audit/proofs/consistency?first={}&second={}", first.id, second.id)).await).await;
        assert!(merkle::verify_consistency(first.head.size, second.head.size, &first.head.root, &second.head.root, &hashes(&consistency["path"])));
        let unknown = owner.get(&app, "/api/v1/audit/proofs/consistency?first=0193aaaa-0000-7000-8000-000000000000&second=0193aaaa-0000-7000-8000-000000000000").await;
        expect_error(unknown, StatusCode::NOT_FOUND, "not_found").await;

        // The events with their places, a page at a time.
        let page = json_ok(owner.get(&app, "/api/v1/audit/ledger?from=2&limit=3").await).await;
        let seqs: Vec<u64> = page["entries"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert_eq!((seqs, page["next_from"].as_u64()), (vec![2, 3, 4], Some(5)));
        assert_eq!(page["entries"][0]["event"]["action"], "staff.create");

        // The export up to the second head checks offline, by the
        // command line's code and by the Python verifier.
        let dir = tempfile::tempdir().unwrap();
        let export = owner.get(&app, "/api/v1/audit/export").await;
        assert_eq!(export.status(), StatusCode::OK);
        assert_eq!(export.headers()["content-type"], "application/jsonl");
        let export = export.text().await.unwrap();
        let (export_file, head_file) = (dir.path().join("north.jsonl"), dir.path().join("head.json"));
        std::fs::write(&export_file, &export).unwrap();
        let kept = json_ok(owner.get(&app, &format!("/api/v1/audit/heads/{}", first.id)).await).await;
        std::fs::write(&head_file, kept.to_string()).unwrap();
        let offline = portico_server::cli::verify_export(&export_file, &head_file, Some(&public_key)).unwrap().unwrap();
        assert_eq!((offline.size, offline.root), (second.head.size, second.head.root));
        if let Some((code, out)) = python_verifier(&export_file, &public_key) {
            assert_eq!(code, 0, "{out}");
            assert!(out.contains(&hex::encode(second.head.root)), "{out}");
        }
        // A forged event, its leaf recomputed to match: the heads catch it.
        let forged_file = dir.path().join("forged.jsonl");
        std::fs::write(&forged_file, forge(&export, 3)).unwrap();
        let caught = portico_server::cli::verify_export(&forged_file, &head_file, Some(&public_key)).unwrap().unwrap_err();
        assert!(matches!(caught, Tampering::HeadMismatch { .. }), "{caught:?}");
        assert_eq!(caught.first_bad_seq(), Some(1));
        if let Some((code, out)) = python_verifier(&forged_file, &public_key) {
            assert_eq!(code, 1, "{out}");
            assert!(out.contains("NOT verified") && out.contains("cannot be trusted: 1"), "{out}");
        }
        // Another key is not the platform's.
        let other_key = hex::encode([7u8; 32]);
        assert!(matches!(
            portico_server::cli::verify_export(&export_file, &head_file, Some(&other_key)).unwrap(),
            Err(Tampering::UnknownKey { .. })
        ));

        // After the platform rotates its audit key, the heads signed with
        // the old one are trusted only once it is named as retired.
        let rotated = app.services.clone().with_audit_key(AuditKey::from_hex(&"09".repeat(32)).unwrap());
        let caller = operator(&rotated, "north").await;
        assert!(matches!(rotated.audit_verify(&caller).await.unwrap(), Err(Tampering::UnknownKey { .. })));
        let rotated = rotated.with_retired_audit_keys(vec![app.services.audit_key.public_key()]);
        rotated.audit_verify(&caller).await.unwrap().unwrap_or_else(|t| panic!("{t}"));

        // Retention: shortening it needs a fresh confirmation.
        let shorten = owner.patch(&app, "/api/v1/clinic/settings", json!({ "audit_retention_days": 400 })).await;
        expect_error(shorten, StatusCode::FORBIDDEN, "step_up_required").await;
        let too_short = owner.patch(&app, "/api/v1/clinic/settings", json!({ "audit_retention_days": 30 })).await;
        let body = expect_error(too_short, StatusCode::UNPROCESSABLE_ENTITY, "invalid_retention").await;
        assert_eq!(body["field"], "audit_retention_days");
        owner.step_up(&app).await;
        let kept_for = json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({ "audit_retention_days": 400 })).await).await;
        assert_eq!(kept_for["audit_retention_days"], 400);

        // A year and more later, the events up to the newest head they
        // reach go; that head stands for them, and the rest still checks.
        let later = Timestamp::now().plus(std::time::Duration::from_secs(401 * 24 * 3600));
        let third = head_of(&json_ok(owner.post(&app, "/api/v1/audit/heads", json!({})).await).await);
        let pruned = app.services.prune_audit_trails(later).await.unwrap();
        assert_eq!(pruned.clinics, 1);
        assert_eq!(pruned.events, third.head.size);
        let log = verify(&app, "north").await.unwrap_or_else(|t| panic!("{t}"));
        assert_eq!(log.summarised, third.head.size);
        assert!(log.heads_checked >= 1 && log.heads_before_cut >= 2, "{log:?}");
        let tenant = app.services.find_tenant("north").await.unwrap().id.to_string();
        let mut conn = app.raw_connection().await;
        let (kept_events, first_seq): (i64, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1), (SELECT MIN(seq) FROM audit_events WHERE tenant_id = $1)",
        ).bind(tenant.clone()).fetch_one(&mut conn).await.unwrap();
        assert_eq!(first_seq, Some(third.head.size as i64 + 1), "the log starts after the cut");
        assert!(kept_events >= 2, "the pruning and whatever followed the head stay");
        let reason: String = sqlx::query_scalar("SELECT reason FROM audit_events WHERE tenant_id = $1 AND action = 'audit.prune'")
            .bind(tenant.clone()).fetch_one(&mut conn).await.unwrap();
        assert!(reason.contains(&third.id), "{reason}");
        // Nothing after the cut can be removed, even by hand.
        let refused = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM audit_events WHERE tenant_id = '{tenant}' AND seq = {}", third.head.size + 1
        ))).execute(&mut conn).await;
        assert!(refused.is_err(), "the trail after the cut stays append-only");
        // Nor can an event, once placed, change its words or its place.
        for change in ["reason = 'nothing happened'", "seq = 1000000", "leaf_hash = NULL, seq = NULL"] {
            let refused = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE audit_events SET {change} WHERE tenant_id = '{tenant}' AND seq = {}", third.head.size + 1
            ))).execute(&mut conn).await;
            assert!(refused.is_err(), "{change} is refused");
        }
        conn.close().await.unwrap();
        let gone = owner.get(&app, &format!("/api/v1/audit/proofs/inclusion?seq=1&head={}", third.id)).await;
        let body = expect_error(gone, StatusCode::UNPROCESSABLE_ENTITY, "invalid_proof_request").await;
        assert!(body["message"].as_str().unwrap().contains("pruned"), "{body}");

        // The export after the cut starts from its summary, and checks.
        let fourth = head_of(&json_ok(owner.post(&app, "/api/v1/audit/heads", json!({})).await).await);
        let export = owner.get(&app, "/api/v1/audit/export").await.text().await.unwrap();
        assert!(export.lines().nth(1).unwrap().contains(&format!("\"size\":{}", third.head.size)), "{export}");
        std::fs::write(&export_file, &export).unwrap();
        std::fs::write(&head_file, serde_json::to_string(&HeadJson::from(&fourth)).unwrap()).unwrap();
        let offline = portico_server::cli::verify_export(&export_file, &head_file, None).unwrap().unwrap();
        assert_eq!(offline.root, fourth.head.root);
        if let Some((code, out)) = python_verifier(&export_file, &public_key) {
            assert_eq!(code, 0, "{out}");
        }
        let verdict = json_ok(owner.get(&app, "/api/v1/audit/verify").await).await;
        assert_eq!((verdict["verified"].as_bool(), verdict["pruned"].as_u64()), (Some(true), Some(third.head.size)));
    }

    async fn a_rewrite_that_recomputes_its_leaf_is_caught_by_the_signed_head(app) {
        let owner = busy_clinic(&app, "rewritten").await;
        let head = head_of(&json_ok(owner.post(&app, "/api/v1/audit/heads", json!({})).await).await);
        let (tenant, third) = event_at(&app, "rewritten", 3).await;
        let mut conn = app.raw_connection().await;
        let row = sqlx::query(
            "SELECT id, occurred_at, actor_kind, actor_id, action, target, ip, user_agent FROM audit_events WHERE id = $1",
        )
        .bind(third.clone())
        .fetch_one(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        use sqlx::Row;
        let forged = StoredEvent {
            id: row.get(0),
            occurred_at: row.get(1),
            actor_kind: row.get(2),
            actor_id: row.get(3),
            action: row.get(4),
            target: row.get(5),
            outcome: "success".into(),
            reason: Some("all fine".into()),
            ip: row.get(6),
            user_agent: row.get(7),
        };
        let leaf = hex::encode(forged.canonical(&tenant, 3).leaf_hash());
        tamper(&app, &[
            format!("UPDATE audit_events SET outcome = 'success', reason = 'all fine', leaf_hash = '{leaf}' WHERE id = '{third}'"),
        ]).await;
        let caught = verify(&app, "rewritten").await.unwrap_err();
        assert_eq!(caught, Tampering::HeadMismatch { head_id: head.id.clone(), size: head.head.size, after: 0 });
        let verdict = json_ok(owner.get(&app, "/api/v1/audit/verify").await).await;
        assert_eq!(verdict["verified"], false);
        assert_eq!(verdict["first_bad_seq"], 1);
        assert!(verdict["problem"].as_str().unwrap().contains(&head.id), "{verdict}");
        // Retention refuses to prune what would hide it.
        owner.step_up(&app).await;
        json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({ "audit_retention_days": 365 })).await).await;
        let later = Timestamp::now().plus(std::time::Duration::from_secs(400 * 24 * 3600));
        let run = app.services.prune_audit_trails(later).await.unwrap();
        assert_eq!((run.events, run.failed_clinics), (0, 1));
    }
}
