//! Code redemption benchmarks (see docs/performance.md):
//!
//! 1. p50/p99 of redeeming a Medical Records Access Code into a logged-in
//!    account (so no password hash is in the figure), with 1,000 codes in
//!    the table and then with 1,000,000;
//! 2. redemption throughput against a bare poem route;
//! 3. what the audit ledger costs: redemption throughput and latency with
//!    the ledger's append and without it, alternated in this one run and
//!    each round with it compared with its two neighbours without it.
//!
//! Run with `cargo bench -p portico-server --bench redemption`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, Server, get, handler};
use portico_server::config::Config;
use portico_server::startup::Application;
use portico_tenants::Caller;
use portico_tenants::acts::redeem::AccountForm;
use portico_tenants::audit::ClientInfo;
use portico_tenants::codes::PlainCode;
use portico_tenants::domain::{DisplayName, Slug, Timestamp};
use portico_tenants::operators::Operator;
use serde_json::json;
use sqlx::Connection;

const PASSWORD: &str = "benchmark passphrase 1";
const CONCURRENCY: usize = 16;

#[handler]
fn bare() -> &'static str {
    "ok"
}

struct Bench {
    base: String,
    db_file: std::path::PathBuf,
    services: portico_tenants::Services,
    tenant_id: String,
    http: reqwest::Client,
    bearer: String,
    _dir: tempfile::TempDir,
}

/// Inserts `count` patients with portal access on and one active code
/// each, hashed with the server's key; returns the plain codes.
async fn add_codes(b: &Bench, count: usize, keep_plain: bool) -> Vec<String> {
    let tenant = b.services.find_tenant("bench").await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", b.db_file.display()))
        .await
        .unwrap();
    let now = Timestamp::now();
    let expires = now.plus(Duration::from_secs(4 * 24 * 3600)).unix_millis();
    let mut plain = Vec::new();
    for chunk in 0..count.div_ceil(10_000) {
        let mut tx = conn.begin().await.unwrap();
        for i in chunk * 10_000..((chunk + 1) * 10_000).min(count) {
            let patient = uuid::Uuid::now_v7().to_string();
            sqlx::query(
                "INSERT INTO patients (tenant_id, id, full_name, name_search, date_of_birth, email, email_normalized, home_zip, portal_access, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, '1980-01-01', 'p@example.org', 'p@example.org', '10001', 'enabled', $5, $5)",
            )
            .bind(&b.tenant_id)
            .bind(&patient)
            .bind(format!("Patient {i}"))
            .bind(format!("patient {i}"))
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await
            .unwrap();
            let code = PlainCode::generate();
            sqlx::query(
                "INSERT INTO access_codes (tenant_id, id, kind, patient_id, code_hash, delivery, issued_at, expires_at)
                 VALUES ($1, $2, 'medical_records', $3, $4, 'print', $5, $6)",
            )
            .bind(&b.tenant_id)
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&patient)
            .bind(b.services.code_key.hash(tenant.id, &code.canonical()))
            .bind(now.unix_millis())
            .bind(expires)
            .execute(&mut *tx)
            .await
            .unwrap();
            if keep_plain {
                plain.push(code.display().to_owned());
            }
        }
        tx.commit().await.unwrap();
    }
    plain
}

async fn redeem(b: &Bench, code: &str) -> Duration {
    let started = Instant::now();
    let resp = b
        .http
        .post(format!("{}/t/bench/api/v1/portal/redeem", b.base))
        .bearer_auth(&b.bearer)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    resp.bytes().await.unwrap();
    started.elapsed()
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e6
}

async fn latencies(b: &Bench, codes: &[String]) -> (f64, f64) {
    let mut out = Vec::with_capacity(codes.len());
    for c in codes {
        out.push(redeem(b, c).await);
    }
    out.sort();
    (pct(&out, 0.5), pct(&out, 0.99))
}

