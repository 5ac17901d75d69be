//! A real headless Chromium, driven over WebDriver by a chromedriver this
//! module starts on a free port.
//!
//! Both come from Debian's `chromium` and `chromium-driver` packages, which
//! `.ci/run` installs. Where they are missing, [`Browser::launch`] says so and
//! the test skips, except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use thirtyfour::prelude::*;
use tokio::process::{Child, Command};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Flags for a sandboxed test machine: no GPU, no first-run dialogs, and no
/// background connections to Google, which a closed network refuses.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and one Chromium session with an empty profile.
    pub async fn launch() -> Option<Self> {
        if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but {CHROMIUM} or {CHROMEDRIVER} is missing; .ci/run installs them"
            );
            eprintln!(
                "SKIPPED: the browser tests need Debian's chromium and chromium-driver \
                 (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let port = free_port();
        let mut chromedriver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let server = format!("http://127.0.0.1:{port}");
        wait_until_ready(&server, &mut chromedriver).await;

        let profile = tempfile::tempdir().unwrap();
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(CHROMIUM).unwrap();
        for flag in CHROMIUM_FLAGS {
            caps.add_arg(flag).unwrap();
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))
            .unwrap();
        let driver = WebDriver::new(server, caps)
            .await
            .expect("a Chromium session");
        Some(Self {
            driver,
            chromedriver,
            _profile: profile,
        })
    }

    /// Ends the session and the browser. Call it at the end of a test; a
    /// test that panics first still has chromedriver's process group killed
    /// on drop.
    pub async fn close(mut self) {
        self.driver.clone().quit().await.ok();
        self.chromedriver.kill().await.ok();
    }

    /// The value of a form field, as the page's scripts left it.
    pub async fn field_value(&self, id: &str) -> String {
        let field = self.driver.find(By::Id(id)).await.unwrap();
        field.prop("value").await.unwrap().unwrap_or_default()
    }

    /// Types into a form field after clearing it.
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self.driver.find(By::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks a control that does not leave the page (a radio button, a
    /// checkbox).
    pub async fn choose(&self, css: &str) {
        self.driver
            .find(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Clicks the first element `css` selects (a link or a submit button)
    /// and waits for the page it loads.
    pub async fn click(&self, css: &str) {
        let before = self.driver.find(By::Tag("html")).await.unwrap();
        self.choose(css).await;
        for _ in 0..200 {
            if !before.is_present().await.unwrap_or(false) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        for _ in 0..200 {
            let ready = self
                .driver
                .execute("return document.readyState", Vec::new())
                .await
                .ok()
                .and_then(|r| r.json().as_str().map(|s| s == "complete"))
                .unwrap_or(false);
            if ready {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Logs in at the portal `portal` (its base address) from its login
    /// page, and waits for the page that follows.
    pub async fn portal_log_in(&self, portal: &str, login: &str, password: &str) {
        self.driver.goto(&format!("{portal}/login")).await.unwrap();
        self.fill("login", login).await;
        self.fill("password", password).await;
        self.click("main form button[type=submit]").await;
    }

    /// Logs out of the portal from the bar's button.
    pub async fn portal_log_out(&self) {
        self.click("form[action$='/portal/logout'] button[type=submit]")
            .await;
    }

    /// The visible text of the page's `main` element.
    pub async fn main_text(&self) -> String {
        match self.driver.find(By::Tag("main")).await {
            Ok(main) => main.text().await.unwrap(),
            Err(_) => panic!(
                "no page content at {}:\n{}",
                self.driver.current_url().await.unwrap(),
                self.driver.source().await.unwrap_or_default()
            ),
        }
    }

    /// Waits until the address bar shows `path` (form posts redirect).
    pub async fn wait_for_path(&self, path: &str) {
        for _ in 0..100 {
            if self.driver.current_url().await.unwrap().path() == path {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let shown = self.driver.source().await.unwrap_or_default();
        panic!(
            "the browser never reached {path}: {}\n{shown}",
            self.driver.current_url().await.unwrap()
        );
    }

    /// The page as a person meets it: checked for accessibility (see
    /// [`Browser::assert_accessible`]) and, when asked, pictured for the
    /// README (see [`Browser::screenshot`]).
    pub async fn checkpoint(&self, name: &str) {
        // The picture first: the keyboard walk moves the focus and scrolls.
        self.screenshot(name).await;
        self.assert_accessible(name).await;
    }

    /// Fails the test, listing every problem, unless the page passes the
    /// checks in `accessibility.js` (labels, names, alt text, language,
    /// headings, unique ids, contrast) and can be used from the keyboard:
    /// Tab reaches every control in reading order and each shows where the
    /// focus is.
    pub async fn assert_accessible(&self, page: &str) {
        let problems = self.accessibility_problems().await;
        assert!(
            problems.is_empty(),
            "{page} ({}) has accessibility problems:\n- {}",
            self.driver.current_url().await.unwrap(),
            problems.join("\n- ")
        );
    }

    /// Every accessibility problem of the page on show, as sentences.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        let found = self
            .driver
            .execute(include_str!("accessibility.js"), Vec::new())
            .await
            .unwrap_or_else(|e| panic!("the accessibility checks did not run: {e}"));
        let mut problems: Vec<String> = serde_json::from_value(found.json().clone()).unwrap();
        problems.extend(self.keyboard_problems().await);
        problems
    }

    /// Walks the page with the Tab key from the top and compares where the
    /// focus lands with the controls in reading order.
    async fn keyboard_problems(&self) -> Vec<String> {
        // Numbers every control Tab should reach, in document order. A
        // radio group is one stop (its checked button, or its first).
        let expected: Vec<String> = serde_json::from_value(
            self.driver
                .execute(
                    r#"
                    const stops = [];
                    const groups = new Set();
                    const all = document.querySelectorAll(
                      'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])');
                    for (const el of all) {
                      if (el.disabled || el.closest('fieldset[disabled]') || !el.checkVisibility() || !el.getClientRects().length) continue;
                      if (el.type === 'radio') {
                        if (groups.has(el.name)) continue;
                        groups.add(el.name);
                        const checked = document.querySelector(`input[type=radio][name="${el.name}"]:checked`);
                        const stop = checked || el;
                        stop.dataset.tabStop = stops.length;
                        stops.push(stop.outerHTML.slice(0, 80));
                        continue;
                      }
                      el.dataset.tabStop = stops.length;
                      stops.push(el.outerHTML.slice(0, 80));
                    }
                    // Start from the top, as a keyboard user arriving does,
                    // even where a field took the focus on load.
                    document.body.tabIndex = -1;
                    document.body.focus();
                    window.scrollTo(0, 0);
                    return stops;"#,
                    Vec::new(),
                )
                .await
                .unwrap()
                .json()
                .clone(),
        )
        .unwrap();
        let mut problems = Vec::new();
        for (position, control) in expected.iter().enumerate() {
            let mut landed = self.tab().await;
            // Chromium steps through a date field's day, month and year
            // (and a time's hours and minutes) with Tab, staying in the
            // field: one control, several key presses.
            let previous = position.checked_sub(1).map(|p| p.to_string());
            for _ in 0..8 {
                if landed.0.is_none() || landed.0 != previous {
                    break;
                }
                landed = self.tab().await;
            }
            match landed {
                (Some(stop), ring) if stop == position.to_string() => {
                    if !ring {
                        problems.push(format!("focus on {control} is not visible"));
                    }
                }
                (other, _) => {
                    problems.push(format!(
                        "Tab stop {} should be {control} but the focus went to stop {other:?}",
                        position + 1
                    ));
                    break;
                }
            }
        }
        self.driver
            .execute(
                "document.activeElement.blur(); document.body.removeAttribute('tabindex'); window.scrollTo(0, 0);",
                Vec::new(),
            )
            .await
            .unwrap();
        problems
    }

    /// Presses Tab; answers the `data-tab-stop` of the focused element and
    /// whether it shows a focus ring.
    async fn tab(&self) -> (Option<String>, bool) {
        self.driver
            .action_chain()
            .send_keys(Key::Tab)
            .perform()
            .await
            .unwrap();
        serde_json::from_value(
            self.driver
                .execute(
                    r#"
                    const el = document.activeElement;
                    const style = getComputedStyle(el);
                    const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
                      || style.boxShadow !== 'none';
                    return [el.dataset.tabStop ?? null, ring];"#,
                    Vec::new(),
                )
                .await
                .unwrap()
                .json()
                .clone(),
        )
        .unwrap()
    }

    /// Saves a PNG of the visible page under `docs/screenshots/` when
    /// `CAPTURE_SCREENSHOTS` is set, so the README's pictures come from the
    /// tests that prove the pages work.
    pub async fn screenshot(&self, name: &str) {
        if std::env::var_os("CAPTURE_SCREENSHOTS").is_none() {
            return;
        }
        let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "docs", "screenshots"]
            .iter()
            .collect();
        std::fs::create_dir_all(&dir).unwrap();
        self.driver
            .screenshot(&dir.join(format!("{name}.png")))
            .await
            .unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group, Chromium included; a
        // panicking test must not leave browsers behind.
        if let Some(pid) = self.chromedriver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_until_ready(server: &str, chromedriver: &mut Child) {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(Some(status)) = chromedriver.try_wait() {
            panic!("chromedriver exited at start: {status}");
        }
        if let Ok(resp) = client.get(format!("{server}/status")).send().await
            && resp.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not answer on {server}");
}

/// WebDriver's WebAuthn extension: a virtual authenticator in the browser,
/// as a phone's or laptop's built-in one (discoverable credentials, the
/// user verified by "fingerprint").
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl thirtyfour::common::command::ExtensionCommand for AddVirtualAuthenticator {
    fn parameters_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "automaticPresenceSimulation": true,
        }))
    }

    fn method(&self) -> http::Method {
        http::Method::POST
    }

    fn endpoint(&self) -> std::sync::Arc<str> {
        "/webauthn/authenticator".into()
    }
}

impl Browser {
    /// Gives the browser a built-in authenticator, so that pages can make
    /// and use passkeys without a person touching a sensor.
    pub async fn add_virtual_authenticator(&self) {
        self.driver
            .handle()
            .cmd(thirtyfour::common::command::Command::ExtensionCommand(
                Box::new(AddVirtualAuthenticator),
            ))
            .await
            .expect("chromedriver adds a virtual authenticator");
    }
}
