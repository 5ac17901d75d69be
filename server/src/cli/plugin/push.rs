//! `portico plugin push`: ship a plugin to a clinic over its API. It
//! builds the component (or takes one built), checks it here as the upload
//! will, uploads it, tries every hook of its family there on the sample
//! inputs (a dry run, with the settings the clinic runs with unless new
//! ones are given), and, when asked and only when every try worked,
//! activates it.
//!
//! The token is a staff member's API token (`POST /auth/tokens`), read
//! from `PORTICO_TOKEN` so that it stays out of the shell's history and
//! the process list.

use std::path::{Path, PathBuf};

use anyhow::Context;
use portico_plugins::{Hook, HookFamily};
use serde_json::{Value, json};

use super::{admit, cargo_build, given_settings, scaffold};
use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The plugin's folder, built first (default: here).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// A component already built, pushed as it is instead of building.
    #[arg(long)]
    file: Option<PathBuf>,
    /// The clinic's address, as its staff reach it, such as
    /// https://portal.example.org/t/north.
    #[arg(long)]
    clinic: String,
    /// The plugin's name in the clinic (new versions of one name are
    /// numbered 1, 2, 3…); by default, the crate's name.
    #[arg(long)]
    name: Option<String>,
    /// Make it the clinic's active version once every dry run worked.
    #[arg(long)]
    activate: bool,
    /// A setting to try and to activate with, as NAME=VALUE; repeat for
    /// more. Without settings the dry runs use, and activation keeps, the
    /// settings the clinic runs with now.
    #[arg(long = "settings", value_name = "NAME=VALUE")]
    settings: Vec<String>,
    /// The settings as a JSON object of names to values.
    #[arg(long, value_name = "FILE")]
    settings_file: Option<PathBuf>,
    /// A staff member's API token, allowed to manage plugins.
    #[arg(long, env = "PORTICO_TOKEN", hide_env_values = true)]
    token: String,
}