async fn throughput<F, Fut>(secs: u64, work: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let work = Arc::new(work);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (work, done) = (work.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop {
                if !work().await {
                    break;
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / secs as f64
}

/// Redemptions per second for four seconds, taking codes from `pool` at
/// `next` onwards.
async fn redeem_throughput(
    b: &Arc<Bench>,
    pool: &Arc<Vec<String>>,
    next: &Arc<AtomicUsize>,
) -> f64 {
    let (bb, p, n) = (b.clone(), pool.clone(), next.clone());
    throughput(4, move || {
        let (b, pool, next) = (bb.clone(), p.clone(), n.clone());
        async move {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= pool.len() {
                return false;
            }
            redeem(&b, &pool[i]).await;
            true
        }
    })
    .await
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let bare_addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        tokio::spawn(Server::new_with_acceptor(acceptor).run(Route::new().at("/bare", get(bare))));

        let dir = tempfile::tempdir().unwrap();
        let app = Application::build(Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_owned(),
            demo: false,
            ..Config::default()
        })
        .await
        .unwrap();
        let base = format!("http://{}", app.addr());
        let services = app.services().clone();
        tokio::spawn(app.run(std::future::pending()));
        let op = Operator {
            name: "bench".into(),
        };
        let client = ClientInfo::default();
        let tenant = services
            .create_tenant(
                &op,
                &Slug::parse("bench").unwrap(),
                &DisplayName::parse("n", "Bench").unwrap(),
                None,
                false,
                &client,
            )
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        let mut b = Bench {
            base: base.clone(),
            db_file: dir.path().join("portico.db"),
            services: services.clone(),
            tenant_id: tenant.id.to_string(),
            http,
            bearer: String::new(),
            _dir: dir,
        };

        // A portal account to redeem into, set up by redeeming a first code
        // as a visitor.
        let first = add_codes(&b, 1, true).await;
        let opened = services
            .redeem_code(
                &Caller::visitor(tenant.clone(), client.clone()),
                &first[0],
                Some(AccountForm {
                    username: None,
                    email: "family@example.org".into(),
                    password: PASSWORD.into(),
                }),
                Vec::new(),
            )
            .await
            .unwrap();
        b.bearer = opened.session.unwrap().token.expose().to_owned();

        println!(
            "# Redemption benchmark ({} cores)\n",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        println!("| measure | value |\n|---|---|");

        // 1,000 codes in the table; redeem 300 of them one at a time.
        let small = add_codes(&b, 1_000, true).await;
        let _warm = latencies(&b, &small[..50]).await;
        let (s50, s99) = latencies(&b, &small[50..350]).await;
        println!(
            "| redemption with 1,000 codes in the table, p50 / p99 µs | {s50:.0} / {s99:.0} |"
        );

        // Grow the table to 1,000,000 codes, then redeem 300 more.
        let fresh = add_codes(&b, 1_000, true).await;
        let started = Instant::now();
        add_codes(&b, 998_000, false).await;
        eprintln!("loaded 1M codes in {:.1}s", started.elapsed().as_secs_f64());
        let _warm = latencies(&b, &fresh[..50]).await;
        let (l50, l99) = latencies(&b, &fresh[50..350]).await;
        println!(
            "| redemption with 1,000,000 codes in the table, p50 / p99 µs | {l50:.0} / {l99:.0} |"
        );
        println!(
            "| **ratio 1M / 1k** p50 / p99 (goal ≤ 1.5) | **{:.2} / {:.2}** |",
            l50 / s50,
            l99 / s99
        );

        // Throughput: concurrent redemptions against the bare route.
        let pool: Arc<Vec<String>> = Arc::new(add_codes(&b, 80_000, true).await);
        let next = Arc::new(AtomicUsize::new(0));
        let b = Arc::new(b);
        let bare_url = format!("http://{bare_addr}/bare");
        let http = b.http.clone();
        let bare_rps = throughput(4, move || {
            let (http, url) = (http.clone(), bare_url.clone());
            async move {
                http.get(&url).send().await.unwrap().bytes().await.unwrap();
                true
            }
        })
        .await;
        let redeem_rps = redeem_throughput(&b, &pool, &next).await;
        println!("| bare poem route, req/s ({CONCURRENCY} clients) | {bare_rps:.0} |");
        println!("| redemptions, req/s ({CONCURRENCY} clients) | {redeem_rps:.0} |");
        println!(
            "| **ratio redemptions / bare** | **{:.3}** |",
            redeem_rps / bare_rps
        );

        // The ledger's cost: the same redemptions with its append and
        // without, alternated off, on, off… so that every round with the
        // ledger sits between two without it. The machine drifts over a
        // run (the tables and the log grow); comparing each round with
        // the mean of its two neighbours cancels a steady drift, where
        // comparing the means of all rounds would charge it to whichever
        // ran later.
        let mut rounds = Vec::new();
        for round in 0..11_usize {
            let on = !round.is_multiple_of(2);
            portico_tenants::ledger::set_appending_for_benchmarks(on);
            let rps = redeem_throughput(&b, &pool, &next).await;
            let start = next.fetch_add(300, Ordering::Relaxed);
            let (p50, p99) = latencies(&b, &pool[start..start + 300]).await;
            eprintln!(
                "round {round}, ledger {}: {rps:.0} req/s, p50 {p50:.0} µs, p99 {p99:.0} µs",
                if on { "on" } else { "off" }
            );
            rounds.push([rps, p50, p99]);
        }
        portico_tenants::ledger::set_appending_for_benchmarks(true);
        let mean_of = |pick: &dyn Fn(usize) -> bool, field: usize| {
            let picked: Vec<f64> = (0..rounds.len())
                .filter(|i| pick(*i))
                .map(|i| rounds[i][field])
                .collect();
            picked.iter().sum::<f64>() / picked.len() as f64
        };
        let bracketed = |field: usize| {
            let ratios: Vec<f64> = (1..rounds.len() - 1)
                .step_by(2)
                .map(|i| rounds[i][field] / ((rounds[i - 1][field] + rounds[i + 1][field]) / 2.0))
                .collect();
            ratios.iter().sum::<f64>() / ratios.len() as f64
        };
        let off = |i: usize| i.is_multiple_of(2);
        let on = |i: usize| !i.is_multiple_of(2);
        println!(
            "| redemptions without the ledger (6 rounds), req/s · p50 / p99 µs | {:.0} · {:.0} / {:.0} |",
            mean_of(&off, 0),
            mean_of(&off, 1),
            mean_of(&off, 2)
        );
        println!(
            "| redemptions with the ledger (5 rounds), req/s · p50 / p99 µs | {:.0} · {:.0} / {:.0} |",
            mean_of(&on, 0),
            mean_of(&on, 1),
            mean_of(&on, 2)
        );
        println!(
            "| **ledger overhead on throughput**, each round against its neighbours (goal < 10%) | **{:.1}%** |",
            (1.0 - bracketed(0)) * 100.0
        );
        println!(
            "| ratio with / without, p50 / p99 | {:.2} / {:.2} |",
            bracketed(1),
            bracketed(2)
        );
    });
}
