//! Scale benchmark (see docs/performance.md): p50 and p99 of five clinic
//! operations on a PostgreSQL database of 10,000 synthetic clinics
//! (1,000,000 patients, 1,000,000 codes, 10,000,000 audit events), as
//! ratios against the same operations on a database of 10 clinics. The
//! clinic measured (`synthetic-00000`, the largest: 20,000 patients,
//! 200,000 events) is the same in both, so the ratio is what the rest of
//! the platform costs it.
//!
//! Operations, each over HTTP against the server, one at a time:
//! patient search by name fragment, a patient's workspace (the console
//! page), the audit trail's first page and deep pages, redeeming a code
//! into a signed-in account, and the portal home page.
//!
//! Run with
//! `PORTICO_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p portico-server --bench scale`.
//! The loaded databases (`portico_scale_10`, `portico_scale_10000`) are
//! kept between runs, since the large one takes minutes to load; set
//! `PORTICO_SCALE_RELOAD=1` to load them afresh. `PORTICO_SCALE_CLINICS`
//! sizes the large one differently for a quick try.

use std::time::{Duration, Instant};

use portico_server::config::Config;
use portico_server::startup::Application;
use portico_server::synthetic::{self, Ending, LoadInputs, Sizes};
use portico_tenants::auth::PasswordHasher;
use portico_tenants::codes::CodeKey;
use portico_tenants::domain::NewPassword;
use portico_tenants::storage::{DatabaseSettings, migrate_only};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

/// The synthetic platform's password, and the code key its codes are
/// hashed with: fixed, so that a database loaded by an earlier run is
/// usable by the next.
const PASSWORD: &str = "synthetic load passphrase";
const CODE_KEY: &str = "5c0a1e5c0a1e5c0a1e5c0a1e5c0a1e5c0a1e5c0a1e5c0a1e5c0a1e5c0a1e5c0a";
const CLINIC: &str = "synthetic-00000";
const SAMPLES: usize = 1_000;
const WARM_UP: usize = 30;

/// Fragments a receptionist types: parts of first names and surnames,
/// common and rare, across the space between them, and one that matches
/// no one.
const FRAGMENTS: &[&str] = &[
    "sen",
    "mia",
    "kowalski",
    "lindström",
    "ana",
    "bergmann",
    "zab",
    "a no",
    "oskar",
    "qqx",
];

fn main() {
    let Ok(admin_url) = std::env::var("PORTICO_BENCH_POSTGRES") else {
        eprintln!("PORTICO_BENCH_POSTGRES is not set: this benchmark needs PostgreSQL");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let platform = Sizes {
            clinics: std::env::var("PORTICO_SCALE_CLINICS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(Sizes::PLATFORM.clinics),
            ..Sizes::PLATFORM
        };
        let platform = if platform.clinics == Sizes::PLATFORM.clinics {
            platform
        } else {
            Sizes::PLATFORM.with_clinics(platform.clinics)
        };
        let small = Sizes::PLATFORM.with_clinics(10);
        let reload = std::env::var("PORTICO_SCALE_RELOAD").is_ok_and(|v| v == "1");

        let small_url = ensure_loaded(&admin_url, "portico_scale_10", small, reload).await;
        let large_url = ensure_loaded(
            &admin_url,
            &format!("portico_scale_{}", platform.clinics),
            platform,
            reload,
        )
        .await;

        let baseline = measure(&small_url).await;
        let at_scale = measure(&large_url).await;

        println!(
            "\n# Scale benchmark ({} cores): {} clinics against {}\n",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            platform.clinics,
            small.clinics
        );
        println!(
            "| operation | 10 clinics p50 / p99 ms | {} clinics p50 / p99 ms | p99 ratio (goal ≤ 2) |",
            platform.clinics
        );
        println!("|---|---|---|---|");
        for ((name, small), (_, large)) in baseline.iter().zip(&at_scale) {
            println!(
                "| {name} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} |",
                small.0,
                small.1,
                large.0,
                large.1,
                large.1 / small.1
            );
        }
    });
}

