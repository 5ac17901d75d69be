//! `portico plugin …`: an author's loop, run with the server's own sandbox
//! and limits so that what passes here passes at upload.
//!
//! - `new` makes a plugin crate that builds and tests on the first try.
//! - `build` builds it for `wasm32-wasip2` and checks it as an upload is.
//! - `run` calls one hook on an input and prints what came out.
//! - `watch` builds and runs again on every save.
//! - `push` ships it to a clinic's server: upload, dry runs there, and
//!   activation on request.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use portico_plugins::model::Setting;
use portico_plugins::{Hook, HookFamily, HookInput, HookOutput, Plugin, Sandbox};
use portico_tenants::plugins::PluginSettings;

use crate::config::Config;

mod push;
mod scaffold;

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Make a new plugin crate in ./NAME: the SDK pinned to the interface,
    /// a release profile for small components, sample inputs for every
    /// hook of its kind, a native test, and a README.
    New {
        /// The crate's name, such as `my-rule`: lowercase letters, digits
        /// and hyphens.
        name: String,
        /// What the plugin does: renders the clinic's mail, or adds checks.
        #[arg(long, value_enum)]
        kind: Kind,
        /// Where the Portico SDK is (the `plugins/sdk` folder of a Portico
        /// checkout); by default, the one this `portico` was built from.
        #[arg(long, env = "PORTICO_PLUGIN_SDK")]
        sdk: Option<PathBuf>,
    },
    /// Build the plugin in a folder (default: here) for wasm32-wasip2 in
    /// release, then check the component as an upload would. Prints the
    /// component's path and size; exits 2 when it would be refused.
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Check a component as an upload would, call one hook on the input,
    /// and print the output, the log, the fuel used against the budget and
    /// the time taken (JSON). Exits 1 when the call fails and 2 when the
    /// component would be refused at upload.
    Run {
        /// The component, built for wasm32-wasip2.
        file: PathBuf,
        /// render-email, check-redemption, check-portal-access or
        /// check-email.
        #[arg(long)]
        hook: String,
        #[command(flatten)]
        given: RunInput,
    },
    /// Build and run the plugin in a folder (default: here), then again
    /// every time a file under src/, Cargo.toml or sample-inputs/ is saved,
    /// until interrupted (Ctrl-C).
    Watch {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The hook to call after each build.
        #[arg(long)]
        hook: String,
        #[command(flatten)]
        given: RunInput,
    },
    /// Ship the plugin in a folder (default: here) to a clinic: build it,
    /// check it, upload it, dry-run every hook of its family there, and
    /// with --activate make it active once every run worked. The token is
    /// read from PORTICO_TOKEN.
    Push(push::PushArgs),
}

/// What a local call is given: its input, the clinic's settings, and
/// where to write a rendered mail.
#[derive(Debug, clap::Args)]
pub struct RunInput {
    /// The hook's input as JSON (see docs/plugins.md); by default, the
    /// hook's sample input.
    #[arg(long)]
    input: Option<PathBuf>,
    /// A setting the clinic would give, as NAME=VALUE; repeat for more.
    /// Replaces the input's settings, after --settings-file.
    #[arg(long = "settings", value_name = "NAME=VALUE")]
    settings: Vec<String>,
    /// The clinic's settings as a JSON object of names to values.
    #[arg(long)]
    settings_file: Option<PathBuf>,
    /// For render-email: write the rendered HTML to this file, to open in
    /// a browser.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

impl RunInput {
    /// The input for `hook`, read afresh (a watch rereads it after every
    /// save), with the given settings in place of its own.
    fn read(&self, hook: Hook) -> anyhow::Result<HookInput> {
        let json = match &self.input {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
            None => hook.sample_input().to_owned(),
        };
        let named = self.input.as_ref().map_or_else(
            || format!("the sample {hook} input"),
            |p| p.display().to_string(),
        );
        let mut input = HookInput::from_json(hook, &json)
            .with_context(|| format!("{named} is not a {hook} input"))?;
        if let Some(settings) = given_settings(self.settings_file.as_deref(), &self.settings)? {
            input = input.with_settings(settings);
        }
        Ok(input)
    }
}

/// A plugin's kind, as `plugin new` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Renders the clinic's mail (the email-rendering family).
    Email,
    /// Adds the clinic's checks (the verification family).
    Verifier,
}

impl Kind {
    pub fn family(self) -> HookFamily {
        match self {
            Self::Email => HookFamily::EmailRendering,
            Self::Verifier => HookFamily::Verification,
        }
    }
}

