//! A plugin author's local loop with the `portico` binary: `plugin run`
//! on the repository's built plugins, and the whole path from `plugin new`
//! through a native `cargo test`, `plugin build` and `plugin run`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> String {
    let dir = std::env::var_os("PORTICO_PLUGIN_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/fixtures"));
    dir.join(format!("{name}.wasm")).display().to_string()
}

fn portico(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(args)
        .current_dir(dir)
        .env("PORTICO_DATA_DIR", dir)
        .env("PORTICO_LOG", "warn")
        // The harness's own variable is no setting of the server's.
        .env_remove("PORTICO_PLUGIN_FIXTURES")
        .output()
        .expect("the binary runs")
}

/// The JSON report and the exit code.
fn report(out: &Output) -> (Value, i32) {
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (json, out.status.code().unwrap_or(-1))
}

#[test]
fn run_takes_the_clinics_settings_and_writes_the_rendered_mail() {
    let dir = tempfile::tempdir().unwrap();
    let rules = fixture("email-domain-rules");
    // The sample input refuses gmail.com; the given settings replace its own.
    let (sample, code) = report(&portico(
        dir.path(),
        &["plugin", "run", &rules, "--hook", "check-email"],
    ));
    assert_eq!(
        (code, sample["output"]["decision"].as_str()),
        (0, Some("deny")),
        "{sample}"
    );
    let (allowed, _) = report(&portico(
        dir.path(),
        &[
            "plugin",
            "run",
            &rules,
            "--hook",
            "check-email",
            "--settings",
            "refused_domains=yahoo.com",
        ],
    ));
    assert_eq!(allowed["output"]["decision"], "allow", "{allowed}");
    let file = dir.path().join("settings.json");
    std::fs::write(&file, r#"{"refused_domains": "gmail.com"}"#).unwrap();
    let (from_file, _) = report(&portico(
        dir.path(),
        &[
            "plugin",
            "run",
            &rules,
            "--hook",
            "check-portal-access",
            "--settings-file",
            "settings.json",
        ],
    ));
    assert_eq!(from_file["output"]["decision"], "deny", "{from_file}");
    // Every call shows its share of the instruction budget.
    let (used, limit) = (
        from_file["fuel_used"].as_f64().unwrap(),
        from_file["fuel_limit"].as_f64().unwrap(),
    );
    assert!(used > 0.0 && limit >= used, "{from_file}");
    let percent = from_file["fuel_percent"].as_f64().unwrap();
    assert!(
        (percent - used * 100.0 / limit).abs() <= 0.006,
        "{from_file}"
    );

    // A setting named as no activation would take it is refused.
    let bad = portico(
        dir.path(),
        &[
            "plugin",
            "run",
            &rules,
            "--hook",
            "check-email",
            "--settings",
            "Refused=x",
        ],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("lowercase letters"),
        "{bad:?}"
    );

    let (mail, code) = report(&portico(
        dir.path(),
        &[
            "plugin",
            "run",
            &fixture("branded-email"),
            "--hook",
            "render-email",
            "--settings",
            "signature=Dr Ames",
            "--html",
            "mail.html",
        ],
    ));
    assert_eq!(code, 0, "{mail}");
    let html = std::fs::read_to_string(dir.path().join("mail.html")).unwrap();
    assert_eq!(html, mail["output"]["html"].as_str().unwrap());
    assert!(html.contains("Dr Ames"), "{html}");

    // A panic is told with its place; a refused component exits 2.
    let (crash, code) = report(&portico(
        dir.path(),
        &[
            "plugin",
            "run",
            &fixture("crash"),
            "--hook",
            "check-redemption",
        ],
    ));
    assert_eq!(code, 1);
    assert!(
        crash["detail"]
            .as_str()
            .unwrap()
            .starts_with("the plugin panicked at "),
        "{crash}"
    );
    let (snoop, code) = report(&portico(
        dir.path(),
        &["plugin", "run", &fixture("snoop"), "--hook", "check-email"],
    ));
    assert_eq!(
        (code, snoop["refused"].as_str()),
        (2, Some("plugin_import_refused"))
    );
}

/// Whether this machine can build for wasm32-wasip2; CI must.
fn can_build_components() -> bool {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("wasm32-wasip2"));
    if !installed {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must build plugins: run `rustup target add wasm32-wasip2`"
        );
        eprintln!(
            "SKIPPED: the wasm32-wasip2 target is not installed (rustup target add wasm32-wasip2)"
        );
    }
    installed
}

