//! The test harness: every test gets its own database and its own server on
//! a random port, built by the same `Application::build` as production, and
//! talks to it over HTTP.
//!
//! Each scenario runs on both engines through [`both_engines!`]. The
//! PostgreSQL runs need a server on 127.0.0.1:5432 (trust auth, user
//! `postgres`; override with `PORTICO_TEST_POSTGRES`). Without one they say
//! so and skip, except under `CI=true`, where they fail.

pub mod browser;
pub mod relay;
pub mod smtp;
pub mod soft_passkey;

use std::sync::OnceLock;

use portico_server::config::Config;
use portico_server::startup::Application;
use portico_tenants::Services;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs each test body once per engine, as `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! both_engines {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some($app) = $crate::TestApp::spawn($crate::Engine::Sqlite).await else { return };
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some($app) = $crate::TestApp::spawn($crate::Engine::Postgres).await else { return };
                    $body
                }
            )*
        }
    };
}

pub fn postgres_admin_url() -> String {
    std::env::var("PORTICO_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Creates a database for one test, migrated: a copy of the template
/// database (see [`postgres_template`]); `None` when PostgreSQL is not
/// reachable outside CI.
async fn create_postgres_database() -> Option<(String, String)> {
    let admin = postgres_admin_url();
    let mut conn = match sqlx::PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(err) if !in_ci() => {
            static SAID: OnceLock<()> = OnceLock::new();
            SAID.get_or_init(|| {
                eprintln!("SKIPPED: PostgreSQL tests need a server at {admin} ({err}); they run under CI=true");
            });
            return None;
        }
        Err(err) => panic!("CI=true but PostgreSQL is not reachable at {admin}: {err}"),
    };
    let template = postgres_template(&admin).await;
    let name = format!("portico_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE {template}"
    )))
    .execute(&mut conn)
    .await
    .expect("create test database from the template");
    Some((name.clone(), database_url(&admin, &name)))
}

fn database_url(admin: &str, name: &str) -> String {
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    format!("{base}/{name}")
}

/// The name of a database migrated from empty by the server's own
/// migrations, from which each test's database is copied
/// (`CREATE DATABASE … TEMPLATE`), as crates.io's test harness does: the
/// suite migrates once instead of once per test. The name carries a hash of
/// the migrations, so a changed or added migration makes a fresh template;
/// templates of other migrations are dropped a day after they were built,
/// when not in use.
async fn postgres_template(admin: &str) -> String {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("portico_template_{:016x}", migrations_hash());
            let mut conn = sqlx::PgConnection::connect(admin)
                .await
                .expect("PostgreSQL for the template");
            // One builder at a time across test processes.
            sqlx::query("SELECT pg_advisory_lock(7252026)")
                .execute(&mut conn)
                .await
                .unwrap();
            let exists: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                    .bind(&name)
                    .fetch_optional(&mut conn)
                    .await
                    .unwrap();
            if exists.is_none() {
                // Built under another name and renamed when whole, so a
                // half-migrated template is never copied.
                let building = format!("{name}_building");
                for sql in [
                    format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
                    format!("CREATE DATABASE {building}"),
                ] {
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await
                        .unwrap();
                }
                let settings = portico_tenants::storage::DatabaseSettings::Postgres {
                    url: database_url(admin, &building),
                    max_connections: 2,
                    acquire_timeout: std::time::Duration::from_secs(30),
                };
                portico_tenants::storage::migrate_only(&settings)
                    .await
                    .expect("migrating the template database");
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                for sql in [
                    format!("ALTER DATABASE {building} RENAME TO {name}"),
                    format!("COMMENT ON DATABASE {name} IS 'built {now}'"),
                ] {
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await
                        .unwrap();
                }
                // Templates of other migrations may serve a run of other
                // code at this very moment (another checkout, a CI run on
                // the same machine): only those built more than a day ago
                // go.
                let stale: Vec<(String, Option<String>)> = sqlx::query_as(
                    "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database
                      WHERE datname LIKE 'portico_template_%' AND datname <> $1",
                )
                .bind(&name)
                .fetch_all(&mut conn)
                .await
                .unwrap();
                for (old, comment) in stale {
                    let built = comment
                        .as_deref()
                        .and_then(|c| c.strip_prefix("built "))
                        .and_then(|t| t.parse::<u64>().ok())
                        .unwrap_or(0);
                    if now.saturating_sub(built) < 24 * 3600 {
                        continue;
                    }
                    // In use by another run of older code: leave it.
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {old}"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            }
            sqlx::query("SELECT pg_advisory_unlock(7252026)")
                .execute(&mut conn)
                .await
                .unwrap();
            name
        })
        .await
        .clone()
}

/// A hash of the PostgreSQL migrations' names and contents.
fn migrations_hash() -> u64 {
    use std::hash::{Hash, Hasher};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the migrations folder")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in files {
        file.file_name().hash(&mut hasher);
        std::fs::read(&file).unwrap().hash(&mut hasher);
    }
    hasher.finish()
}

fn drop_postgres_database(name: String) {
    // Drop runs outside any runtime the test may still be using.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
            }
        });
    })
    .join();
}

/// A running server with its own database.
pub struct TestApp {
    pub engine: Engine,
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub client: reqwest::Client,
    pub operator_token: String,
    /// Where `/metrics` is served, when the test asked for it.
    pub metrics_address: Option<String>,
    pub services: Services,
    pub database_url: Option<String>,
    /// The access-code key, shared with any sibling server.
    pub code_key: String,
    pg_database: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _data_dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> Option<Self> {
        Self::spawn_with(engine, |_| {}).await
    }

    /// Like [`spawn`](Self::spawn), with a chance to adjust the
    /// configuration (short session lifetimes, say).
    pub async fn spawn_with(engine: Engine, adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (pg_database, database_url) = match engine {
            Engine::Sqlite => (None, None),
            Engine::Postgres => {
                let (name, url) = create_postgres_database().await?;
                (Some(name), Some(url))
            }
        };
        let code_key = portico_tenants::codes::CodeKey::generate().to_hex();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.path().to_owned(),
            database_url: database_url.clone(),
            demo: false,
            // Many tests log in at once; keep the suite quick on two cores.
            hash_concurrency: Some(2),
            code_key: Some(code_key.clone()),
            // Every test client is 127.0.0.1; the test of these budgets
            // sets them low.
            registration_max_per_address: 1000,
            registration_mails_per_recipient: 1000,
            ..Config::default()
        };
        adjust(&mut config);
        let app = Application::build(config).await.expect("server starts");
        let address = format!("http://{}", app.addr());
        let metrics_address = app.metrics_addr().map(|a| format!("http://{a}"));
        let services = app.services().clone();
        let operator_token = services
            .create_operator_token("test-operator")
            .await
            .expect("operator token")
            .expose()
            .to_owned();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run(async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        Some(Self {
            engine,
            address,
            client: reqwest::Client::builder()
                .user_agent("portico-tests/1.0")
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            operator_token,
            metrics_address,
            services,
            database_url,
            code_key,
            pg_database,
            shutdown: Some(tx),
            server: Some(server),
            _data_dir: data_dir,
        })
    }

    /// A second server process on the same PostgreSQL database, as when
    /// several nodes share one; it stops when dropped.
    pub async fn sibling(&self, adjust: impl FnOnce(&mut Config)) -> Sibling {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.path().to_owned(),
            database_url: self.database_url.clone(),
            demo: false,
            hash_concurrency: Some(2),
            code_key: Some(self.code_key.clone()),
            ..Config::default()
        };
        adjust(&mut config);
        let app = Application::build(config).await.expect("sibling starts");
        let services = app.services().clone();
        let address = format!("http://{}", app.addr());
        let server = tokio::spawn(async move {
            let _ = app.run(std::future::pending()).await;
        });
        Sibling {
            address,
            services,
            server,
            _data_dir: data_dir,
        }
    }

    /// Stops the server abruptly, as a killed process would: no graceful
    /// shutdown, work in flight is cut off.
    pub fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    /// `http://127.0.0.1:<port>/t/<slug><path>`
    pub fn tenant_url(&self, slug: &str, path: &str) -> String {
        format!("{}/t/{slug}{path}", self.address)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A direct connection to the test database, as its owner (bypassing
    /// the application's role and row-level security): for setting up
    /// states the API cannot reach quickly, such as an expired code, and
    /// for checking what is stored.
    pub async fn raw_connection(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        let url = match self.engine {
            Engine::Sqlite => format!("sqlite://{}", self.data_dir().join("portico.db").display()),
            Engine::Postgres => self
                .database_url
                .clone()
                .expect("a PostgreSQL app has its URL"),
        };
        sqlx::AnyConnection::connect(&url)
            .await
            .expect("raw connection")
    }

    pub async fn execute(&self, sql: &str) {
        let mut conn = self.raw_connection().await;
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
    }

    /// Queued mails of `kind` to `recipient`, oldest first: their payloads,
    /// with the sealed code or token opened as the mail worker opens it.
    pub async fn outbox(&self, kind: &str, recipient: &str) -> Vec<Value> {
        let mut conn = self.raw_connection().await;
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT id, tenant_id, payload FROM outbox WHERE kind = $1 AND recipient = $2 ORDER BY id",
        )
        .bind(kind.to_owned())
        .bind(recipient.to_owned())
        .fetch_all(&mut conn)
        .await
        .unwrap();
        rows.iter()
            .map(|(id, tenant, payload)| {
                let payload: Value = serde_json::from_str(payload).unwrap();
                // Sent already (the worker clears a payload once it is
                // delivered): the secret is in the mail it wrote.
                let payload = match payload.as_object() {
                    Some(members) if members.is_empty() => {
                        self.delivered_secret(id).unwrap_or(payload)
                    }
                    _ => payload,
                };
                portico_tenants::outbox::open_sealed_secrets(
                    &self.services.code_key,
                    portico_tenants::domain::TenantId::parse(tenant).unwrap(),
                    payload,
                )
                .expect("a queued mail's secrets open with the server's key")
            })
            .collect()
    }

    /// The text parts of the mails of `kind` to `recipient`, as the files
    /// transport wrote them (waiting up to 15 seconds for the worker).
    pub async fn delivered_texts(&self, kind: &str, recipient: &str) -> Vec<String> {
        let mut conn = self.raw_connection().await;
        let ids: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM outbox WHERE kind = $1 AND recipient = $2 ORDER BY id")
                .bind(kind.to_owned())
                .bind(recipient.to_owned())
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let mut texts = Vec::new();
        for (id,) in ids {
            let path = self._data_dir.path().join("mail").join(format!("{id}.eml"));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
            let raw = loop {
                if let Ok(raw) = std::fs::read(&path) {
                    break raw;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "mail {id} was not delivered"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            };
            let message = mail_parser::MessageParser::default()
                .parse(&raw[..])
                .expect("a mail");
            texts.push(message.body_text(0).unwrap_or_default().into_owned());
        }
        texts
    }

    /// The code or token in the link of mail `id` as the files transport
    /// wrote it, when it did.
    fn delivered_secret(&self, id: &str) -> Option<Value> {
        let raw =
            std::fs::read(self._data_dir.path().join("mail").join(format!("{id}.eml"))).ok()?;
        secret_in_mail(&raw)
    }

    /// Issues a Medical Records Access Code for `patient` as `by`; returns
    /// the code.
    pub async fn issue_code(&self, by: &Staff, patient: &str) -> String {
        by.step_up(self).await;
        let body = json_ok(
            by.post(
                self,
                &format!("/api/v1/patients/{patient}/access-codes"),
                json!({}),
            )
            .await,
        )
        .await;
        body["code"].as_str().unwrap().to_owned()
    }

    /// Redeems `code` into a new account; returns the logged-in patient.
    pub async fn redeem_new(
        &self,
        slug: &str,
        code: &str,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.tenant_url(slug, "/api/v1/portal/redeem"))
            .json(&json!({"code": code, "account": {"email": email, "password": password}}))
            .send()
            .await
            .unwrap()
    }

    /// Logs a patient in; panics unless it works.
    pub async fn patient_login(&self, slug: &str, login: &str, password: &str) -> Patient {
        let resp = self.try_patient_login(slug, login, password).await;
        Patient::from_response(slug, resp).await
    }

    pub async fn try_patient_login(
        &self,
        slug: &str,
        login: &str,
        password: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.tenant_url(slug, "/api/v1/portal/login"))
            .json(&json!({"login": login, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Creates a clinic through the operator API.
    pub async fn create_tenant(&self, slug: &str) -> Value {
        let resp = self
            .client
            .post(self.url("/api/operator/v1/tenants"))
            .bearer_auth(&self.operator_token)
            // Two-step sign-in is tested on its own; the other stories
            // sign staff in with a password.
            .json(&json!({
                "slug": slug,
                "display_name": format!("Clinic {slug}"),
                "require_staff_second_factor": false,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "creating tenant {slug}");
        resp.json().await.unwrap()
    }

    /// Suspends a clinic through the operator API; returns the clinic.
    pub async fn suspend_tenant(&self, slug: &str) -> Value {
        let resp = self
            .client
            .post(self.url(&format!("/api/operator/v1/tenants/{slug}/suspend")))
            .bearer_auth(&self.operator_token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "suspending tenant {slug}");
        resp.json().await.unwrap()
    }

    /// Creates a clinic and its owner; returns the owner, logged in.
    pub async fn clinic_with_owner(&self, slug: &str) -> Staff {
        self.create_tenant(slug).await;
        let email = format!("owner@{slug}.example.org");
        let resp = self
            .client
            .post(self.url(&format!("/api/operator/v1/tenants/{slug}/owners")))
            .bearer_auth(&self.operator_token)
            .json(&json!({ "email": email, "display_name": "Owner", "password": FIRST_PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "creating owner of {slug}");
        // The operator chose that password: the owner chooses `PASSWORD`
        // at the first login, as a real owner would.
        self.choose_own_password(slug, &email).await
    }

    /// Logs in with the password someone else chose and replaces it with
    /// `PASSWORD`, as the door asks before anything else.
    pub async fn choose_own_password(&self, slug: &str, email: &str) -> Staff {
        let staff = self.login_bearer(slug, email, FIRST_PASSWORD).await;
        let resp = staff
            .post(
                self,
                "/api/v1/auth/password",
                json!({"current_password": FIRST_PASSWORD, "new_password": PASSWORD}),
            )
            .await;
        assert!(
            resp.status().is_success(),
            "{email} chooses a password: {}",
            resp.status()
        );
        staff
    }

    /// Adds a staff member with `roles` as `by`, and logs them in. The
    /// first password a colleague gives must be replaced at the first
    /// login: they choose `PASSWORD`, as a new member of staff would.
    pub async fn add_staff(&self, by: &Staff, email: &str, roles: &[&str]) -> Staff {
        let resp = by
            .post(
                self,
                "/api/v1/staff",
                json!({
                    "email": email, "display_name": email, "password": FIRST_PASSWORD, "roles": roles
                }),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "adding staff {email}");
        self.choose_own_password(&by.slug, email).await
    }

    /// Logs in for a bearer token.
    pub async fn login_bearer(&self, slug: &str, email: &str, password: &str) -> Staff {
        let resp = self
            .try_login(slug, "/api/v1/auth/tokens", email, password)
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "logging in {email}");
        let body: Value = resp.json().await.unwrap();
        Staff {
            slug: slug.to_owned(),
            id: body["staff"]["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            token: body["token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn try_login(
        &self,
        slug: &str,
        path: &str,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.tenant_url(slug, path))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(name) = self.pg_database.take() {
            drop_postgres_database(name);
        }
    }
}

/// A second server on the same database; stops (abruptly) when dropped.
pub struct Sibling {
    /// `http://127.0.0.1:<port>`, where the sibling serves.
    pub address: String,
    /// The sibling's own services, for calling a job on it directly.
    pub services: Services,
    server: tokio::task::JoinHandle<()>,
    _data_dir: tempfile::TempDir,
}

impl Sibling {
    /// `http://127.0.0.1:<port>/t/<slug><path>` on the sibling.
    pub fn tenant_url(&self, slug: &str, path: &str) -> String {
        format!("{}/t/{slug}{path}", self.address)
    }
}

impl Drop for Sibling {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The password every test account starts with.
pub const PASSWORD: &str = "correct horse battery staple";
/// The first password a colleague gives a new member of staff.
pub const FIRST_PASSWORD: &str = "given at the front desk";

/// A logged-in staff member (bearer token) of clinic `slug`.
#[derive(Debug, Clone)]
pub struct Staff {
    pub slug: String,
    pub id: String,
    pub email: String,
    pub token: String,
}

impl Staff {
    /// Confirms the password again, as sending an access link requires.
    pub async fn step_up(&self, app: &TestApp) {
        let resp = self
            .post(app, "/api/v1/auth/step-up", json!({ "password": PASSWORD }))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "step-up of {}", self.email);
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.get_in(app, &self.slug, path).await
    }

    /// GET against another clinic's path, with this staff member's token.
    pub async fn get_in(&self, app: &TestApp, slug: &str, path: &str) -> reqwest::Response {
        app.client
            .get(app.tenant_url(slug, path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        self.send(app, reqwest::Method::PATCH, &self.slug, path, Some(body))
            .await
    }

    pub async fn put(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        self.send(app, reqwest::Method::PUT, &self.slug, path, Some(body))
            .await
    }

    pub async fn post(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        self.send(app, reqwest::Method::POST, &self.slug, path, Some(body))
            .await
    }

    pub async fn send(
        &self,
        app: &TestApp,
        method: reqwest::Method,
        slug: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = app
            .client
            .request(method, app.tenant_url(slug, path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }
    /// POST a multipart form (a file upload) in this staff member's clinic.
    pub async fn post_form(
        &self,
        app: &TestApp,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        app.client
            .post(app.tenant_url(&self.slug, path))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

/// A multipart form with text `fields` and, if given, a file part named
/// `file`.
pub fn file_form(
    fields: &[(&str, &str)],
    file: Option<(&str, Vec<u8>)>,
) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    if let Some((file_name, bytes)) = file {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
        );
    }
    form
}

/// Creates a patient with email and zip as `by`; returns its id.
pub async fn add_patient(app: &TestApp, by: &Staff, name: &str, email: &str) -> String {
    let body = json_ok(
        by.post(app, "/api/v1/patients", json!({
            "full_name": name, "date_of_birth": "1980-05-17", "email": email, "home_zip": "90210"
        }))
        .await,
    )
    .await;
    body["id"].as_str().unwrap().to_owned()
}

/// Creates a patient with portal access enabled; returns its id.
pub async fn add_enabled_patient(app: &TestApp, by: &Staff, name: &str, email: &str) -> String {
    let id = add_patient(app, by, name, email).await;
    let resp = by
        .put(
            app,
            &format!("/api/v1/patients/{id}/portal-access"),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(json_ok(resp).await["portal_access"], "enabled");
    id
}

/// A patient logged in to the portal with its cookie.
#[derive(Debug, Clone)]
pub struct Patient {
    pub slug: String,
    pub cookie: String,
    pub csrf: String,
    pub body: Value,
}

impl Patient {
    /// From a response that set the portal cookie (login or redeem).
    pub async fn from_response(slug: &str, resp: reqwest::Response) -> Self {
        let cookie = resp
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .unwrap_or_default();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "expected success: {status} {body}");
        assert!(
            cookie.starts_with("portico_portal="),
            "the portal cookie is set"
        );
        Self {
            slug: slug.to_owned(),
            cookie,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            body,
        }
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        app.client
            .get(app.tenant_url(&self.slug, path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        app.client
            .post(app.tenant_url(&self.slug, path))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// POST a multipart form (a file upload) with the CSRF header.
    pub async fn post_form(
        &self,
        app: &TestApp,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        app.client
            .post(app.tenant_url(&self.slug, path))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_json(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        app.client
            .put(app.tenant_url(&self.slug, path))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The names of the records the account holds now.
    pub async fn records(&self, app: &TestApp) -> Vec<String> {
        let me = json_ok(self.get(app, "/api/v1/portal/me").await).await;
        me["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["full_name"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Reads an error answer and checks its status and code.
pub async fn expect_error(resp: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let got = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "expected {status} {code}, got {got}: {body}");
    assert_eq!(body["code"], code, "expected code {code}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "errors carry a message: {body}"
    );
    body
}

pub async fn json_ok(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "expected 200: {body}");
    body
}

/// The code or token in the link of a raw mail, as `{"token": …}` or
/// `{"code": …}`.
pub fn secret_in_mail(raw: &[u8]) -> Option<Value> {
    let message = mail_parser::MessageParser::default().parse(raw)?;
    let text = message.body_text(0)?;
    ["token", "code"]
        .into_iter()
        .find_map(|name| {
            let at = text.find(&format!("#{name}="))? + name.len() + 2;
            let secret: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            Some(json!({ name: secret }))
        })
        // A sign-in code stands on a line of its own.
        .or_else(|| {
            text.lines()
                .map(str::trim)
                .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
                .map(|code| json!({ "code": code }))
        })
}

/// A plugin component built from this repository's sources: the fresh
/// build in `PORTICO_PLUGIN_FIXTURES` when set (as in `.ci/run`), else the
/// committed one in `plugins/fixtures/`.
pub fn plugin_fixture(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("PORTICO_PLUGIN_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/fixtures")
        });
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl TestApp {
    /// Uploads `wasm` as plugin `name` for `by`'s clinic.
    pub async fn upload_plugin(&self, by: &Staff, name: &str, wasm: Vec<u8>) -> reqwest::Response {
        self.client
            .post(self.tenant_url(&by.slug, "/api/v1/plugins"))
            .query(&[("name", name)])
            .bearer_auth(&by.token)
            .header("content-type", "application/octet-stream")
            .body(wasm)
            .send()
            .await
            .unwrap()
    }

    /// Uploads a fixture and activates it with `settings`; returns the
    /// version's id.
    pub async fn activate_plugin(&self, by: &Staff, fixture: &str, settings: Value) -> String {
        let uploaded = json_ok(
            self.upload_plugin(by, fixture, plugin_fixture(fixture))
                .await,
        )
        .await;
        let id = uploaded["id"].as_str().unwrap().to_owned();
        json_ok(
            by.post(
                self,
                &format!("/api/v1/plugins/{id}/activate"),
                json!({ "settings": settings }),
            )
            .await,
        )
        .await;
        id
    }
}

/// Seconds since the epoch, as the server's clock reads them.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The code an authenticator app shows at `unix_secs` for `secret`, the
/// key as the setup gives it (groups of four).
pub fn totp_code(secret: &str, unix_secs: u64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret.replace(' ', "")).expect("a base32 key");
    totp_rs::Builder::new()
        .with_secret(bytes)
        .build()
        .expect("a valid authenticator key")
        .generate(unix_secs)
        .to_string()
}

/// Waits out the last seconds of a 30-second step, so that a test's codes
/// all belong to the steps it means.
pub async fn clear_of_step_edge() {
    let into = unix_now() % 30;
    if into >= 26 {
        tokio::time::sleep(std::time::Duration::from_secs(31 - into)).await;
    }
}

/// An authenticator app set up for a staff member.
#[derive(Debug, Clone)]
pub struct Authenticator {
    pub factor_id: String,
    pub secret: String,
    /// Given with a first factor.
    pub recovery_codes: Vec<String>,
}

impl TestApp {
    /// Sets up an authenticator app for `staff` (who has none yet, or a
    /// fresh step-up), confirmed with the code of the step before now, so
    /// that codes of now and the next step are still theirs to use.
    pub async fn enrol_totp(&self, staff: &Staff, name: &str) -> Authenticator {
        clear_of_step_edge().await;
        let setup = json_ok(
            staff
                .post(self, "/api/v1/auth/factors/totp", json!({"name": name}))
                .await,
        )
        .await;
        let secret = setup["secret"].as_str().unwrap().to_owned();
        let factor_id = setup["factor_id"].as_str().unwrap().to_owned();
        let added = json_ok(
            staff
                .post(
                    self,
                    &format!("/api/v1/auth/factors/totp/{factor_id}/confirm"),
                    json!({"code": totp_code(&secret, unix_now() - 30)}),
                )
                .await,
        )
        .await;
        Authenticator {
            factor_id,
            secret,
            recovery_codes: added["recovery_codes"]
                .as_array()
                .map(|codes| {
                    codes
                        .iter()
                        .map(|c| c.as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The password step of a bearer login that asks for a second step:
    /// its pending token.
    pub async fn pending_login(&self, slug: &str, email: &str) -> String {
        let resp = self
            .try_login(slug, "/api/v1/auth/tokens", email, PASSWORD)
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::ACCEPTED,
            "{email}: a second step is asked"
        );
        let body: Value = resp.json().await.unwrap();
        assert!(
            body.get("token").is_none(),
            "no token before the second step: {body}"
        );
        body["pending_token"].as_str().unwrap().to_owned()
    }

    /// The second step of a bearer login.
    pub async fn second_step(&self, slug: &str, pending: &str, code: &str) -> reqwest::Response {
        self.client
            .post(self.tenant_url(slug, "/api/v1/auth/tokens/second-step"))
            .json(&json!({"pending_token": pending, "code": code}))
            .send()
            .await
            .unwrap()
    }
}

impl TestApp {
    /// The origin a browser reports for this server's pages when it is
    /// opened by name, as passkeys need (`localhost`, not `127.0.0.1`).
    pub fn named_origin(&self) -> String {
        self.address.replace("127.0.0.1", "localhost")
    }

    /// Adds a software passkey to `staff`'s account (who has no factor
    /// yet, or a fresh step-up).
    pub async fn enrol_passkey(&self, staff: &Staff, name: &str) -> soft_passkey::SoftPasskey {
        let options = json_ok(
            staff
                .post(self, "/api/v1/auth/passkeys/options", json!({}))
                .await,
        )
        .await;
        let (passkey, answer) =
            soft_passkey::SoftPasskey::register(&options["options"], &self.named_origin());
        json_ok(
            staff
                .post(
                    self,
                    "/api/v1/auth/passkeys",
                    json!({"ceremony_id": options["ceremony_id"], "name": name, "credential": answer}),
                )
                .await,
        )
        .await;
        passkey
    }
}
