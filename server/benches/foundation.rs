//! Foundation benchmarks, reported as ratios against a baseline measured in
//! the same run (see docs/performance.md):
//!
//! 1. throughput of an authenticated, permission-checked tenant read
//!    (`GET /api/v1/staff`) against a bare poem route;
//! 2. p50/p99 of a casbin permission check, answered by the enforcer and
//!    from the decision cache;
//! 3. latency of that read during a storm of 50 concurrent logins, against
//!    its idle latency.
//!
//! Run with `cargo bench -p portico-server --bench foundation`. Set
//! `PORTICO_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres` to
//! measure on PostgreSQL as well.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, Server, get, handler};
use portico_server::config::Config;
use portico_server::startup::Application;
use portico_tenants::audit::ClientInfo;
use portico_tenants::domain::{
    Action, BuiltinRole, DisplayName, EmailAddress, NewPassword, Permission, Resource, RoleName,
    Slug,
};
use portico_tenants::operators::Operator;
use serde_json::json;

const PASSWORD: &str = "benchmark passphrase 1";
const CONCURRENCY: usize = 16;
const ROUND: Duration = Duration::from_secs(4);

#[handler]
fn bare() -> &'static str {
    "ok"
}

struct Target {
    label: String,
    /// The ratio read / bare the issue asks of this engine.
    goal: f64,
    database_url: Option<String>,
    app_base: String,
    services: portico_tenants::Services,
    _dir: tempfile::TempDir,
}

async fn start(label: &str, goal: f64, database_url: Option<String>) -> Target {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        database_url: database_url.clone(),
        // Required on PostgreSQL, where nodes share it.
        code_key: Some(portico_tenants::codes::CodeKey::generate().to_hex()),
        demo: false,
        // The timing comparison below fails many logins on purpose.
        login_max_failures_per_account: u32::MAX,
        login_max_failures_per_ip: u32::MAX,
        ..Config::default()
    };
    let app = Application::build(config).await.expect("server starts");
    let base = format!("http://{}", app.addr());
    let services = app.services().clone();
    tokio::spawn(app.run(std::future::pending()));
    // A clinic with an owner and a few colleagues.
    let op = Operator {
        name: "bench".into(),
    };
    let client = ClientInfo::default();
    let tenant = services
        .create_tenant(
            &op,
            &Slug::parse("bench").unwrap(),
            &DisplayName::parse("n", "Bench Clinic").unwrap(),
            None,
            false,
            &client,
        )
        .await
        .unwrap();
    // Set up as the demo is, by the server itself: the passwords are the
    // staff's own (one an operator chose must be changed at login).
    let operator = portico_tenants::Caller::system(tenant.clone());
    services
        .staff_create(
            &operator,
            &EmailAddress::parse("owner@bench.example.org").unwrap(),
            &DisplayName::parse("n", "Owner").unwrap(),
            &NewPassword::parse(PASSWORD.into()).unwrap(),
            &[portico_tenants::domain::RoleName::parse("owner").unwrap()],
        )
        .await
        .unwrap();
    for i in 0..4 {
        services
            .staff_create(
                &operator,
                &EmailAddress::parse(&format!("staff{i}@bench.example.org")).unwrap(),
                &DisplayName::parse("n", &format!("Staff {i}")).unwrap(),
                &NewPassword::parse(PASSWORD.into()).unwrap(),
                &[RoleName::builtin(BuiltinRole::FrontDesk)],
            )
            .await
            .unwrap();
    }
    Target {
        label: label.into(),
        goal,
        database_url,
        app_base: base,
        services,
        _dir: dir,
    }
}

