//! What the tests that run the real `portico` binary share.

// Each test binary includes this module and uses a part of it.
#![allow(dead_code)]

use sqlx::Connection;

/// True under CI, where a test whose parts are missing fails instead of
/// skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Says that `test` cannot run here for want of `what`, and passes;
/// under `CI=true` fails instead.
pub fn skip(test: &str, what: &str) {
    assert!(!in_ci(), "CI=true, but {test} needs {what}");
    eprintln!("SKIPPED: {test} needs {what}; it runs under CI=true");
}

pub fn postgres_admin_url() -> String {
    std::env::var("PORTICO_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A PostgreSQL database of the test's own, dropped however the test ends.
pub struct Scratch {
    admin: String,
    name: String,
    pub url: String,
}

impl Scratch {
    /// A new database named after `label`; `None` (skipped, see [`skip`])
    /// when PostgreSQL cannot be reached.
    pub async fn create(test: &str, label: &str) -> Option<Self> {
        let admin = postgres_admin_url();
        let name = format!("portico_{label}_{}", uuid::Uuid::new_v4().simple());
        let created = async {
            let mut conn = sqlx::PgConnection::connect(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
        }
        .await;
        if let Err(err) = created {
            skip(test, &format!("PostgreSQL at {admin} ({err})"));
            return None;
        }
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        Some(Self { admin, name, url })
    }
}

/// The server's address and the demo owner's password, from what it
/// prints when it starts.
pub fn demo_clinic(stdout: std::process::ChildStdout) -> (String, String) {
    use std::io::BufRead;
    let mut base = None;
    let mut lines = std::io::BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Portico is serving at ") {
            base = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(password) = line.trim().strip_prefix("password:") {
            let password = password.trim().to_owned();
            // The rest of the output is not needed, but must be drained.
            std::thread::spawn(move || lines.for_each(drop));
            return (base.expect("the address comes first"), password);
        }
    }
    panic!("the server printed no demo credentials")
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Its own runtime: the test's may be gone, or panicking.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
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
}
