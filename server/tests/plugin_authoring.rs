//! A plugin author's local loop with the `portico` binary: `plugin run`
//! on the repository's built plugins, and the whole path from `plugin new`
//! through a native `cargo test`, `plugin build` and `plugin run`.

mod support;

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
        let own_tests = if kind == "verifier" { 3 } else { 2 };
        assert!(
            tested.contains(&format!("{own_tests} passed; 0 failed")),
            "the scaffold's own tests ran: {tested}"
        );

        let (built, code) = report(&author(&["plugin", "build"], &crate_dir));
        assert_eq!(code, 0, "{built}");
        assert_eq!(built["admitted"], true);
        assert_eq!(
            built["interface_version"], "4.0.0",
            "a new plugin is written against the newest interface"
        );
        assert_eq!(built["manifest"]["declared"], true, "{built}");
        assert_eq!(
            built["manifest"]["reads"],
            serde_json::json!([if kind == "verifier" { "email" } else { "name" }]),
            "{built}"
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
                        && html.contains("#code=apple-brave-cider-delta")
                        && html.contains("until 28 November 2026 at 10:00 GMT"),
                    "{html}"
                );
                // A setting the plugin does not declare is refused here,
                // as activation would refuse it.
                let (refused, code) = report(&author(
                    &[
                        "plugin",
                        "run",
                        &component,
                        "--hook",
                        "render-email",
                        "--settings",
                        "colour=red",
                    ],
                    &crate_dir,
                ));
                assert_eq!(code, 2, "{refused}");
                assert_eq!(refused["refused"], "invalid_settings");
            }
        }
    }
    ships_to_a_running_clinic(dir.path(), &target);
}

/// The last steps of the journey against a real server: `plugin push`
/// uploads both crates to the demo clinic, dry-runs them there and
/// activates them with the clinic's settings; a mail the clinic then sends
/// is the plugin's, and a redemption obeys the rule.
fn ships_to_a_running_clinic(dir: &Path, target: &Path) {
    let data = dir.join("server-data");
    let mut server = Command::new(env!("CARGO_BIN_EXE_portico"))
        .current_dir(dir)
        .env("PORTICO_DATA_DIR", &data)
        .env("PORTICO_LISTEN", "127.0.0.1:0")
        .env("PORTICO_LOG", "warn")
        .env_remove("PORTICO_PLUGIN_FIXTURES")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (base, password) = support::demo_clinic(server.stdout.take().unwrap());
    let clinic = format!("{base}/t/demo");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{clinic}/api/v1{path}");
    let token = runtime.block_on(async {
        let answer: Value = http
            .post(api("/auth/tokens"))
            .json(&serde_json::json!({"email": portico_server::demo::DEMO_OWNER_EMAIL, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["token"].as_str().expect("a staff token").to_owned()
    });
    let push = |crate_name: &str, settings: &str| {
        Command::new(env!("CARGO_BIN_EXE_portico"))
            .args(["plugin", "push", "--clinic", &clinic, "--activate"])
            .args(["--settings", settings])
            .current_dir(dir.join(crate_name))
            .env("PORTICO_DATA_DIR", dir)
            .env("PORTICO_LOG", "warn")
            .env("PORTICO_TOKEN", &token)
            .env_remove("PORTICO_PLUGIN_FIXTURES")
            .env("CARGO_TARGET_DIR", target)
            .output()
            .unwrap()
    };
    let (pushed, code) = report(&push("clinic-rule", "refused_domains=gmail.com, yahoo.com"));
    assert_eq!(code, 0, "{pushed}");
    assert_eq!(
        pushed["plugin"]["manifest"]["reads"],
        serde_json::json!(["email"])
    );
    assert_eq!(pushed["dry_runs"].as_array().unwrap().len(), 3, "{pushed}");
    assert!(
        pushed["dry_runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|run| run["outcome"] == "ok"),
        "{pushed}"
    );
    // The activation holds the typed setting as the plugin reads it.
    assert_eq!(
        pushed["activated"]["settings"]["refused_domains"], "gmail.com\nyahoo.com",
        "{pushed}"
    );
    // A wrong setting is refused by the clinic, and nothing is activated.
    let (_, code) = report_or_error(&push("clinic-mail", "colour=red"));
    assert_ne!(code, 0);
    let (pushed, code) = report(&push("clinic-mail", "signature=The front desk at Demo"));
    assert_eq!(code, 0, "{pushed}");

    runtime.block_on(async {
        let staff = |request: reqwest::RequestBuilder| request.bearer_auth(&token);
        let ok = async |request: reqwest::RequestBuilder| -> Value {
            let response = staff(request).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{status}: {body}");
            body
        };
        let patient = ok(http.post(api("/patients")).json(&serde_json::json!({
            "full_name": "Nora Quill", "date_of_birth": "1985-02-11",
            "email": "nora@example.org", "home_zip": "02139"
        })))
        .await;
        let id = patient["id"].as_str().unwrap();
        // The rule is asked first, and lets an address it does not refuse
        // through.
        ok(http
            .put(api(&format!("/patients/{id}/portal-access")))
            .json(&serde_json::json!({"enabled": true})))
        .await;
        ok(http
            .post(api("/auth/step-up"))
            .json(&serde_json::json!({"password": password})))
        .await;
        let issued = ok(http
            .post(api(&format!("/patients/{id}/access-codes")))
            .json(&serde_json::json!({"delivery": "email"})))
        .await;
        let link = issued["access_link"].as_str().unwrap().to_owned();
        let code = issued["code"].as_str().unwrap().to_owned();

        // The mail the clinic sent is the plugin's, with its setting.
        let mail = wait_for_mail(&data.join("mail"), &link).await;
        assert!(mail.contains("The front desk at Demo"), "{mail}");
        assert!(
            mail.contains("Hello Nora Quill"),
            "the plugin reads the name: {mail}"
        );

        // The rule refuses an address at a refused domain, in its own
        // words, and lets another one through.
        let redeem = async |email: &str| {
            http.post(api("/portal/redeem"))
                .json(&serde_json::json!({
                    "code": code,
                    "account": {"email": email, "password": "a patient's own passphrase"},
                }))
                .send()
                .await
                .unwrap()
        };
        let refused = redeem("nora@gmail.com").await;
        assert_eq!(refused.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
        let refused: Value = refused.json().await.unwrap();
        assert_eq!(
            refused["message"], "That address is not accepted here.",
            "{refused}"
        );
        let accepted = redeem("nora@example.org").await;
        assert_eq!(accepted.status(), reqwest::StatusCode::CREATED);
    });
    server.kill().unwrap();
    let _ = server.wait();
}

/// The JSON report, or the error `portico` printed, and the exit code.
fn report_or_error(out: &Output) -> (String, i32) {
    (
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        out.status.code().unwrap_or(-1),
    )
}

/// The `.eml` in `dir` that carries `link`, once the mail worker wrote it.
async fn wait_for_mail(dir: &Path, link: &str) -> String {
    for _ in 0..200 {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            // Quoted-printable may wrap the link; its code is enough.
            let code = link.rsplit('=').next().unwrap_or(link);
            if text.contains(code) {
                return text;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no mail with {link} in {}", dir.display())
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