fn cargo_test(crate_dir: &Path, target: &Path) -> String {
    let out = Command::new(env!("CARGO"))
        .args(["test", "--quiet"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn a_new_plugin_tests_builds_and_runs_on_the_first_try() {
    if !can_build_components() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // One target folder for both crates: the SDK's bindings build once.
    let target = dir.path().join("target");
    let author = |args: &[&str], cwd: &Path| {
        Command::new(env!("CARGO_BIN_EXE_portico"))
            .args(args)
            .current_dir(cwd)
            .env("PORTICO_DATA_DIR", dir.path())
            .env("PORTICO_LOG", "warn")
            .env_remove("PORTICO_PLUGIN_FIXTURES")
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap()
    };
    for (name, kind) in [("clinic-rule", "verifier"), ("clinic-mail", "email")] {
        let made = author(&["plugin", "new", name, "--kind", kind], dir.path());
        assert!(made.status.success(), "{made:?}");
        let crate_dir = dir.path().join(name);

        let tested = cargo_test(&crate_dir, &target);
        assert!(
            tested.contains("2 passed"),
            "the scaffold's own tests ran: {tested}"
        );

        let (built, code) = report(&author(&["plugin", "build"], &crate_dir));
        assert_eq!(code, 0, "{built}");
        assert_eq!(built["admitted"], true);
        assert_eq!(
            built["interface_version"], "3.0.0",
            "a new plugin is written against the newest interface"
        );
        let component = built["component"].as_str().unwrap().to_owned();
        assert!(
            built["size_bytes"].as_u64().unwrap() < 256 * 1024,
            "{built}"
        );

        match kind {
            "verifier" => {
                let (run, code) = report(&author(
                    &[
                        "plugin",
                        "run",
                        &component,
                        "--hook",
                        "check-email",
                        "--input",
                        "sample-inputs/check-email.json",
                        "--settings",
                        "refused_domains=gmail.com",
                    ],
                    &crate_dir,
                ));
                assert_eq!(code, 0, "{run}");
                assert_eq!(run["output"]["decision"], "deny", "{run}");
                assert_eq!(
                    run["log"]["lines"][0]["message"],
                    "refused an address at gmail.com"
                );
                watch_follows_an_edit(&crate_dir, &target);
            }
            _ => {
                let (run, code) = report(&author(
                    &[
                        "plugin",
                        "run",
                        &component,
                        "--hook",
                        "render-email",
                        "--settings",
                        "signature=The front desk",
                        "--html",
                        "mail.html",
                    ],
                    &crate_dir,
                ));
                assert_eq!(code, 0, "{run}");
                let html = std::fs::read_to_string(crate_dir.join("mail.html")).unwrap();
                assert!(
                    html.contains("The front desk")
                        && html.contains("#code=apple-brave-cider-delta"),
                    "{html}"
                );
            }
        }
    }
}

/// `plugin watch` builds and runs, then again after a save: the second
/// report carries the edited refusal.
fn watch_follows_an_edit(crate_dir: &Path, target: &Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args([
            "plugin",
            "watch",
            "--hook",
            "check-email",
            "--settings",
            "refused_domains=gmail.com",
        ])
        .current_dir(crate_dir)
        .env("PORTICO_DATA_DIR", crate_dir)
        .env("PORTICO_LOG", "warn")
        .env_remove("PORTICO_PLUGIN_FIXTURES")
        .env("CARGO_TARGET_DIR", target)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, reports) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for report in serde_json::Deserializer::from_reader(stdout).into_iter::<Value>() {
            let Ok(report) = report else { break };
            if sender.send(report).is_err() {
                break;
            }
        }
    });
    let within = std::time::Duration::from_secs(300);
    let first = reports.recv_timeout(within).expect("a first report");
    assert_eq!(
        first["output"]["reason"], "Please use an address the clinic accepts.",
        "{first}"
    );
    let lib = crate_dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    // File times have a coarse grain on some filesystems.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(
        &lib,
        source.replace(
            "Please use an address the clinic accepts.",
            "That address is not accepted here.",
        ),
    )
    .unwrap();
    let second = reports
        .recv_timeout(within)
        .expect("a report after the edit");
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(
        second["output"]["reason"], "That address is not accepted here.",
        "{second}"
    );
}
