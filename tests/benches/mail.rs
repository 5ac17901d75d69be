//! Mail benchmarks (see docs/performance.md), against the real SMTP sink on
//! loopback:
//!
//! 1. outbox throughput: mails per second from the outbox to the relay;
//! 2. code-issuing latency (an emailed access link) with a relay that
//!    answers every command after 2 seconds, against one that answers at
//!    once. Issuing only queues the mail, so the ratio should be ~1.
//!
//! Run with `cargo bench -p portico-tests --bench mail`.

use std::time::{Duration, Instant};

use portico_server::config::{Config, MailTransportKind};
use portico_server::mail::SmtpSecurity;
use portico_server::startup::Application;
use portico_tenants::domain::EmailAddress;
use portico_tests::smtp::{Behaviour, SmtpSink};
use serde_json::json;
use sqlx::Connection;

fn config(dir: &std::path::Path, port: u16) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_owned(),
        demo: false,
        mail_transport: MailTransportKind::Smtp,
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        smtp_security: SmtpSecurity::None,
        smtp_timeout_secs: 30,
        mail_poll_ms: 5,
        // One account asks for all the mail here.
        registration_mails_per_recipient: 1_000_000,
        ..Config::default()
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

async fn throughput() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(config(dir.path(), sink.port))
        .await
        .unwrap();
    let services = app.services().clone();
    let op = portico_tenants::operators::Operator {
        name: "bench".into(),
    };
    let client = portico_tenants::audit::ClientInfo::default();
    let tenant = services
        .create_tenant(
            &op,
            &portico_tenants::domain::Slug::parse("bench").unwrap(),
            &portico_tenants::domain::DisplayName::parse("n", "Bench Clinic").unwrap(),
            None,
            false,
            &client,
        )
        .await
        .unwrap();
    // The queue is filled through the product's own act, before the
    // worker starts: 2,000 password-reset requests for one account (whose
    // registration is confirmed by its link first), 200 at a time, since
    // each answer waits out a floor that hides whether the account exists.
    let visitor = portico_tenants::Caller::visitor(tenant.clone(), client.clone());
    services
        .portal_register(
            &visitor,
            portico_tenants::acts::portal_account::Registration {
                username: None,
                email: EmailAddress::parse("p@example.org").unwrap(),
                password: portico_tenants::domain::NewPassword::parse(
                    "benchmark passphrase 1".into(),
                )
                .unwrap(),
                new_patient: None,
            },
        )
        .await
        .unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("portico.db").display()
    ))
    .await
    .unwrap();
    let payload: String =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE kind = 'email_verification'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let opened = portico_tenants::outbox::open_sealed_secrets(
        &services.code_key,
        tenant.id,
        serde_json::from_str(&payload).unwrap(),
    )
    .unwrap();
    let token =
        portico_tenants::auth::SecretToken::presented(opened["token"].as_str().unwrap()).unwrap();
    services
        .portal_confirm_email(&visitor, &token)
        .await
        .unwrap();
    let count = 2_000;
    for _ in 0..count / 200 {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let (services, visitor) = (services.clone(), visitor.clone());
            batch.spawn(async move {
                services
                    .portal_request_password_reset(&visitor, "p@example.org")
                    .await
            });
        }
        for done in batch.join_all().await {
            done.unwrap();
        }
    }
    // And the confirmation mail itself.
    let count = count + 1;
    let started = Instant::now();
    tokio::spawn(app.run(std::future::pending()));
    sink.wait_for(count, Duration::from_secs(600)).await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| outbox to loopback SMTP, {count} mails | {:.0} mails/s ({secs:.1} s) |",
        count as f64 / secs
    );
}

async fn issuing_latency(relay_delay: Duration) -> (f64, f64) {
    let sink = SmtpSink::start().await;
    sink.set(Behaviour {
        delay: relay_delay,
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(config(dir.path(), sink.port))
        .await
        .unwrap();
    let base = format!("http://{}", app.addr());
    let services = app.services().clone();
    tokio::spawn(app.run(std::future::pending()));
    let op = portico_tenants::operators::Operator {
        name: "bench".into(),
    };
    let client = portico_tenants::audit::ClientInfo::default();
    let tenant = services
        .create_tenant(
            &op,
            &portico_tenants::domain::Slug::parse("bench").unwrap(),
            &portico_tenants::domain::DisplayName::parse("n", "Bench Clinic").unwrap(),
            None,
            false,
            &client,
        )
        .await
        .unwrap();
    let password = "benchmark passphrase 1";
    // Set up by the server itself, as the demo is: the password is the
    // owner's own, with no change asked at login.
    services
        .staff_create(
            &portico_tenants::Caller::system(tenant.clone()),
            &EmailAddress::parse("owner@bench.example.org").unwrap(),
            &portico_tenants::domain::DisplayName::parse("n", "Owner").unwrap(),
            &portico_tenants::domain::NewPassword::parse(password.into()).unwrap(),
            &[portico_tenants::domain::RoleName::parse("owner").unwrap()],
        )
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{base}/t/bench/api/v1/auth/tokens"))
        .json(&json!({"email": "owner@bench.example.org", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let post = |path: String, body: serde_json::Value| {
        http.post(format!("{base}/t/bench{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    post("/api/v1/auth/step-up".into(), json!({"password": password}))
        .await
        .unwrap();
    let patient: serde_json::Value = post(
        "/api/v1/patients".into(),
        json!({"full_name": "Mia Wong", "date_of_birth": "1984-03-12", "email": "mia@example.org", "home_zip": "10001"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = patient["id"].as_str().unwrap().to_owned();
    let put = http
        .put(format!("{base}/t/bench/api/v1/patients/{id}/portal-access"))
        .bearer_auth(&token)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let mut times = Vec::new();
    for _ in 0..120 {
        let t = Instant::now();
        let resp = post(
            format!("/api/v1/patients/{id}/access-codes"),
            json!({"delivery": "email"}),
        )
        .await
        .unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
        resp.bytes().await.unwrap();
        times.push(t.elapsed());
    }
    let mut times = times[20..].to_vec();
    times.sort();
    (pct(&times, 0.5), pct(&times, 0.99))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!("# Mail benchmark ({} cores)\n", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        println!("| measure | value |\n|---|---|");
        throughput().await;
        let (f50, f99) = issuing_latency(Duration::ZERO).await;
        let (s50, s99) = issuing_latency(Duration::from_secs(2)).await;
        println!("| issuing an emailed code, relay answers at once: p50 / p99 ms | {f50:.2} / {f99:.2} |");
        println!("| issuing an emailed code, relay answers after 2 s: p50 / p99 ms | {s50:.2} / {s99:.2} |");
        println!("| **ratio slow / instant relay**, p50 / p99 (goal ≤ 1.2) | **{:.2} / {:.2}** |", s50 / f50, s99 / f99);
    });
}
