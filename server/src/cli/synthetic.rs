//! `portico synthetic load`: the capacity-test load, with its progress on
//! standard error and Ctrl-C finishing the batch under way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, Subcommand};
use portico_tenants::auth::PasswordHasher;

use crate::config::Config;
use crate::synthetic::{self, Ending, LoadInputs, Progress, Sizes};

#[derive(Debug, Subcommand)]
pub enum SyntheticCommand {
    /// Fill a PostgreSQL database of its own with synthetic clinics, for
    /// capacity tests. Safe to interrupt (Ctrl-C) and to run again: it
    /// continues where the last run stopped.
    Load(LoadArgs),
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[arg(long, default_value_t = Sizes::PLATFORM.clinics)]
    clinics: u32,
    /// Patients across every clinic.
    #[arg(long, default_value_t = Sizes::PLATFORM.patients)]
    patients: u64,
    /// Medical Records Access Codes across every clinic.
    #[arg(long, default_value_t = Sizes::PLATFORM.codes)]
    codes: u64,
    /// Audit events across every clinic.
    #[arg(long, default_value_t = Sizes::PLATFORM.audit_events)]
    audit_events: u64,
    /// The first clinic's patients; the others share the rest evenly.
    #[arg(long, default_value_t = Sizes::PLATFORM.largest_clinic_patients)]
    largest_clinic_patients: u64,
    /// Every synthetic staff member's and portal account's password;
    /// generated and printed when not given.
    #[arg(long)]
    password: Option<String>,
}

pub async fn load(config: &Config, args: LoadArgs) -> anyhow::Result<()> {
    let sizes = Sizes {
        clinics: args.clinics,
        patients: args.patients,
        codes: args.codes,
        audit_events: args.audit_events,
        largest_clinic_patients: args.largest_clinic_patients,
    }
    .check()?;
    let database_url = config
        .database_url
        .clone()
        .ok_or(synthetic::LoadError::NotPostgres)?;
    let (password, generated) = super::password_or_generated(args.password)?;
    let hash = PasswordHasher::new(1).hash(&password).await?;
    portico_tenants::storage::migrate_only(&config.database()?).await?;

    let stop = Arc::new(AtomicBool::new(false));
    tokio::spawn({
        let stop = stop.clone();
        async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping after the batch under way commits…");
                stop.store(true, Ordering::Relaxed);
            }
        }
    });
    eprintln!(
        "loading {} clinics, {} patients, {} codes and {} audit events…",
        sizes.clinics, sizes.patients, sizes.codes, sizes.audit_events
    );
    let ending = synthetic::load(
        LoadInputs {
            database_url: &database_url,
            code_key: &config.code_key()?,
            password_hash: hash.as_str(),
            sizes,
        },
        &stop,
        report,
    )
    .await?;
    match ending {
        Ending::Complete => {
            println!(
                "loaded {} synthetic clinics; staff sign in as {}@{}.example (also {}), patients as patient0, patient3, …",
                sizes.clinics,
                synthetic::STAFF[0].1,
                synthetic::slug(0),
                synthetic::STAFF[1..]
                    .iter()
                    .map(|(_, local)| *local)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Some(p) = generated {
                println!("their password: {p}");
            }
        }
        Ending::Stopped { clinics_done } => {
            println!(
                "stopped with {clinics_done} of {} clinics loaded; run the same command again to continue",
                sizes.clinics
            );
            if let Some(p) = generated {
                println!(
                    "the clinics loaded so far have the password {p}; pass it with --password when you continue"
                );
            }
        }
    }
    Ok(())
}

fn report(p: Progress) {
    let remaining = p
        .remaining()
        .map(|d| format!(", about {} s to go", d.as_secs()))
        .unwrap_or_default();
    eprintln!(
        "clinics {} of {} ({}%), {} rows in {:.0} s{remaining}",
        p.clinics_done,
        p.clinics,
        u64::from(p.clinics_done) * 100 / u64::from(p.clinics.max(1)),
        p.rows,
        p.elapsed.as_secs_f64()
    );
}