/// Runs a plugin command; the exit code.
pub fn run(config: &Config, command: PluginCommand) -> anyhow::Result<i32> {
    match command {
        PluginCommand::New { name, kind, sdk } => {
            let sdk = match sdk {
                Some(sdk) => sdk,
                None => scaffold::bundled_sdk()?,
            };
            let dir = scaffold::create(Path::new("."), &name, kind, &sdk)?;
            println!(
                "created {}: {}, against {}",
                dir.display(),
                match kind {
                    Kind::Email => "an email-rendering plugin",
                    Kind::Verifier => "a verification plugin",
                },
                scaffold::INTERFACE
            );
            println!("next:");
            println!("  cd {}", dir.display());
            println!("  cargo test                 # the plugin's own tests, natively");
            println!("  portico plugin build       # the component, checked as an upload is");
            println!(
                "  portico plugin watch --hook {}   # build and run again on every save",
                kind.family()
                    .hooks()
                    .last()
                    .expect("every family has a hook")
            );
            for hook in kind.family().hooks() {
                println!(
                    "  portico plugin run target/wasm32-wasip2/release/{}.wasm --hook {hook}",
                    name.replace('-', "_")
                );
            }
            Ok(0)
        }
        PluginCommand::Build { dir } => build(config, &dir),
        PluginCommand::Run { file, hook, given } => {
            let hook: Hook = hook.parse()?;
            let input = given.read(hook)?;
            run_once(config, &file, input, given.html.as_deref())
        }
        PluginCommand::Watch { dir, hook, given } => watch(config, &dir, hook.parse()?, &given),
        PluginCommand::Push(args) => push::push(config, args),
    }
}

/// The settings `--settings-file` and `--settings` give, checked as an
/// activation checks them; `None` when neither is given.
fn given_settings(file: Option<&Path>, pairs: &[String]) -> anyhow::Result<Option<Vec<Setting>>> {
    if file.is_none() && pairs.is_empty() {
        return Ok(None);
    }
    let mut all: Vec<(String, String)> = Vec::new();
    if let Some(file) = file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let object: std::collections::BTreeMap<String, String> = serde_json::from_str(&text)
            .with_context(|| {
                format!(
                    "{} must be a JSON object of setting names to text values, such as {{\"refused_domains\": \"gmail.com\"}}",
                    file.display()
                )
            })?;
        all.extend(object);
    }
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("--settings {pair:?} must be NAME=VALUE"))?;
        let name = name.trim().to_owned();
        all.retain(|(n, _)| *n != name);
        all.push((name, value.to_owned()));
    }
    let settings = PluginSettings::parse(all).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(settings.as_slice().to_vec()))
}