async fn token(http: &reqwest::Client, base: &str, email: &str) -> String {
    let body: serde_json::Value = http
        .post(format!("{base}/t/bench/api/v1/auth/tokens"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["token"].as_str().expect("login works").to_owned()
}

/// Requests per second with `CONCURRENCY` clients for `ROUND`.
async fn throughput(http: &reqwest::Client, url: &str, bearer: Option<&str>, status: u16) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + ROUND;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, url, bearer, done) = (
            http.clone(),
            url.to_owned(),
            bearer.map(str::to_owned),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop {
                let mut req = http.get(&url);
                if let Some(b) = &bearer {
                    req = req.bearer_auth(b);
                }
                let resp = req.send().await.unwrap();
                assert_eq!(resp.status(), status);
                resp.bytes().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / ROUND.as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Latencies of `n` sequential reads.
async fn read_latencies(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
    n: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let resp = http.get(url).bearer_auth(bearer).send().await.unwrap();
        assert!(resp.status().is_success());
        resp.bytes().await.unwrap();
        out.push(started.elapsed());
    }
    out.sort();
    out
}

async fn run(target: Target, bare_url: &str) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let base = &target.app_base;
    let bearer = token(&http, base, "owner@bench.example.org").await;
    let read_url = format!("{base}/t/bench/api/v1/staff");

    println!("\n## {}\n", target.label);

    // 1. Throughput, alternating so drift affects both alike.
    let _warm = throughput(&http, &read_url, Some(&bearer), 200).await;
    let mut bare_rps = Vec::new();
    let mut read_rps = Vec::new();
    for _ in 0..2 {
        bare_rps.push(throughput(&http, bare_url, None, 200).await);
        read_rps.push(throughput(&http, &read_url, Some(&bearer), 200).await);
    }
    let best = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    let (b, r) = (best(&bare_rps), best(&read_rps));
    println!("| measure | value |\n|---|---|");
    println!("| bare poem route, req/s ({CONCURRENCY} clients) | {b:.0} |");
    println!("| GET /api/v1/staff (bearer, casbin check, read), req/s | {r:.0} |");
    println!(
        "| **ratio read / bare** (goal ≥ {}) | **{:.2}** |",
        target.goal,
        r / b
    );
    // Where a read's time goes: each step adds one part of the request.
    let nothing = throughput(&http, &format!("{base}/t/bench/api/v1/nothing"), None, 404).await;
    let clinic = throughput(
        &http,
        &format!("{base}/t/bench/api/v1/clinic"),
        Some(&bearer),
        200,
    )
    .await;
    println!("| + clinic resolved, routed, 404 (`/api/v1/nothing`), req/s | {nothing:.0} |");
    println!("| + session and permission, no read (`/api/v1/clinic`), req/s | {clinic:.0} |");
    println!("| + one read of the staff list (`/api/v1/staff`), req/s | {r:.0} |");
    if let Some(url) = &target.database_url
        && let Some(tps) = pgbench_select_only(url).await
    {
        println!("| `pgbench -S` on the same machine ({CONCURRENCY} clients), tx/s | {tps:.0} |");
        println!("| ratio read / `pgbench -S` | {:.2} |", r / tps);
    }

    // 2. casbin checks: answered by the enforcer (first time for a
    //    subject) and from the decision cache.
    let tenant = target.services.find_tenant("bench").await.unwrap();
    let members = staff_ids(&target, &tenant).await;
    let perms: Vec<Permission> = Resource::ALL
        .iter()
        .flat_map(|r| Action::ALL.iter().map(move |a| Permission::new(*r, *a)))
        .collect();
    let mut enforcer = Vec::new();
    let mut cached = Vec::new();
    for round in 0..200 {
        target.services.authz.invalidate(tenant.id).await;
        // Load the tenant's enforcer outside the timed section.
        target
            .services
            .authz
            .is_allowed(&tenant, members[0], perms[0])
            .await
            .unwrap();
        for (i, id) in members.iter().enumerate() {
            let p = perms[(round + i) % perms.len()];
            let t = Instant::now();
            target
                .services
                .authz
                .is_allowed(&tenant, *id, p)
                .await
                .unwrap();
            enforcer.push(t.elapsed());
            let t = Instant::now();
            target
                .services
                .authz
                .is_allowed(&tenant, *id, p)
                .await
                .unwrap();
            cached.push(t.elapsed());
        }
    }
    enforcer.sort();
    cached.sort();
    println!(
        "| casbin check by the enforcer, p50 / p99 µs ({} checks) | {:.1} / {:.1} |",
        enforcer.len(),
        micros(percentile(&enforcer, 0.5)),
        micros(percentile(&enforcer, 0.99))
    );
    println!(
        "| casbin check from the decision cache, p50 / p99 µs | {:.1} / {:.1} |",
        micros(percentile(&cached, 0.5)),
        micros(percentile(&cached, 0.99))
    );

    // 2b. A login for an unknown email must cost what a wrong password does.
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    for i in 0..40 {
        for (email, out) in [
            (format!("nobody{i}@bench.example.org"), &mut unknown),
            ("staff1@bench.example.org".to_owned(), &mut wrong),
        ] {
            let t = Instant::now();
            let resp = http
                .post(format!("{base}/t/bench/api/v1/auth/tokens"))
                .json(&json!({"email": email, "password": "not the password"}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 401);
            out.push(t.elapsed());
        }
    }
    unknown.sort();
    wrong.sort();
    let (u, w) = (percentile(&unknown, 0.5), percentile(&wrong, 0.5));
    println!(
        "| failed login p50, unknown email / wrong password ms | {:.1} / {:.1} (ratio {:.2}) |",
        u.as_secs_f64() * 1e3,
        w.as_secs_f64() * 1e3,
        u.as_secs_f64() / w.as_secs_f64()
    );

    // 3. Read latency idle, then during 50 concurrent logins.
    let idle = read_latencies(&http, &read_url, &bearer, 2_000).await;
    let storming = Arc::new(AtomicBool::new(true));
    let logins = Arc::new(AtomicU64::new(0));
    let mut storm = Vec::new();
    for _ in 0..50 {
        let (http, base, storming, logins) =
            (http.clone(), base.clone(), storming.clone(), logins.clone());
        storm.push(tokio::spawn(async move {
            while storming.load(Ordering::Relaxed) {
                token(&http, &base, "staff0@bench.example.org").await;
                logins.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let storm_started = Instant::now();
    let during = read_latencies(&http, &read_url, &bearer, 2_000).await;
    let storm_secs = storm_started.elapsed().as_secs_f64();
    storming.store(false, Ordering::Relaxed);
    for t in storm {
        t.await.unwrap();
    }
    let (i50, i99) = (percentile(&idle, 0.5), percentile(&idle, 0.99));
    let (d50, d99) = (percentile(&during, 0.5), percentile(&during, 0.99));
    println!(
        "| read latency idle, p50 / p99 µs | {:.0} / {:.0} |",
        micros(i50),
        micros(i99)
    );
    println!(
        "| read latency during 50 concurrent logins, p50 / p99 µs | {:.0} / {:.0} |",
        micros(d50),
        micros(d99)
    );
    println!(
        "| logins completed during the storm, per second | {:.1} |",
        logins.load(Ordering::Relaxed) as f64 / (storm_secs + 0.5)
    );
    println!(
        "| **ratio p99 storm / p99 idle** (goal ≤ 3) | **{:.2}** |",
        d99.as_secs_f64() / i99.as_secs_f64()
    );
}

/// What PostgreSQL itself does on this machine: `pgbench -S` (one indexed
/// read per transaction) with as many clients as the HTTP rounds, in a
/// scratch schema of the bench's database. `None` without pgbench.
async fn pgbench_select_only(url: &str) -> Option<f64> {
    let run = |args: &[&str]| {
        std::process::Command::new("pgbench")
            .args(args)
            .arg(url)
            .output()
            .ok()
            .filter(|out| out.status.success())
    };
    run(&["-i", "-q", "-s", "1"])?;
    let clients = CONCURRENCY.to_string();
    let seconds = ROUND.as_secs().to_string();
    let out = run(&["-S", "-n", "-c", &clients, "-j", "2", "-T", &seconds])?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The ids of the bench clinic's staff, through the public service API.
async fn staff_ids(
    target: &Target,
    tenant: &portico_tenants::registry::Tenant,
) -> Vec<portico_tenants::domain::StaffId> {
    let issued = target
        .services
        .staff_login(
            &portico_tenants::Caller::visitor(tenant.clone(), ClientInfo::default()),
            &EmailAddress::parse("owner@bench.example.org").unwrap(),
            &portico_tenants::domain::PlainPassword::new(PASSWORD.into()).unwrap(),
            portico_tenants::staff::SessionKind::Bearer,
        )
        .await
        .unwrap();
    let portico_tenants::acts::staff::StaffLogin::Signed(issued) = issued else {
        panic!("the bench clinic requires no second factor");
    };
    let who = target
        .services
        .staff_caller(tenant.clone(), &issued.token, ClientInfo::default())
        .await
        .unwrap();
    target
        .services
        .staff_list(&who)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let bare_addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        tokio::spawn(Server::new_with_acceptor(acceptor).run(Route::new().at("/bare", get(bare))));
        let bare_url = format!("http://{bare_addr}/bare");

        println!(
            "# Foundation benchmark ({} cores)",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        run(
            start("SQLite (embedded default)", 0.5, None).await,
            &bare_url,
        )
        .await;
        if let Ok(admin) = std::env::var("PORTICO_BENCH_POSTGRES") {
            let name = format!("portico_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
            run(start("PostgreSQL", 0.3, Some(url)).await, &bare_url).await;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
    });
}
