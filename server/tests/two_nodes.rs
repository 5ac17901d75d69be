//! Two `portico` processes on one PostgreSQL database behind Debian's
//! nginx, configured with the very snippet docs/deploy.md ships
//! (`docs/deploy/nginx/portico-proxy.conf`): the deployment the docs
//! describe, tried from outside.
//!
//! - The nodes trust one proxy hop: an address a client writes into
//!   `X-Forwarded-For` is not the one recorded.
//! - A logout made through the proxy holds on both nodes within a second;
//!   so does a suspension.
//! - A mail is delivered once, though both nodes run the mail worker.
//! - Node A is killed under load: node B goes on serving, only the
//!   requests in flight at the kill fail, and nothing is half-written.
//!
//! Needs nginx (Debian's `nginx`, which `.ci/run` installs) and PostgreSQL
//! on 127.0.0.1:5432: without either it says so and passes, except under
//! `CI=true`, where it fails.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

const WITHIN: Duration = Duration::from_secs(1);

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process that is killed when dropped, whatever the test did.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Node {
    process: Running,
    port: u16,
    data: PathBuf,
}

impl Node {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn mail_dir(&self) -> PathBuf {
        self.data.join("mail")
    }
}

/// Starts a node; returns it with the demo owner's password when it
/// created the demo clinic.
fn start_node(
    database_url: &str,
    code_key: &str,
    data: PathBuf,
    demo: bool,
) -> (Node, Option<String>) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .env("PORTICO_LISTEN", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env("PORTICO_DATA_DIR", &data)
        .env("PORTICO_CODE_KEY", code_key)
        .env("PORTICO_TRUST_PROXY", "true")
        .env("PORTICO_TRUSTED_PROXY_HOPS", "1")
        .env("PORTICO_DEMO", if demo { "true" } else { "false" })
        .env("PORTICO_MAIL_POLL_MS", "100")
        .env("PORTICO_LOG", "warn")
        .env_remove("PORTICO_PLUGIN_FIXTURES")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("portico starts");
    let stdout = child.stdout.take().unwrap();
    let password = if demo {
        Some(support::demo_clinic(stdout).1)
    } else {
        std::thread::spawn(move || {
            use std::io::Read;
            let mut sink = Vec::new();
            let _ = { stdout }.read_to_end(&mut sink);
        });
        None
    };
    (
        Node {
            process: Running(child),
            port,
            data,
        },
        password,
    )
}

/// nginx in the foreground, with the shipped proxy snippet in front of
/// both nodes.
fn start_nginx(binary: &Path, dir: &Path, nodes: &[&Node]) -> (Running, u16) {
    let port = free_port();
    let snippet = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/deploy/nginx/portico-proxy.conf")
        .canonicalize()
        .unwrap();
    let servers: String = nodes
        .iter()
        .map(|n| {
            format!(
                "    server 127.0.0.1:{} max_fails=1 fail_timeout=5s;\n",
                n.port
            )
        })
        .collect();
    let d = dir.display();
    // The upstream and the listening server are the test's; the proxying
    // is the shipped snippet, unchanged.
    let conf = format!(
        "daemon off;
worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream portico {{
{servers}    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    include {snippet};
  }}
}}
",
        snippet = snippet.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx starts");
    (Running(child), port)
}