/// Loads `sizes` into database `name` unless it is there already (a
/// resumed load finishes what an interrupted one began), timing the load.
async fn ensure_loaded(admin_url: &str, name: &str, sizes: Sizes, reload: bool) -> String {
    let url = database_url(admin_url, name);
    let mut admin = PgConnection::connect(admin_url).await.unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    if reload || !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    migrate_only(&DatabaseSettings::from_parts(Some(&url), dir.path()).unwrap())
        .await
        .unwrap();
    let hash = PasswordHasher::new(1)
        .hash(&NewPassword::parse(PASSWORD.to_owned()).unwrap())
        .await
        .unwrap();
    let started = Instant::now();
    let mut loaded_any = false;
    let ending = synthetic::load(
        LoadInputs {
            database_url: &url,
            code_key: &CodeKey::from_hex(CODE_KEY).unwrap(),
            password_hash: hash.as_str(),
            sizes,
        },
        &std::sync::atomic::AtomicBool::new(false),
        |p| {
            loaded_any = true;
            eprintln!(
                "{name}: clinics {} of {}, {} rows, {:.0} s",
                p.clinics_done,
                p.clinics,
                p.rows,
                p.elapsed.as_secs_f64()
            );
        },
    )
    .await
    .unwrap();
    assert_eq!(ending, Ending::Complete);
    if loaded_any {
        eprintln!(
            "{name}: loaded in {:.1} s (with ANALYZE)",
            started.elapsed().as_secs_f64()
        );
    }
    url
}

fn database_url(admin_url: &str, name: &str) -> String {
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    format!("{base}/{name}")
}

