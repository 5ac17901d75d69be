//! `portico synthetic load`, run as an operator runs it, against a
//! PostgreSQL database of the test's own:
//!
//! - interrupted with Ctrl-C, it stops after the batch under way, leaving
//!   whole clinics only; run again, it finishes, with every total exact;
//! - what it wrote reads back through the server's own code: each
//!   clinic's audit trail verifies against its log;
//! - it refuses a database that holds a clinic it did not make.
//!
//! Needs PostgreSQL on 127.0.0.1:5432: without it the test says so and
//! passes, except under `CI=true`, where it fails.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use portico_server::synthetic::Sizes;
use sqlx::Connection;

const TEST: &str = "the synthetic-load test";
const CODE_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

const SIZES: Sizes = Sizes {
    clinics: 1_000,
    patients: 20_000,
    codes: 15_000,
    audit_events: 100_000,
    largest_clinic_patients: 1_000,
};

fn portico(database_url: &str, data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portico"));
    command
        .env("DATABASE_URL", database_url)
        .env("PORTICO_CODE_KEY", CODE_KEY)
        .env("PORTICO_DATA_DIR", data_dir)
        .env("PORTICO_LOG", "warn");
    command
}

fn load_args() -> Vec<String> {
    [
        ("--clinics", SIZES.clinics.to_string()),
        ("--patients", SIZES.patients.to_string()),
        ("--codes", SIZES.codes.to_string()),
        ("--audit-events", SIZES.audit_events.to_string()),
        (
            "--largest-clinic-patients",
            SIZES.largest_clinic_patients.to_string(),
        ),
        ("--password", "synthetic test passphrase".to_owned()),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_owned(), value])
    .collect()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

async fn counts(url: &str) -> [i64; 6] {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let mut out = [0; 6];
    for (i, table) in [
        "tenants",
        "patients",
        "access_codes",
        "audit_events",
        "audit_ledger_size",
        // Every log due a first head, for the hourly job to find.
        "audit_heads_due WHERE grown = 1",
    ]
    .iter()
    .enumerate()
    {
        out[i] = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut conn)
            .await
            .unwrap();
    }
    out
}

fn expected(clinics: u32) -> [i64; 6] {
    let rows = SIZES.first(clinics);
    [
        i64::from(clinics),
        rows.patients as i64,
        rows.codes as i64,
        rows.audit_events as i64,
        i64::from(clinics),
        i64::from(clinics),
    ]
}

#[test]
fn an_interrupted_load_leaves_whole_clinics_and_a_second_run_finishes_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(scratch) = runtime.block_on(support::Scratch::create(TEST, "synthetic")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // Ctrl-C once the first batch is in.
    let mut first = portico(&scratch.url, dir.path())
        .args(["synthetic", "load"])
        .args(load_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut progress = BufReader::new(first.stderr.take().unwrap()).lines();
    let first_batch = progress
        .by_ref()
        .map(Result::unwrap)
        .find(|line| line.starts_with("clinics "))
        .expect("the load reports its progress");
    assert!(
        first_batch.starts_with("clinics 50 of 1000 (5%)"),
        "{first_batch}"
    );
    let interrupted = Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let rest: Vec<String> = progress.map(Result::unwrap).collect();
    let out = first.wait_with_output().unwrap();
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}\n{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.starts_with("stopping after the batch")),
        "{rest:?}"
    );
    let stopped_at: u32 = said
        .strip_prefix("stopped with ")
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the load says where it stopped: {said}"));
    assert!(
        (50..SIZES.clinics).contains(&stopped_at) && stopped_at.is_multiple_of(50),
        "{said}"
    );
    assert_eq!(
        runtime.block_on(counts(&scratch.url)),
        expected(stopped_at),
        "whole clinics only: every table holds exactly the clinics committed"
    );

    // The same command again finishes the load.
    let second = portico(&scratch.url, dir.path())
        .args(["synthetic", "load"])
        .args(load_args())
        .output()
        .unwrap();
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).starts_with("loaded 1000 synthetic clinics"),
        "{}",
        text(&second.stdout)
    );
    assert_eq!(
        runtime.block_on(counts(&scratch.url)),
        expected(SIZES.clinics)
    );
    assert_eq!(
        expected(SIZES.clinics)[1..4],
        [20_000, 15_000, 100_000],
        "the totals asked for"
    );

    // The server's own reading of the trails: the largest clinic, one
    // from the interrupted run and one from the second.
    for slug in ["synthetic-00000", "synthetic-00007", "synthetic-00999"] {
        let verified = portico(&scratch.url, dir.path())
            .args(["audit", "verify", "--tenant", slug])
            .output()
            .unwrap();
        assert!(
            verified.status.success(),
            "{slug}: {}{}",
            text(&verified.stdout),
            text(&verified.stderr)
        );
        assert!(
            text(&verified.stdout).contains("verifies"),
            "{}",
            text(&verified.stdout)
        );
    }
    let largest = portico(&scratch.url, dir.path())
        .args(["audit", "verify", "--tenant", "synthetic-00000"])
        .output()
        .unwrap();
    assert!(
        text(&largest.stdout).contains(&format!("{} events", SIZES.clinic(0).audit_events)),
        "{}",
        text(&largest.stdout)
    );
}

#[test]
fn a_database_with_a_real_clinic_is_refused() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(scratch) = runtime.block_on(support::Scratch::create(TEST, "synthetic")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let created: Output = portico(&scratch.url, dir.path())
        .args([
            "tenant",
            "create",
            "--slug",
            "north",
            "--name",
            "North Clinic",
        ])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", text(&created.stderr));
    let refused = portico(&scratch.url, dir.path())
        .args(["synthetic", "load"])
        .args(load_args())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("1 clinic(s) this command did not make"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        runtime.block_on(counts(&scratch.url))[0],
        1,
        "nothing loaded"
    );
}
