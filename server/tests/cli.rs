//! The `portico` binary's operator commands, run as a person would, against
//! a SQLite data directory of their own.

use std::process::{Command, Output};

fn portico(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(args)
        .env("PORTICO_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env("PORTICO_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn operators_set_up_a_clinic_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let migrated = stdout(&portico(dir.path(), &["migrate"]));
    assert!(migrated.contains("up to date"), "{migrated}");
    assert!(dir.path().join("portico.db").exists());

    stdout(&portico(
        dir.path(),
        &[
            "tenant",
            "create",
            "--slug",
            "north",
            "--name",
            "North Clinic",
        ],
    ));
    let listed = stdout(&portico(dir.path(), &["tenant", "list"]));
    assert!(listed.contains("north\tactive\tNorth Clinic"), "{listed}");

    let owner = stdout(&portico(
        dir.path(),
        &[
            "create-owner",
            "--tenant",
            "north",
            "--email",
            "owner@north.example.org",
            "--name",
            "Olive Owner",
        ],
    ));
    let password = owner
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password is printed");
    assert_eq!(password.len(), 20);

    let reset = stdout(&portico(
        dir.path(),
        &[
            "reset-password",
            "--tenant",
            "north",
            "--email",
            "owner@north.example.org",
            "--password",
            "a brand new passphrase",
        ],
    ));
    assert!(reset.contains("sessions have ended"), "{reset}");
    assert!(
        !reset.contains("password: "),
        "a given password is not echoed"
    );

    let cleared = stdout(&portico(
        dir.path(),
        &[
            "reset-second-factors",
            "--tenant",
            "north",
            "--email",
            "owner@north.example.org",
        ],
    ));
    assert!(
        cleared.contains("0 second factor(s) of owner@north.example.org removed"),
        "{cleared}"
    );
    let ghost = portico(
        dir.path(),
        &[
            "reset-second-factors",
            "--tenant",
            "north",
            "--email",
            "ghost@north.example.org",
        ],
    );
    assert!(!ghost.status.success());
    assert!(
        String::from_utf8_lossy(&ghost.stderr).contains("staff member not found"),
        "{}",
        String::from_utf8_lossy(&ghost.stderr)
    );

    stdout(&portico(
        dir.path(),
        &["tenant", "suspend", "--slug", "north"],
    ));
    assert!(stdout(&portico(dir.path(), &["tenant", "list"])).contains("north\tsuspended"));
    stdout(&portico(
        dir.path(),
        &["tenant", "resume", "--slug", "north"],
    ));

    let token = stdout(&portico(dir.path(), &["operator-token", "--name", "ops"]));
    assert!(token.contains("shown once"));

    // Refusals are clear and change nothing.
    let bad = portico(
        dir.path(),
        &["tenant", "create", "--slug", "Bad Slug", "--name", "X"],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("slug"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let missing = portico(
        dir.path(),
        &[
            "reset-password",
            "--tenant",
            "north",
            "--email",
            "ghost@north.example.org",
        ],
    );
    assert!(!missing.status.success());
    assert_eq!(
        stdout(&portico(dir.path(), &["tenant", "list"]))
            .lines()
            .count(),
        1
    );
}

#[test]
fn unknown_configuration_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portico"))
        .arg("migrate")
        .env("PORTICO_DATA_DIR", dir.path())
        .env("PORTICO_LISTN", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listn"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn migrating_shows_each_migration_and_a_second_run_has_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let migrations =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite"))
            .unwrap()
            .count();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_portico"))
            .arg("migrate")
            .env("PORTICO_DATA_DIR", dir.path())
            .env_remove("DATABASE_URL")
            .env("PORTICO_LOG", "info")
            .env("PORTICO_LOG_FORMAT", "pretty")
            .output()
            .expect("the binary runs")
    };
    let first = run();
    assert!(first.status.success());
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(
        log.contains(&format!("migration 1 of {migrations}: foundation")),
        "{log}"
    );
    assert!(
        log.contains(&format!("migration {migrations} of {migrations} applied")),
        "{log}"
    );
    let again = run();
    assert!(again.status.success());
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(
        !log.contains("migration 1 of"),
        "nothing left to run: {log}"
    );
}