type Figures = Vec<(&'static str, (f64, f64))>;

async fn measure(url: &str) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        database_url: Some(url.to_owned()),
        code_key: Some(CODE_KEY.to_owned()),
        demo: false,
        login_max_failures_per_account: u32::MAX,
        login_max_failures_per_ip: u32::MAX,
        ..Config::default()
    })
    .await
    .expect("server starts");
    let base = format!("http://{}/t/{CLINIC}", app.addr());
    let services = app.services().clone();
    let shutdown = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async {
        let _ = shutdown.1.await;
    }));

    let mut db = PgConnection::connect(url).await.unwrap();
    let tenant: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
        .bind(CLINIC)
        .fetch_one(&mut db)
        .await
        .unwrap();
    let staff = client();
    let bearer = post_json(
        &staff,
        &format!("{base}/api/v1/auth/tokens"),
        json!({"email": format!("owner@{CLINIC}.example"), "password": PASSWORD}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let console = client();
    form_login(
        &console,
        &format!("{base}/console/login"),
        &[
            ("email", format!("owner@{CLINIC}.example")),
            ("password", PASSWORD.to_owned()),
        ],
    )
    .await;
    let portal = client();
    form_login(
        &portal,
        &format!("{base}/portal/login"),
        &[
            ("login", "patient0".to_owned()),
            ("password", PASSWORD.to_owned()),
        ],
    )
    .await;
    // Redemptions go to another account, so the portal home measured
    // above keeps its few records. The portal API is cookie-borne, with
    // a CSRF token for what changes anything.
    let redeemer = client();
    let redeemer_csrf = post_json(
        &redeemer,
        &format!("{base}/api/v1/portal/login"),
        json!({"login": "patient3", "password": PASSWORD}),
    )
    .await["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let patients: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM patients WHERE tenant_id = $1 ORDER BY md5(id) LIMIT $2",
    )
    .bind(&tenant)
    .bind((SAMPLES + WARM_UP) as i64)
    .fetch_all(&mut db)
    .await
    .unwrap();
    let events: i64 = sqlx::query_scalar("SELECT size FROM audit_ledger_size WHERE tenant_id = $1")
        .bind(&tenant)
        .fetch_one(&mut db)
        .await
        .unwrap();
    // Cursors spread through the trail, down to its oldest events.
    let mut cursors = Vec::new();
    for i in 0..(SAMPLES + WARM_UP) as i64 {
        let seq = 1 + (events - 1) * (i % 20) / 20 + i / 20;
        let id: String =
            sqlx::query_scalar("SELECT id FROM audit_events WHERE tenant_id = $1 AND seq = $2")
                .bind(&tenant)
                .bind(seq.min(events))
                .fetch_one(&mut db)
                .await
                .unwrap();
        cursors.push(id);
    }
    // Codes issued through the API, as a receptionist would, for patients
    // the redeeming account does not hold yet.
    let holders: Vec<String> = sqlx::query_scalar(
        "SELECT p.id FROM patients p WHERE p.tenant_id = $1 AND p.portal_access = 'enabled'
           AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.tenant_id = p.tenant_id AND g.patient_id = p.id
                             AND g.revoked_at IS NULL AND g.account_id =
                               (SELECT id FROM portal_accounts WHERE tenant_id = $1 AND username_normalized = 'patient3'))
         ORDER BY md5(p.id) LIMIT $2",
    )
    .bind(&tenant)
    .bind((SAMPLES + WARM_UP) as i64)
    .fetch_all(&mut db)
    .await
    .unwrap();
    // Issuing codes is a sensitive act: the receptionist confirms their
    // password first.
    let stepped = staff
        .post(format!("{base}/api/v1/auth/step-up"))
        .bearer_auth(&bearer)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert!(
        stepped.status().is_success(),
        "step-up: {}",
        stepped.status()
    );
    let mut codes = Vec::new();
    for patient in &holders {
        let issued = staff
            .post(format!("{base}/api/v1/patients/{patient}/access-codes"))
            .bearer_auth(&bearer)
            .json(&json!({"delivery": "print", "relation": "caregiver"}))
            .send()
            .await
            .unwrap();
        let status = issued.status();
        let body: Value = issued.json().await.unwrap();
        assert!(status.is_success(), "issuing a code: {body}");
        codes.push(body["code"].as_str().unwrap().to_owned());
    }

    let mut figures = Figures::new();
    figures.push((
        "patient search by name fragment",
        timed(|i| {
            let url = format!(
                "{base}/api/v1/patients?search={}",
                FRAGMENTS[i % FRAGMENTS.len()]
            );
            get_ok(&staff, url, Some(&bearer))
        })
        .await,
    ));
    figures.push((
        "patient workspace (console page)",
        timed(|i| {
            get_ok(
                &console,
                format!("{base}/console/patients/{}", patients[i]),
                None,
            )
        })
        .await,
    ));
    figures.push((
        "audit trail, first page",
        timed(|_| get_ok(&staff, format!("{base}/api/v1/audit"), Some(&bearer))).await,
    ));
    figures.push((
        "audit trail, deep pages",
        timed(|i| {
            get_ok(
                &staff,
                format!("{base}/api/v1/audit?before={}", cursors[i]),
                Some(&bearer),
            )
        })
        .await,
    ));
    figures.push((
        "code redemption (signed in)",
        timed(|i| {
            let (http, url, csrf, code) = (
                &redeemer,
                format!("{base}/api/v1/portal/redeem"),
                &redeemer_csrf,
                codes[i].clone(),
            );
            async move {
                let resp = http
                    .post(url)
                    .header("X-CSRF-Token", csrf)
                    .json(&json!({ "code": code }))
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                let body = resp.text().await.unwrap();
                assert!(status.is_success(), "redeeming: {status} {body}");
            }
        })
        .await,
    ));
    figures.push((
        "portal home page",
        timed(|_| get_ok(&portal, format!("{base}/portal/"), None)).await,
    ));

    // The bench's redemptions are undone, so the next run finds patients
    // to issue codes for.
    sqlx::query(
        "DELETE FROM grants WHERE tenant_id = $1 AND relation = 'caregiver' AND account_id =
           (SELECT id FROM portal_accounts WHERE tenant_id = $1 AND username_normalized = 'patient3')",
    )
    .bind(&tenant)
    .execute(&mut db)
    .await
    .unwrap();

    // The hourly job that signs each clinic's audit tree head: on a fresh
    // load every clinic is due (a Merkle root from each log's first event);
    // run again at once, none is, and the job only asks the list of heads
    // due; a day on, every head is due again, each signed from the
    // frontier its last head kept.
    let now = portico_tenants::domain::Timestamp::now();
    let tomorrow = now.plus(Duration::from_secs(24 * 60 * 60 + 60));
    for (run, at) in [
        ("first run", now),
        ("run again at once", now),
        ("a day later", tomorrow),
    ] {
        let started = Instant::now();
        let done = services.sign_audit_heads_due(at).await.unwrap();
        eprintln!(
            "{url}: the audit-head job, {run}: {} clinics looked at, {} heads signed, in {:.3} s",
            done.examined,
            done.signed,
            started.elapsed().as_secs_f64()
        );
    }

    let _ = shutdown.0.send(());
    server.await.unwrap().unwrap();
    figures
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn post_json(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let resp = http.post(url).json(&body).send().await.unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

async fn form_login(http: &reqwest::Client, url: &str, form: &[(&str, String)]) {
    let resp = http.post(url).form(form).send().await.unwrap();
    assert!(
        resp.status().is_redirection(),
        "{url}: {} {}",
        resp.status(),
        resp.text().await.unwrap()
    );
}

async fn get_ok(http: &reqwest::Client, url: String, bearer: Option<&str>) {
    let mut req = http.get(&url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {body}");
}

/// p50 and p99 in milliseconds of `SAMPLES` calls, after `WARM_UP` calls
/// that are not counted. Call `i` gets `i`, so each can take its own
/// input.
async fn timed<F, Fut>(call: F) -> (f64, f64)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut taken: Vec<Duration> = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES + WARM_UP {
        let started = Instant::now();
        call(i).await;
        if i >= WARM_UP {
            taken.push(started.elapsed());
        }
    }
    taken.sort();
    let at = |p: f64| taken[((taken.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99))
}
