//! Synthetic clinics for capacity tests: `portico synthetic load` fills a
//! PostgreSQL database with as many clinics, patients, codes and audit
//! events as asked (10,000 / 1,000,000 / 1,000,000 / 10,000,000 by
//! default), for measuring the server at a size no test database has.
//!
//! Rows go in with COPY, a batch of clinics per transaction, which is what
//! makes ten million events take minutes rather than hours. COPY is
//! refused on tables under row-level security, so the load needs a role
//! that bypasses it (a superuser, or one with BYPASSRLS); it says so rather
//! than failing halfway.
//!
//! A load is safe to interrupt and to run again: each batch commits whole
//! or not at all, the clinics are numbered, and a second run continues
//! after the last clinic committed. It refuses a database that holds any
//! clinic it did not make.

mod clinic;
mod copy_text;
mod sizes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use portico_tenants::codes::CodeKey;
use sqlx::{Connection, PgConnection};
use thiserror::Error;

pub use clinic::{STAFF, slug};
pub use sizes::{ClinicSize, Sizes, SizesError};

use clinic::{Batch, Shared, TABLES};

/// Every synthetic clinic's slug starts so.
pub const SLUG_PREFIX: &str = "synthetic-";

/// Clinics per transaction: large enough that COPY's per-statement cost
/// vanishes, small enough that an interruption loses seconds of work.
const CLINICS_PER_BATCH: u32 = 50;

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Sizes(#[from] SizesError),
    #[error("a synthetic load needs PostgreSQL; set database_url to a postgres:// address")]
    NotPostgres,
    #[error(
        "the database role {0:?} is subject to row-level security, and COPY is refused under it: \
         load as a superuser or as a role with BYPASSRLS"
    )]
    SubjectToRowSecurity(String),
    #[error(
        "the database holds {0} clinic(s) this command did not make; load synthetic clinics only \
         into a database of their own"
    )]
    RealClinics(i64),
    #[error(
        "the database holds {clinics} synthetic clinics with {found} patients, but these sizes \
         give those clinics {expected}: it was loaded with other sizes, so load into a fresh \
         database or repeat the first run's options"
    )]
    OtherSizes {
        clinics: u32,
        found: i64,
        expected: u64,
    },
    #[error(
        "the database holds {0} synthetic clinics, more than the {1} asked for; ask for at least {0}"
    )]
    MoreThanAsked(u32, u32),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Where a load stands, reported after every batch.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub clinics_done: u32,
    pub clinics: u32,
    /// Rows this run has written so far (not counting a resumed run's
    /// earlier ones).
    pub rows: u64,
    pub elapsed: Duration,
    /// Clinics that were already there when this run began.
    pub resumed_from: u32,
}

impl Progress {
    /// The time still to go, from this run's pace so far.
    pub fn remaining(&self) -> Option<Duration> {
        let done = self.clinics_done - self.resumed_from;
        (done > 0).then(|| {
            self.elapsed
                .mul_f64(f64::from(self.clinics - self.clinics_done) / f64::from(done))
        })
    }
}

/// How a load ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every clinic is in, and the planner's statistics are fresh.
    Complete,
    /// Stopped when asked, after the batch under way committed.
    Stopped { clinics_done: u32 },
}

/// What a load needs besides its sizes.
pub struct LoadInputs<'a> {
    pub database_url: &'a str,
    pub code_key: &'a CodeKey,
    /// The Argon2id hash every synthetic staff member and account gets.
    pub password_hash: &'a str,
    pub sizes: Sizes,
}

/// Loads the clinics `inputs.sizes` asks for that are not there yet,
/// reporting after each batch, and stopping after the batch under way when
/// `stop` is set.
pub async fn load(
    inputs: LoadInputs<'_>,
    stop: &AtomicBool,
    mut progress: impl FnMut(Progress),
) -> Result<Ending, LoadError> {
    let sizes = inputs.sizes.check()?;
    if !inputs.database_url.starts_with("postgres") {
        return Err(LoadError::NotPostgres);
    }
    let mut conn = PgConnection::connect(inputs.database_url).await?;
    let (role, bypasses): (String, bool) = sqlx::query_as(
        "SELECT rolname::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut conn)
    .await?;
    if !bypasses {
        return Err(LoadError::SubjectToRowSecurity(role));
    }
    let done = clinics_already_loaded(&mut conn, &sizes).await?;

    let started = Instant::now();
    let now_ms = portico_tenants::domain::Timestamp::now().unix_millis();
    // The next batch is built on a blocking thread while this one is
    // written: hashing and formatting is CPU work, and so is PostgreSQL's
    // side of COPY, so the two share the machine's cores.
    let build = |first: u32| {
        let last = (first + CLINICS_PER_BATCH).min(sizes.clinics);
        let key = inputs.code_key.clone();
        let hash = inputs.password_hash.to_owned();
        tokio::task::spawn_blocking(move || {
            let shared = Shared {
                code_key: &key,
                password_hash: &hash,
                now_ms,
            };
            let mut batch = Batch::new();
            for index in first..last {
                clinic::write(&mut batch, &shared, index, sizes.clinic(index));
            }
            (last, batch)
        })
    };
    let mut rows = 0u64;
    let mut next = (done < sizes.clinics).then(|| build(done));
    while let Some(building) = next.take() {
        let (last, batch) = building.await.expect("building a batch does not panic");
        if last < sizes.clinics {
            next = Some(build(last));
        }
        rows += write_batch(&mut conn, &batch).await?;
        progress(Progress {
            clinics_done: last,
            clinics: sizes.clinics,
            rows,
            elapsed: started.elapsed(),
            resumed_from: done,
        });
        if stop.load(Ordering::Relaxed) && last < sizes.clinics {
            return Ok(Ending::Stopped { clinics_done: last });
        }
    }
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    Ok(Ending::Complete)
}

/// How many synthetic clinics an earlier run committed, after checking
/// that the database holds nothing else and was loaded with these sizes.
async fn clinics_already_loaded(conn: &mut PgConnection, sizes: &Sizes) -> Result<u32, LoadError> {
    let pattern = format!("{SLUG_PREFIX}%");
    let (real, synthetic): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE slug NOT LIKE $1), count(*) FILTER (WHERE slug LIKE $1) FROM tenants",
    )
    .bind(&pattern)
    .fetch_one(&mut *conn)
    .await?;
    if real > 0 {
        return Err(LoadError::RealClinics(real));
    }
    let done = u32::try_from(synthetic).unwrap_or(u32::MAX);
    if done > sizes.clinics {
        return Err(LoadError::MoreThanAsked(done, sizes.clinics));
    }
    if done > 0 {
        let found: i64 = sqlx::query_scalar("SELECT count(*) FROM patients")
            .fetch_one(&mut *conn)
            .await?;
        let expected = sizes.first(done).patients;
        if u64::try_from(found).ok() != Some(expected) {
            return Err(LoadError::OtherSizes {
                clinics: done,
                found,
                expected,
            });
        }
    }
    Ok(done)
}

/// Writes a batch in one transaction: all of it, or (interrupted, or
/// failed) none.
async fn write_batch(conn: &mut PgConnection, batch: &Batch) -> Result<u64, LoadError> {
    let mut tx = conn.begin().await?;
    let mut rows = 0;
    for ((table, columns), data) in TABLES.iter().zip(&batch.tables) {
        if data.rows() == 0 {
            continue;
        }
        let mut copy = tx
            .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN"))
            .await?;
        copy.send(data.as_bytes()).await?;
        rows += copy.finish().await?;
    }
    tx.commit().await?;
    Ok(rows)
}