/// Admits `file` and makes one call; prints the report and returns the
/// exit code.
fn run_once(
    config: &Config,
    file: &Path,
    input: HookInput,
    html: Option<&Path>,
) -> anyhow::Result<i32> {
    let Some(Admitted {
        sandbox,
        plugin,
        size,
    }) = admit(config, file)?
    else {
        return Ok(2);
    };
    // Settled as the clinic's activation settles them: checked against
    // the manifest, with its defaults.
    let input = match plugin.manifest.settle(input.settings()) {
        Ok(settled) => input.with_settings(settled),
        Err(refused) => {
            let report = serde_json::json!({
                "refused": "invalid_settings",
                "message": refused.to_string(),
                "manifest": *plugin.manifest,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(2);
        }
    };
    let hook = input.hook();
    let report = sandbox.call(&plugin, &input);
    let (outcome, output, detail) = match &report.outcome {
        Ok(output) => ("ok", serde_json::to_value(output)?, None),
        Err(failure) => (
            failure.kind.as_str(),
            serde_json::Value::Null,
            Some(failure.detail.clone()),
        ),
    };
    let written = match (&report.outcome, html) {
        (Ok(HookOutput::Rendered(mail)), Some(path)) => {
            std::fs::write(path, &mail.html)
                .with_context(|| format!("writing {}", path.display()))?;
            Some(path.display().to_string())
        }
        _ => None,
    };
    let printed = serde_json::json!({
        "plugin": {
            "family": plugin.family.as_str(),
            "interface_version": plugin.version.as_str(),
            "sha256": plugin.sha256,
            "size_bytes": size,
            "manifest": *plugin.manifest,
        },
        "hook": hook.as_str(),
        "outcome": outcome,
        "detail": detail,
        "output": output,
        "log": report.log,
        "fuel_used": report.fuel_used,
        "fuel_limit": report.fuel_limit,
        "fuel_percent": report.fuel_percent(),
        "elapsed_us": report.elapsed.as_micros() as u64,
        "html_written_to": written,
        "pooling_allocator": sandbox.uses_pooling(),
    });
    println!("{}", serde_json::to_string_pretty(&printed)?);
    if html.is_some() && written.is_none() && report.outcome.is_ok() {
        eprintln!("--html: nothing written, the call rendered no mail");
    }
    Ok(if report.outcome.is_ok() { 0 } else { 1 })
}

/// A component that passed the upload's checks, with the sandbox that
/// checked it.
struct Admitted {
    sandbox: Sandbox,
    plugin: Plugin,
    size: usize,
}

/// Reads `file` and checks it as an upload is; `None`, after printing the
/// refusal, when an upload would refuse it.
fn admit(config: &Config, file: &Path) -> anyhow::Result<Option<Admitted>> {
    let wasm = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let sandbox = Sandbox::new(config.plugins)?;
    match sandbox.admit(&wasm) {
        Ok(plugin) => Ok(Some(Admitted {
            sandbox,
            plugin,
            size: wasm.len(),
        })),
        Err(refusal) => {
            let report = serde_json::json!({
                "refused": refusal.code(),
                "message": refusal.to_string(),
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(None)
        }
    }
}

/// Cargo's release build of the plugin in `dir` for wasm32-wasip2; the
/// component's path.
fn cargo_build(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    let package = scaffold::Package::read(&manifest)?;
    eprintln!("building {} for wasm32-wasip2 (release)…", package.name);
    let status = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(&manifest)
        .status()
        .context("running cargo (is Rust installed?)")?;
    if !status.success() {
        anyhow::bail!(
            "cargo build failed; if it says the target is missing, run `rustup target add wasm32-wasip2`"
        );
    }
    Ok(package.component())
}

/// `portico plugin build`: cargo's release build for wasm32-wasip2, then
/// admission.
fn build(config: &Config, dir: &Path) -> anyhow::Result<i32> {
    let component = cargo_build(dir)?;
    let Some(Admitted { plugin, size, .. }) = admit(config, &component)? else {
        return Ok(2);
    };
    let report = serde_json::json!({
        "component": component.display().to_string(),
        "size_bytes": size,
        "family": plugin.family.as_str(),
        "interface_version": plugin.version.as_str(),
        "sha256": plugin.sha256,
        "manifest": *plugin.manifest,
        "admitted": true,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(0)
}

/// The newest change under the plugin's sources, its manifest and its
/// sample inputs (and `extra`, the input named with `--input`).
fn last_change(dir: &Path, extra: Option<&Path>) -> Option<std::time::SystemTime> {
    fn newest(path: &Path, newest_seen: &mut Option<std::time::SystemTime>) {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                newest(&entry.path(), newest_seen);
            }
        } else if let Ok(modified) = meta.modified() {
            *newest_seen = (*newest_seen).max(Some(modified));
        }
    }
    let mut seen = None;
    for path in [
        dir.join("src"),
        dir.join("Cargo.toml"),
        dir.join("sample-inputs"),
    ] {
        newest(&path, &mut seen);
    }
    if let Some(extra) = extra {
        newest(extra, &mut seen);
    }
    seen
}

/// `portico plugin watch`: build and run, then again on every save, until
/// interrupted. It polls the files' times twice a second: a plugin is a
/// handful of files, and polling needs no watcher that differs from one
/// operating system to the next.
fn watch(config: &Config, dir: &Path, hook: Hook, given: &RunInput) -> anyhow::Result<i32> {
    loop {
        let started = last_change(dir, given.input.as_deref());
        match cargo_build(dir).and_then(|component| {
            let input = given.read(hook)?;
            run_once(config, &component, input, given.html.as_deref())
        }) {
            Ok(code) => eprintln!(
                "{} — waiting for a change (Ctrl-C to stop)…",
                match code {
                    0 => "the call worked",
                    1 => "the call failed",
                    _ => "an upload would be refused",
                }
            ),
            Err(err) => eprintln!("{err:#} — waiting for a change (Ctrl-C to stop)…"),
        }
        while last_change(dir, given.input.as_deref()) == started {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        // Let an editor finish writing before building.
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_a_file_and_pairs_are_checked_as_activation_checks_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        std::fs::write(
            &file,
            r#"{"refused_domains": "gmail.com", "signature": "Dr Ames"}"#,
        )
        .unwrap();
        let settings = given_settings(Some(&file), &["signature=The team".into()])
            .unwrap()
            .unwrap();
        let pairs: Vec<_> = settings
            .iter()
            .map(|s| (s.name.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("refused_domains", "gmail.com"), ("signature", "The team")],
            "a pair overrides the file"
        );
        assert!(given_settings(None, &[]).unwrap().is_none());
        let bad = given_settings(None, &["Bad Name=x".into()]).unwrap_err();
        assert!(bad.to_string().contains("lowercase letters"), "{bad}");
        let no_equals = given_settings(None, &["signature".into()]).unwrap_err();
        assert!(no_equals.to_string().contains("NAME=VALUE"), "{no_equals}");
        std::fs::write(&file, r#"[{"name": "a", "value": "b"}]"#).unwrap();
        let list = given_settings(Some(&file), &[]).unwrap_err();
        assert!(list.to_string().contains("JSON object"), "{list}");
    }
}
