//! Whether the time of an answer tells what the server knows (see
//! docs/performance.md and docs/security.md): medians of answers that must
//! look alike, and the ratio of the slowest median to the fastest in each
//! group. Every request is a failure or a request that mails, the kinds a
//! stranger can send; the variants of a group are sent in turn, so drift
//! in the machine's speed falls on all of them alike.
//!
//! 1. Portal login with a wrong password, by an email that 1, 2 or 3
//!    accounts share, and by an unknown one.
//! 2. Staff login with a wrong password, known and unknown email.
//! 3. Password reset request, known and unknown login.
//! 4. Registration online, with an address that has an account and with a
//!    new one.
//!
//! Run with `cargo bench -p portico-tests --bench answer_timing`.

use std::time::{Duration, Instant};

use portico_tests::{Engine, TestApp, add_enabled_patient};
use serde_json::{Value, json};

const SAMPLES: usize = 60;
const WARMUP: usize = 5;
const PASSWORD: &str = "the family's passphrase";

/// One kind of request, ready to send again and again.
struct Variant {
    name: &'static str,
    path: &'static str,
    /// The body of the n-th request.
    body: Box<dyn Fn(usize) -> Value>,
}

async fn time_one(app: &TestApp, v: &Variant, n: usize) -> Duration {
    let started = Instant::now();
    let resp = app
        .client
        .post(app.tenant_url("north", v.path))
        .json(&(v.body)(n))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    resp.bytes().await.unwrap();
    let took = started.elapsed();
    assert!(
        status.is_client_error() || status.is_success(),
        "{}: {status}",
        v.name
    );
    assert_ne!(
        status.as_u16(),
        429,
        "{}: throttled; raise the limits",
        v.name
    );
    took
}

fn quartiles_ms(mut times: Vec<Duration>) -> [f64; 3] {
    times.sort();
    [1, 2, 3].map(|q| times[times.len() * q / 4].as_secs_f64() * 1e3)
}

async fn group(app: &TestApp, title: &str, variants: &[Variant]) {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    for n in 0..WARMUP + SAMPLES {
        // Each round starts one variant further on, so anything periodic in
        // the server (every other request slower, say) falls on all alike.
        for k in 0..variants.len() {
            let i = (k + n) % variants.len();
            let v = &variants[i];
            let took = time_one(app, v, n).await;
            if n >= WARMUP {
                times[i].push(took);
            }
        }
    }
    let quartiles: Vec<[f64; 3]> = times.into_iter().map(quartiles_ms).collect();
    for (v, [q1, m, q3]) in variants.iter().zip(&quartiles) {
        println!(
            "| {title}: {}, median ms (quartiles) | {m:.2} ({q1:.2} to {q3:.2}) |",
            v.name
        );
    }
    let medians: Vec<f64> = quartiles.iter().map(|q| q[1]).collect();
    let slowest = medians.iter().cloned().fold(f64::MIN, f64::max);
    let fastest = medians.iter().cloned().fold(f64::MAX, f64::min);
    println!(
        "| **{title}: slowest / fastest median** (goal ≤ 1.10) | **{:.3}** |",
        slowest / fastest
    );
}

fn login(login: &'static str) -> Box<dyn Fn(usize) -> Value> {
    Box::new(move |_| json!({ "login": login, "password": "not the password at all" }))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let app = TestApp::spawn_with(Engine::Sqlite, |c| {
        c.login_max_failures_per_account = 1_000_000;
        c.login_max_failures_per_ip = 1_000_000;
        c.registration_max_per_address = 1_000_000;
        c.registration_max_per_clinic = 1_000_000;
        c.registration_mails_per_recipient = 1_000_000;
    })
    .await
    .expect("SQLite is always there");
    let owner = app.clinic_with_owner("north").await;
    // Accounts sharing an address, as a family's: 1, 2 and 3 of them.
    for (email, members) in [
        ("one@example.org", 1),
        ("two@example.org", 2),
        ("three@example.org", 3),
    ] {
        for m in 0..members {
            let record = add_enabled_patient(&app, &owner, &format!("Member {m}"), email).await;
            let code = app.issue_code(&owner, &record).await;
            let resp = app
                .client
                .post(app.tenant_url("north", "/api/v1/portal/redeem"))
                .json(&json!({"code": code, "account": {
                    "username": format!("{}{m}", &email[..email.find('@').unwrap()]),
                    "email": email, "password": PASSWORD}}))
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        }
    }

    println!(
        "# Answer timing ({} cores, {SAMPLES} samples each)\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("| measure | value |\n|---|---|");
    let portal = "/api/v1/portal/login";
    group(
        &app,
        "portal login, wrong password",
        &[
            Variant {
                name: "email of 1 account",
                path: portal,
                body: login("one@example.org"),
            },
            Variant {
                name: "email of 2 accounts",
                path: portal,
                body: login("two@example.org"),
            },
            Variant {
                name: "email of 3 accounts",
                path: portal,
                body: login("three@example.org"),
            },
            Variant {
                name: "unknown email",
                path: portal,
                body: login("nobody@example.org"),
            },
        ],
    )
    .await;
    let staff = "/api/v1/auth/login";
    let staff_login = |email: &'static str| -> Box<dyn Fn(usize) -> Value> {
        Box::new(move |_| json!({ "email": email, "password": "not the password at all" }))
    };
    group(
        &app,
        "staff login, wrong password",
        &[
            Variant {
                name: "known email",
                path: staff,
                body: staff_login("owner@north.example.org"),
            },
            Variant {
                name: "unknown email",
                path: staff,
                body: staff_login("nobody@north.example.org"),
            },
        ],
    )
    .await;
    let reset = "/api/v1/portal/password-reset";
    group(
        &app,
        "password reset request",
        &[
            Variant {
                name: "known login",
                path: reset,
                body: Box::new(|_| json!({"login": "one@example.org"})),
            },
            Variant {
                name: "unknown login",
                path: reset,
                body: Box::new(|_| json!({"login": "nobody@example.org"})),
            },
        ],
    )
    .await;
    let register = "/api/v1/portal/register";
    group(
        &app,
        "registration",
        &[
            Variant {
                name: "address with an account",
                path: register,
                body: Box::new(|_| json!({"email": "one@example.org", "password": "a stranger's passphrase"})),
            },
            Variant {
                name: "new address",
                path: register,
                body: Box::new(|n| json!({"email": format!("new{n}@example.org"), "password": "a stranger's passphrase"})),
            },
        ],
    )
    .await;
}
