//! The outbox delivers: through a real SMTP server on loopback, with retries
//! while the relay is down, giving up on a permanent refusal, and as files
//! on the embedded default.

use std::collections::HashMap;
use std::time::Duration;

use portico_server::config::Config;
use portico_server::mail::MailWorker;
use portico_tests::smtp::{Behaviour, SmtpSink, via_smtp};
use portico_tests::{Engine, TestApp, both_engines, json_ok};
use serde_json::json;

async fn register(app: &TestApp, email: &str) {
    let resp = app
        .client
        .post(app.tenant_url("north", "/api/v1/portal/register"))
        .json(&json!({"email": email, "password": "a patient's passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED);
}

/// (status, attempts, last_error, payload) of every outbox row.
async fn outbox_rows(app: &TestApp) -> Vec<(String, i64, Option<String>, String)> {
    let mut conn = app.raw_connection().await;
    sqlx::query_as("SELECT status, attempts, last_error, payload FROM outbox ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

async fn wait_for_status(
    app: &TestApp,
    status: &str,
) -> Vec<(String, i64, Option<String>, String)> {
    for _ in 0..200 {
        let rows = outbox_rows(app).await;
        if rows.iter().all(|r| r.0 == status) && !rows.is_empty() {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "outbox never reached {status}: {:?}",
        outbox_rows(app).await
    );
}

/// Queues `count` notices of something new at clinic `slug` straight into
/// the outbox and the delivery queue, as the acts write them (much faster
/// than `count` registrations): one to each of `patient000@example.org`,
/// `patient001@…`. Returns each recipient's mail id.
async fn queue_notices(app: &TestApp, slug: &str, count: usize) -> HashMap<String, String> {
    let mut conn = app.raw_connection().await;
    let (tenant,): (String,) = sqlx::query_as("SELECT id FROM tenants WHERE slug = $1")
        .bind(slug.to_owned())
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let now = portico_tenants::domain::Timestamp::now().unix_millis();
    let mut ids = HashMap::new();
    for i in 0..count {
        let id = uuid::Uuid::now_v7().to_string();
        let recipient = format!("patient{i:03}@example.org");
        sqlx::query(
            "INSERT INTO outbox (tenant_id, id, kind, recipient, payload, status, attempts, next_attempt_at, created_at)
             VALUES ($1, $2, 'record_update', $3, '{\"news\": \"a new document\"}', 'pending', 0, $4, $4)",
        )
        .bind(tenant.clone())
        .bind(id.clone())
        .bind(recipient.clone())
        .bind(now)
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query("INSERT INTO mail_queue (tenant_id, mail_id, due_at) VALUES ($1, $2, $3)")
            .bind(tenant.clone())
            .bind(id.clone())
            .bind(now)
            .execute(&mut conn)
            .await
            .unwrap();
        ids.insert(recipient, id);
    }
    ids
}

/// The ids of the outbox's mails, oldest first.
async fn mail_ids(app: &TestApp) -> Vec<String> {
    let mut conn = app.raw_connection().await;
    sqlx::query_scalar("SELECT id FROM outbox ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

/// The `Message-ID` of a received mail, without its angle brackets.
fn message_id(data: &[u8]) -> Option<String> {
    mail_parser::MessageParser::default()
        .parse(data)?
        .message_id()
        .map(str::to_owned)
}

both_engines! {
    async fn queued_mail_arrives_once_and_its_link_works(app) {
        let engine = app.engine;
        drop(app);
        let sink = SmtpSink::start().await;
        let Some(app) = TestApp::spawn_with(engine, via_smtp(sink.port)).await else { return };
        app.clinic_with_owner("north").await;
        register(&app, "newbie@example.org").await;

        let got = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(got[0].to, ["newbie@example.org"]);
        let parsed = mail_parser::MessageParser::default().parse(&got[0].data).unwrap();
        assert_eq!(parsed.subject(), Some("Confirm your email address for Clinic north"));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Clinic north"), "the clinic's name is the sender's");
        assert_eq!(from.address(), Some("portal@north.example.org"), "on the configured address");
        let text = parsed.body_text(0).unwrap().to_string();
        let html = parsed.body_html(0).unwrap().to_string();
        let link = text.lines().find(|l| l.contains("/portal/verify-email#token=")).unwrap().trim().to_owned();
        assert!(link.starts_with(&format!("{}/t/north/portal/verify-email#token=", app.address)), "{link}");
        assert!(html.contains(&format!("href=\"{link}\"")));

        // Sent once, marked sent, and the token no longer sits in the table.
        let rows = wait_for_status(&app, "sent").await;
        assert_eq!(rows[0].1, 1);
        assert_eq!(rows[0].3, "{}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.received().len(), 1, "no second delivery");

        // The link's token verifies the address.
        let token = link.split("#token=").nth(1).unwrap();
        let verified = json_ok(app.client.post(app.tenant_url("north", "/api/v1/portal/verify-email")).json(&json!({"token": token})).send().await.unwrap()).await;
        assert_eq!(verified["email_verified"], true);
    }

    async fn a_relay_that_is_down_delays_mail_without_losing_it(app) {
        let engine = app.engine;
        drop(app);
        let down = SmtpSink::start().await;
        let port = down.port;
        down.stop();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Some(app) = TestApp::spawn_with(engine, via_smtp(port)).await else { return };
        app.clinic_with_owner("north").await;
        register(&app, "patient@example.org").await;
        // The act that queued the mail has already succeeded; the mail waits.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let waiting = outbox_rows(&app).await;
        assert_eq!(waiting[0].0, "pending");
        assert!(waiting[0].1 >= 1, "it was tried");
        assert!(waiting[0].2.is_some(), "and the error kept: {waiting:?}");

        let up = SmtpSink::start_on(port).await;
        let got = up.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(got[0].to, ["patient@example.org"]);
        wait_for_status(&app, "sent").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(up.received().len(), 1, "delivered once");
    }

    async fn a_permanent_refusal_marks_the_mail_dead_with_the_reason(app) {
        let engine = app.engine;
        drop(app);
        let sink = SmtpSink::start().await;
        sink.set(Behaviour { reject_recipients: Some("mailbox unavailable".into()), ..Behaviour::default() });
        let Some(app) = TestApp::spawn_with(engine, via_smtp(sink.port)).await else { return };
        app.clinic_with_owner("north").await;
        register(&app, "gone@example.org").await;
        let rows = wait_for_status(&app, "dead").await;
        assert_eq!(rows[0].1, 1, "not retried");
        assert!(rows[0].2.as_deref().unwrap().contains("mailbox unavailable"), "{rows:?}");
        assert!(sink.received().is_empty());
        // The clinic's admins see it, with the reason, and can try again.
        let owner = app.login_bearer("north", "owner@north.example.org", portico_tests::PASSWORD).await;
        let dead = json_ok(owner.get(&app, "/api/v1/mail/dead").await).await;
        assert_eq!(dead.as_array().unwrap().len(), 1);
        assert!(dead[0]["last_error"].as_str().unwrap().contains("mailbox unavailable"));
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        portico_tests::expect_error(desk.get(&app, "/api/v1/mail/dead").await, reqwest::StatusCode::FORBIDDEN, "permission_denied").await;
        sink.set(Behaviour::default());
        let id = dead[0]["id"].as_str().unwrap();
        json_ok(owner.post(&app, &format!("/api/v1/mail/{id}/retry"), json!({})).await).await;
        let got = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(got[0].to, ["gone@example.org"]);
        assert!(json_ok(owner.get(&app, "/api/v1/mail/dead").await).await.as_array().unwrap().is_empty());
    }

    async fn staff_send_an_access_link_and_follow_its_delivery(app) {
        let engine = app.engine;
        drop(app);
        let sink = SmtpSink::start().await;
        let Some(app) = TestApp::spawn_with(engine, via_smtp(sink.port)).await else { return };
        let owner = app.clinic_with_owner("north").await;
        let patient = portico_tests::add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let branded = json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({"primary_colour": "#7A1F5C", "reply_to": "front@north.example.org", "time_zone": "America/Chicago"})).await).await;
        assert_eq!(branded["primary_colour"], "#7a1f5c");
        portico_tests::expect_error(owner.patch(&app, "/api/v1/clinic/settings", json!({"primary_colour": "purple"})).await, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "invalid_colour").await;
        portico_tests::expect_error(owner.patch(&app, "/api/v1/clinic/settings", json!({"logo_url": "http://north.example.org/logo.png"})).await, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "invalid_logo_url").await;
        owner.step_up(&app).await;
        let issued = json_ok(owner.post(&app, &format!("/api/v1/patients/{patient}/access-codes"), json!({"delivery": "email"})).await).await;
        let got = sink.wait_for(1, Duration::from_secs(10)).await;
        let parsed = mail_parser::MessageParser::default().parse(&got[0].data).unwrap();
        assert_eq!(parsed.subject(), Some("Your online access to your records at Clinic north"));
        // Branded from the clinic's settings.
        assert!(parsed.body_html(0).unwrap().contains("#7a1f5c"));
        assert_eq!(parsed.reply_to().and_then(|r| r.first()).and_then(|a| a.address()), Some("front@north.example.org"));
        let text = parsed.body_text(0).unwrap().to_string();
        assert!(text.contains(issued["access_link"].as_str().unwrap()), "the mail carries the issued link");
        assert!(text.contains("Did not expect this email?"));
        // The link's end is on the clinic's clock (Chicago, CST in winter), not UTC.
        let expires = portico_tenants::domain::Timestamp::parse_rfc3339(issued["access_code"]["expires_at"].as_str().unwrap()).unwrap();
        let zone = portico_tenants::domain::ClinicTimeZone::parse("America/Chicago").unwrap();
        assert!(text.contains(&format!("works until {}", zone.human(expires))), "{text}");
        assert!(zone.human(expires).ends_with("CST") && !text.contains("UTC"), "{text}");
        for _ in 0..100 {
            let mails = json_ok(owner.get(&app, &format!("/api/v1/patients/{patient}/mail")).await).await;
            if mails[0]["status"] == "sent" {
                assert_eq!(mails[0]["kind"], "access_link");
                assert_eq!(mails[0]["id"], issued["mail_id"]);
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the mail never showed as sent");
    }

    async fn a_mail_tried_again_carries_the_same_message_id(app) {
        let engine = app.engine;
        drop(app);
        // The relay reads the whole message, then says to try again later.
        let sink = SmtpSink::start().await;
        sink.set(Behaviour { put_off: 1, ..Behaviour::default() });
        let Some(app) = TestApp::spawn_with(engine, via_smtp(sink.port)).await else { return };
        app.create_tenant("north").await;
        register(&app, "again@example.org").await;
        let got = sink.wait_for(1, Duration::from_secs(10)).await;
        let rows = wait_for_status(&app, "sent").await;
        assert_eq!(rows[0].1, 2, "two tries: put off, then taken");
        let expected = format!("{}@north.example.org", mail_ids(&app).await[0]);
        let put_off = sink.put_off();
        assert_eq!(put_off.len(), 1);
        assert_eq!(message_id(&put_off[0].data).as_deref(), Some(expected.as_str()), "the first try");
        assert_eq!(message_id(&got[0].data).as_deref(), Some(expected.as_str()), "the second try");
    }

    async fn a_server_killed_mid_delivery_loses_no_mail(app) {
        let engine = app.engine;
        drop(app);
        // The first relay takes the message in and then answers so slowly
        // that the server dies before it learns the relay has it.
        let slow = SmtpSink::start().await;
        slow.set(Behaviour {
            accept_delay: Duration::from_secs(5),
            ..Behaviour::default()
        });
        let Some(mut app) = TestApp::spawn_with(engine, |c| {
            via_smtp(slow.port)(c);
            c.mail_lease_secs = Some(2);
            c.smtp_timeout_secs = 30;
        })
        .await
        else {
            return;
        };
        app.create_tenant("north").await;
        register(&app, "survivor@example.org").await;
        let first = slow.wait_for(1, Duration::from_secs(10)).await;
        // The try was marked and counted before the relay saw the mail; its
        // outcome is not known.
        let rows = outbox_rows(&app).await;
        assert_eq!((rows[0].0.as_str(), rows[0].1), ("sending", 1), "{rows:?}");
        let claimed: Vec<(i64,)> = {
            let mut conn = app.raw_connection().await;
            sqlx::query_as("SELECT claimed_until FROM mail_queue")
                .fetch_all(&mut conn)
                .await
                .unwrap()
        };
        assert_eq!(claimed.len(), 1, "the mail is claimed and in flight");
        app.kill();

        // Another server (on SQLite, on the same file) takes it once the
        // dead one's lease runs out, and sends it again: at least once.
        let relay = SmtpSink::start().await;
        let data_dir = app.data_dir().to_owned();
        let _restarted = app
            .sibling(|c| {
                via_smtp(relay.port)(c);
                c.data_dir = data_dir;
            })
            .await;
        let again = relay.wait_for(1, Duration::from_secs(15)).await;
        assert_eq!(again[0].to, ["survivor@example.org"]);
        let rows = wait_for_status(&app, "sent").await;
        assert_eq!(rows[0].1, 2, "the cut-off try counted");
        // The repeat is the same message to the recipient's mail client.
        let expected = format!("{}@north.example.org", mail_ids(&app).await[0]);
        assert_eq!(message_id(&first[0].data).as_deref(), Some(expected.as_str()));
        assert_eq!(message_id(&again[0].data).as_deref(), Some(expected.as_str()));
    }

    // The figure in docs/operations.md ("A crash repeats the mail in
    // flight"); `--nocapture` prints it.
    async fn a_crash_repeats_only_the_mail_in_flight_and_each_repeat_keeps_its_message_id(app) {
        const MAILS: usize = 200;
        // Each node is killed once the relay holds this many messages.
        const KILL_AT: [usize; 3] = [50, 110, 170];
        const IN_FLIGHT: usize = MailWorker::MAX_IN_FLIGHT;
        let engine = app.engine;
        drop(app);
        // A relay that takes a moment over each reply, and a little longer
        // to take a message in, as one writing it to its queue does.
        let sink = SmtpSink::start().await;
        sink.set(Behaviour {
            delay: Duration::from_millis(2),
            accept_delay: Duration::from_millis(20),
            ..Behaviour::default()
        });
        // The first server only queues: its worker idles.
        let Some(app) = TestApp::spawn_with(engine, |c| {
            via_smtp(sink.port)(c);
            c.mail_poll_ms = 3_600_000;
        })
        .await
        else {
            return;
        };
        app.create_tenant("north").await;
        let ids = queue_notices(&app, "north", MAILS).await;
        // Nodes on the same database (on SQLite, the same file), each killed
        // in the middle of delivering.
        let data_dir = app.data_dir().to_owned();
        let port = sink.port;
        let node = || {
            let data_dir = data_dir.clone();
            move |c: &mut Config| {
                via_smtp(port)(c);
                c.data_dir = data_dir;
                c.mail_lease_secs = Some(5);
            }
        };
        for at in KILL_AT {
            let running = app.sibling(node()).await;
            sink.wait_for(at, Duration::from_secs(60)).await;
            drop(running);
        }
        let _last = app.sibling(node()).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while outbox_rows(&app).await.iter().any(|r| r.0 != "sent") {
            assert!(tokio::time::Instant::now() < deadline, "not every mail was sent: {:?}", outbox_rows(&app).await.iter().filter(|r| r.0 != "sent").count());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;

        let got = sink.received();
        let mut copies: HashMap<String, Vec<Option<String>>> = HashMap::new();
        for mail in &got {
            copies.entry(mail.to[0].clone()).or_default().push(message_id(&mail.data));
        }
        let repeated = got.len() - copies.len();
        let repeated_mails = copies.values().filter(|c| c.len() > 1).count();
        eprintln!(
            "{engine:?}: {MAILS} mails, {} crashes: {repeated} repeated copies ({repeated_mails} mails), {:.1} per crash",
            KILL_AT.len(),
            repeated as f64 / KILL_AT.len() as f64
        );
        assert_eq!(copies.len(), MAILS, "every mail arrived, none is lost");
        for (recipient, ids_seen) in &copies {
            let expected = format!("{}@north.example.org", ids[recipient]);
            assert!(
                ids_seen.iter().all(|id| id.as_deref() == Some(expected.as_str())),
                "every copy of the mail to {recipient} carries Message-ID <{expected}>: {ids_seen:?}"
            );
        }
        assert!(
            repeated <= IN_FLIGHT * KILL_AT.len(),
            "a crash repeats at most the {IN_FLIGHT} mails a node has in flight: {repeated} repeats over {} crashes",
            KILL_AT.len()
        );
    }
}

#[tokio::test]
async fn the_embedded_default_writes_mail_to_files() {
    let app = TestApp::spawn_with(Engine::Sqlite, |c| c.mail_poll_ms = 50)
        .await
        .unwrap();
    app.clinic_with_owner("north").await;
    register(&app, "files@example.org").await;
    wait_for_status(&app, "sent").await;
    let dir = app.data_dir().join("mail");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let parsed_bytes = std::fs::read(&files[0]).unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(&parsed_bytes)
        .unwrap();
    assert_eq!(
        parsed
            .to()
            .and_then(|t| t.first())
            .and_then(|a| a.address()),
        Some("files@example.org")
    );
    assert!(
        parsed
            .body_text(0)
            .unwrap()
            .contains("/t/north/portal/verify-email#token=")
    );
}

#[tokio::test]
async fn two_servers_on_one_postgres_never_send_a_mail_twice() {
    let sink = SmtpSink::start().await;
    sink.set(Behaviour {
        delay: Duration::from_millis(3),
        ..Behaviour::default()
    });
    // The first server's worker idles, so the mails pile up first.
    let Some(app) = TestApp::spawn_with(Engine::Postgres, |c| {
        via_smtp(sink.port)(c);
        c.mail_poll_ms = 3_600_000;
    })
    .await
    else {
        return;
    };
    app.clinic_with_owner("north").await;
    let count = 30;
    for i in 0..count {
        register(&app, &format!("patient{i}@example.org")).await;
    }
    assert!(sink.received().is_empty());
    // Two more server processes share the database and race for the queue.
    let fast = |c: &mut Config| {
        via_smtp(sink.port)(c);
        c.mail_poll_ms = 5;
    };
    let _one = app.sibling(fast).await;
    let _two = app.sibling(fast).await;
    let got = sink.wait_for(count, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if sink.received().len() > got.len() {
        sink.received()
    } else {
        got
    };
    let mut recipients: Vec<_> = got.iter().map(|m| m.to[0].clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(got.len(), count, "every mail exactly once");
    assert_eq!(recipients.len(), count);
    wait_for_status(&app, "sent").await;
}

/// A worker is handed no more mail than it asked for, however long the
/// queue: on PostgreSQL the claim's `LIMIT … SKIP LOCKED` is chosen once,
/// not once per row the update joins (which once handed a worker more
/// mails than it had room for, and it panicked).
#[tokio::test]
async fn a_claim_takes_no_more_mail_than_asked_for() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let Some(app) = TestApp::spawn_with(engine, |c| c.mail_poll_ms = 3_600_000).await else {
            continue;
        };
        app.clinic_with_owner("north").await;
        queue_notices(&app, "north", 40).await;
        let lease = Duration::from_secs(60);
        // Many claims, as a worker makes: PostgreSQL plans a statement
        // run often on one connection anew (a generic plan).
        let mut claimed = Vec::new();
        for _ in 0..12 {
            let got = app.services.claim_due_mail(2, lease).await.unwrap();
            assert_eq!(got.len(), 2, "{engine:?}");
            claimed.extend(got);
        }
        let unique: std::collections::HashSet<_> = claimed.iter().collect();
        assert_eq!(
            unique.len(),
            24,
            "{engine:?}: a claimed mail is not claimed again within its lease"
        );
        let rest = app.services.claim_due_mail(100, lease).await.unwrap();
        assert_eq!(rest.len(), 16, "{engine:?}");
    }
}