/// Runs the push; the exit code: 0 when pushed (and activated when asked),
/// 1 when a dry run failed or the clinic refused, 2 when the component
/// would be refused at upload.
pub fn push(config: &Config, args: PushArgs) -> anyhow::Result<i32> {
    let (file, default_name) = match &args.file {
        Some(file) => (file.clone(), None),
        None => {
            let package = scaffold::Package::read(&args.dir.join("Cargo.toml"))?;
            (cargo_build(&args.dir)?, Some(package.name))
        }
    };
    let name = args
        .name
        .clone()
        .or(default_name)
        .context("name the plugin with --name (no crate to take it from)")?;
    let Some(admitted) = admit(config, &file)? else {
        return Ok(2);
    };
    let family = admitted.plugin.family;
    let settings = given_settings(args.settings_file.as_deref(), &args.settings)?;
    let settings = settings.map(|given| {
        given
            .into_iter()
            .map(|s| (s.name, Value::String(s.value)))
            .collect::<serde_json::Map<_, _>>()
    });
    let clinic = Clinic::new(&args.clinic, &args.token)?;

    eprintln!(
        "uploading {} ({} bytes) as {name}…",
        file.display(),
        admitted.size
    );
    let uploaded = clinic.upload(&name, &file)?;
    let id = uploaded["id"]
        .as_str()
        .context("the clinic's answer names no id")?;
    eprintln!(
        "uploaded: {name} version {} ({}, interface {})",
        uploaded["version"],
        uploaded["family"].as_str().unwrap_or("?"),
        uploaded["interface_version"].as_str().unwrap_or("?")
    );

    let mut dry_runs = Vec::new();
    let mut all_worked = true;
    for hook in family.hooks() {
        let run = clinic.dry_run(id, hook, settings.as_ref())?;
        let worked = run["outcome"] == "ok";
        all_worked &= worked;
        eprintln!(
            "dry run {hook}: {}{} · {}% of the budget · {}",
            run["outcome"].as_str().unwrap_or("?"),
            run["answer"]
                .as_str()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default(),
            run["fuel_percent"],
            match run["settings_from"].as_str() {
                Some("input") => "the settings given",
                Some("active") => "the clinic's active settings",
                _ => "no settings",
            }
        );
        if let Some(detail) = run["detail"].as_str() {
            eprintln!("  {detail}");
        }
        dry_runs.push(run);
    }

    let activated = match (args.activate, all_worked) {
        (true, true) => {
            let active = clinic.activate(id, settings.as_ref())?;
            eprintln!("active: the clinic's next {} uses it", noun(family));
            Some(active)
        }
        (true, false) => {
            eprintln!("not activated: a dry run failed (see above)");
            None
        }
        (false, _) => {
            eprintln!("not activated; push again with --activate, or activate it in the console");
            None
        }
    };
    let summary = json!({
        "clinic": clinic.base,
        "plugin": uploaded,
        "dry_runs": dry_runs,
        "activated": activated,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(if all_worked { 0 } else { 1 })
}

fn noun(family: HookFamily) -> &'static str {
    match family {
        HookFamily::EmailRendering => "mail",
        HookFamily::Verification => "check",
    }
}

/// A clinic's API, as one staff member.
struct Clinic {
    base: String,
    token: String,
    http: ureq::Agent,
}

impl Clinic {
    fn new(address: &str, token: &str) -> anyhow::Result<Self> {
        let base = address.trim().trim_end_matches('/').to_owned();
        anyhow::ensure!(
            base.starts_with("https://") || base.starts_with("http://"),
            "--clinic must be the clinic's address, such as https://portal.example.org/t/north"
        );
        anyhow::ensure!(
            !token.trim().is_empty(),
            "PORTICO_TOKEN is empty: set it to a staff API token (POST /auth/tokens)"
        );
        let http = ureq::Agent::config_builder()
            // A refusal's body says what to fix; it is read, not raised.
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Self {
            base,
            token: token.trim().to_owned(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn upload(&self, name: &str, file: &Path) -> anyhow::Result<Value> {
        let wasm = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let response = self
            .http
            .post(self.url("/plugins"))
            .query("name", name)
            .header("authorization", self.bearer())
            .header("user-agent", USER_AGENT)
            .content_type("application/octet-stream")
            .send(&wasm[..]);
        self.answer("upload", response)
    }

    fn dry_run(
        &self,
        id: &str,
        hook: Hook,
        settings: Option<&serde_json::Map<String, Value>>,
    ) -> anyhow::Result<Value> {
        let mut input: Value = serde_json::from_str(hook.sample_input())?;
        // The samples carry settings of their own; the clinic's are wanted.
        if let Some(object) = input.as_object_mut() {
            object.remove("settings");
            if let Some(settings) = settings {
                object.insert("settings".into(), Value::Object(settings.clone()));
            }
        }
        let response = self
            .http
            .post(self.url(&format!("/plugins/{id}/dry-run")))
            .header("authorization", self.bearer())
            .header("user-agent", USER_AGENT)
            .send_json(json!({ "hook": hook.as_str(), "input": input }));
        self.answer(&format!("dry run of {hook}"), response)
    }

    fn activate(
        &self,
        id: &str,
        settings: Option<&serde_json::Map<String, Value>>,
    ) -> anyhow::Result<Value> {
        let body = match settings {
            Some(settings) => json!({ "settings": settings }),
            None => json!({}),
        };
        let response = self
            .http
            .post(self.url(&format!("/plugins/{id}/activate")))
            .header("authorization", self.bearer())
            .header("user-agent", USER_AGENT)
            .send_json(body);
        self.answer("activation", response)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// The answer's JSON, or the clinic's refusal in its own words.
    fn answer(
        &self,
        what: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<Value> {
        let mut response =
            response.with_context(|| format!("{what}: could not reach {}", self.base))?;
        let status = response.status();
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = body["message"].as_str().unwrap_or("no message");
        let field = body["field"]
            .as_str()
            .map(|f| format!(" (field {f})"))
            .unwrap_or_default();
        anyhow::bail!(
            "{what}: the clinic refused with {status}: {}{field}: {message}{}",
            body["code"].as_str().unwrap_or("?"),
            if status == ureq::http::StatusCode::UNAUTHORIZED {
                "; is PORTICO_TOKEN a current staff token of this clinic?"
            } else {
                ""
            }
        )
    }
}

const USER_AGENT: &str = concat!("portico-cli/", env!("CARGO_PKG_VERSION"));