async fn wait_ready(http: &reqwest::Client, url: &str) {
    let started = Instant::now();
    loop {
        if let Ok(resp) = http.get(url).send().await
            && resp.status() == StatusCode::OK
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{url} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asks until `holds` says yes, failing after a second.
async fn holds_within(what: &str, mut holds: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if holds().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < WITHIN,
            "{what}: still not so after {WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn json_of(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

#[test]
fn two_nodes_behind_nginx_share_one_database() {
    const TEST: &str = "the two-node test";
    let Some(nginx) = nginx_binary() else {
        return support::skip(TEST, "nginx (Debian's package `nginx`)");
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(scratch) = runtime.block_on(support::Scratch::create(TEST, "two_nodes")) else {
        return;
    };
    runtime.block_on(the_stories(nginx, scratch.url.clone()));
}

async fn the_stories(nginx: PathBuf, database_url: String) {
    let dir = tempfile::tempdir().unwrap();
    let code_key = portico_tenants::codes::CodeKey::generate().to_hex();
    // A first, alone, so that one node makes the demo clinic.
    let (a, password) = start_node(&database_url, &code_key, dir.path().join("a"), true);
    let password = password.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    wait_ready(&http, &a.url("/readyz")).await;
    let (b, _) = start_node(&database_url, &code_key, dir.path().join("b"), false);
    wait_ready(&http, &b.url("/readyz")).await;
    let proxy_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&proxy_dir).unwrap();
    let (_nginx, proxy_port) = start_nginx(&nginx, &proxy_dir, &[&a, &b]);
    let proxy = move |path: &str| format!("http://127.0.0.1:{proxy_port}/t/demo{path}");
    wait_ready(&http, &format!("http://127.0.0.1:{proxy_port}/readyz")).await;
    let owner_email = portico_server::demo::DEMO_OWNER_EMAIL;

    // The address a client writes in is not believed: the proxy's view is.
    let refused = http
        .post(proxy("/api/v1/auth/tokens"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"email": owner_email, "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let login = || async {
        let body = json_of(
            http.post(proxy("/api/v1/auth/tokens"))
                .json(&json!({"email": owner_email, "password": password}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        body["token"].as_str().unwrap().to_owned()
    };
    let token = login().await;
    let audit = json_of(
        http.get(proxy("/api/v1/audit?action=staff.login&outcome=failure"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let ips: Vec<_> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ip"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ips, ["127.0.0.1"], "{audit}");

    // A logout through the proxy holds on both nodes.
    let on = |node: &Node, path: &str| node.url(&format!("/t/demo{path}"));
    let status = async |url: String, token: &str| {
        http.get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };
    for node in [&a, &b] {
        assert_eq!(
            status(on(node, "/api/v1/staff"), &token).await,
            StatusCode::OK
        );
    }
    let logout = http
        .post(proxy("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success(), "logout: {}", logout.status());
    for node in [&a, &b] {
        holds_within("the logout holds on each node", async || {
            status(on(node, "/api/v1/staff"), &token).await == StatusCode::UNAUTHORIZED
        })
        .await;
    }

    // A mail is delivered once, though both nodes run the mail worker.
    let token = login().await;
    let send = async |method: reqwest::Method, path: &str, body: Value| {
        json_of(
            http.request(method, proxy(path))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let patient = send(
        reqwest::Method::POST,
        "/api/v1/patients",
        json!({"full_name": "Noor Haddad", "date_of_birth": "1984-02-11", "email": "noor@example.org", "home_zip": "90210"}),
    )
    .await;
    let patient = patient["id"].as_str().unwrap().to_owned();
    send(
        reqwest::Method::PUT,
        &format!("/api/v1/patients/{patient}/portal-access"),
        json!({"enabled": true}),
    )
    .await;
    send(
        reqwest::Method::POST,
        "/api/v1/auth/step-up",
        json!({"password": password}),
    )
    .await;
    for _ in 0..3 {
        send(
            reqwest::Method::POST,
            &format!("/api/v1/patients/{patient}/access-codes"),
            json!({"delivery": "email"}),
        )
        .await;
    }
    let mails_to = |recipient: &str| -> usize {
        [&a, &b]
            .iter()
            .flat_map(|n| {
                std::fs::read_dir(n.mail_dir())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .filter(|e| {
                std::fs::read_to_string(e.path())
                    .is_ok_and(|text| text.contains(&format!("To: {recipient}")))
            })
            .count()
    };
    let waited = Instant::now();
    while mails_to("noor@example.org") < 3 {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "three mails were not delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both workers have had time to take each mail again, had they done so.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(mails_to("noor@example.org"), 3, "each mail once");

    // A suspension holds on both nodes.
    let operator = operator_token(&database_url, &code_key);
    let operate = async |action: &str| {
        let url = format!("http://127.0.0.1:{proxy_port}/api/operator/v1/tenants/demo/{action}");
        json_of(
            http.post(url)
                .bearer_auth(&operator)
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    operate("suspend").await;
    for node in [&a, &b] {
        holds_within("the suspension holds on each node", async || {
            status(on(node, "/api/v1/clinic"), &token).await == StatusCode::FORBIDDEN
        })
        .await;
    }
    operate("resume").await;
    for node in [&a, &b] {
        holds_within("the clinic is back on each node", async || {
            status(on(node, "/api/v1/clinic"), &token).await == StatusCode::OK
        })
        .await;
    }

    kill_a_under_load(a, &b, &http, &proxy, &token, &database_url).await;
}

fn operator_token(database_url: &str, code_key: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["operator-token", "--name", "two-nodes"])
        .env("DATABASE_URL", database_url)
        .env("PORTICO_CODE_KEY", code_key)
        .env("PORTICO_DEMO", "false")
        .env("PORTICO_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.rsplit(' ').next().unwrap().trim().to_owned()
}

/// One request a load client made: when it started and ended, and
/// whether it worked.
struct Attempt {
    started: Instant,
    ended: Instant,
    ok: bool,
    created: Option<String>,
}

async fn kill_a_under_load(
    mut a: Node,
    b: &Node,
    http: &reqwest::Client,
    proxy: &(impl Fn(&str) -> String + Sync),
    token: &str,
    database_url: &str,
) {
    const READERS: usize = 6;
    const WRITERS: usize = 2;
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..READERS + WRITERS {
        let writes = client >= READERS;
        let http = http.clone();
        let token = token.to_owned();
        let url = proxy(if writes {
            "/api/v1/patients"
        } else {
            "/api/v1/staff"
        });
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let mut attempts = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let started = Instant::now();
                let req = if writes {
                    http.post(&url).json(&json!({
                        "full_name": format!("Load {client} {n}"),
                        "date_of_birth": "1990-01-01",
                    }))
                } else {
                    http.get(&url)
                };
                let answer = req
                    .bearer_auth(&token)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let (ok, created) = match answer {
                    Ok(resp) if resp.status().is_success() => {
                        let body: Value = resp.json().await.unwrap_or(Value::Null);
                        (true, body["id"].as_str().map(str::to_owned))
                    }
                    _ => (false, None),
                };
                attempts.push(Attempt {
                    started,
                    ended: Instant::now(),
                    ok,
                    created,
                });
            }
            attempts
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = Instant::now();
    a.process.0.kill().unwrap();
    let _ = a.process.0.wait();
    // Its sockets are closed now; until then it was still answering.
    let dead_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut attempts = Vec::new();
    for client in clients {
        attempts.extend(client.await.unwrap());
    }
    let failed: Vec<_> = attempts.iter().filter(|a| !a.ok).collect();
    let after_kill = attempts
        .iter()
        .filter(|a| a.started > killed_at && a.ok)
        .count();
    eprintln!(
        "{} requests, {} failed, {after_kill} served after node A was killed",
        attempts.len(),
        failed.len()
    );
    // Only requests in flight at the kill fail: those under way between
    // the signal and the moment A was gone. nginx learns that A's
    // kept-alive connections closed on its next turn of the event loop, so
    // a request it took in that instant counts as in flight too.
    let noticed = dead_at + Duration::from_millis(50);
    for attempt in &failed {
        assert!(
            attempt.started <= noticed && attempt.ended >= killed_at,
            "a request that was not in flight at the kill failed ({:?} after it)",
            attempt.started.saturating_duration_since(killed_at)
        );
    }
    assert!(failed.len() <= 2 * (READERS + WRITERS));
    assert!(after_kill > 50, "node B served only {after_kill} requests");
    let ready = http.get(b.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "node B is still up");

    // Nothing half-written: each patient created has its audit event,
    // every one a client saw created is there, and none is there twice.
    let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
    let orphans: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM patients p
          WHERE NOT EXISTS (SELECT 1 FROM audit_events e
                             WHERE e.tenant_id = p.tenant_id AND e.action = 'patient.create'
                               AND e.outcome = 'success' AND e.target LIKE '%' || p.id || '%')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        orphans, 0,
        "a patient without the audit event of its creation"
    );
    let twice: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT full_name FROM patients WHERE full_name LIKE 'Load %'
                                GROUP BY full_name HAVING COUNT(*) > 1) doubled",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(twice, 0, "a write was made twice");
    for attempt in attempts.iter().filter(|a| a.created.is_some()) {
        let id = attempt.created.as_deref().unwrap();
        let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM patients WHERE id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(found, 1, "patient {id} was answered as created");
    }
}
