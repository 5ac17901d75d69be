//! A plugin author's first minutes, timed: `portico plugin new`, the
//! native `cargo test`, `portico plugin build` and `portico plugin run`,
//! on a cold cache (a new target folder) and a warm one (after an edit),
//! for each kind, with the component's size.
//!
//! The baseline, timed the same way in the same run, is the least any Rust
//! component costs: an empty `cdylib` crate built for `wasm32-wasip2`
//! without the SDK. The journey is reported as a ratio to it, so a slower
//! or faster machine moves both.
//!
//! `cargo bench -p portico-server --bench plugin_journey` (needs the
//! `wasm32-wasip2` target and crates.io, as an author has).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn timed(what: &str, command: &mut Command) -> Duration {
    let started = Instant::now();
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn cargo(dir: &Path, target: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target);
    command
}

fn portico(dir: &Path, target: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portico"));
    command
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("PORTICO_DATA_DIR", dir)
        .env("PORTICO_LOG", "warn")
        .env_remove("PORTICO_PLUGIN_FIXTURES");
    command
}

/// Appends a comment to the crate's source: an edit, as an author saves.
fn touch(crate_dir: &Path) {
    let lib = crate_dir.join("src/lib.rs");
    let mut text = std::fs::read_to_string(&lib).unwrap();
    text.push_str("\n// edited\n");
    std::fs::write(lib, text).unwrap();
}

struct Figures {
    cold: Duration,
    warm: Duration,
    size: u64,
}

/// The baseline: an empty component crate, built cold, then after an edit.
fn baseline(root: &Path) -> Figures {
    let dir = root.join("empty");
    let target = root.join("empty-target");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"empty\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[profile.release]\nopt-level = \"s\"\nlto = true\ncodegen-units = 1\npanic = \"abort\"\nstrip = true\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        "#[unsafe(no_mangle)]\npub extern \"C\" fn answer() -> i32 { 42 }\n",
    )
    .unwrap();
    let build = ["build", "--release", "--target", "wasm32-wasip2"];
    let cold = timed("empty build", &mut cargo(&dir, &target, &build));
    touch(&dir);
    let warm = timed("empty rebuild", &mut cargo(&dir, &target, &build));
    let size = std::fs::metadata(target.join("wasm32-wasip2/release/empty.wasm"))
        .unwrap()
        .len();
    Figures { cold, warm, size }
}

/// new → cargo test → plugin build → plugin run, cold; then an edit, and
/// cargo test → plugin build → plugin run again, warm.
fn journey(root: &Path, name: &str, kind: &str, hook: &str) -> Figures {
    let target = root.join(format!("{name}-target"));
    let crate_dir = root.join(name);
    let component = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    let component = component.display().to_string();
    let run_args = ["plugin", "run", &component, "--hook", hook];
    let started = Instant::now();
    timed(
        "plugin new",
        &mut portico(root, &target, &["plugin", "new", name, "--kind", kind]),
    );
    timed("cargo test", &mut cargo(&crate_dir, &target, &["test"]));
    timed(
        "plugin build",
        &mut portico(&crate_dir, &target, &["plugin", "build"]),
    );
    timed("plugin run", &mut portico(&crate_dir, &target, &run_args));
    let cold = started.elapsed();
    touch(&crate_dir);
    let started = Instant::now();
    timed("cargo test", &mut cargo(&crate_dir, &target, &["test"]));
    timed(
        "plugin build",
        &mut portico(&crate_dir, &target, &["plugin", "build"]),
    );
    timed("plugin run", &mut portico(&crate_dir, &target, &run_args));
    let warm = started.elapsed();
    let size = std::fs::metadata(&component).unwrap().len();
    Figures { cold, warm, size }
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: nothing to do.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let base = baseline(root.path());
    println!(
        "baseline: an empty component: cold {:.1} s, warm {:.2} s, {} bytes",
        base.cold.as_secs_f64(),
        base.warm.as_secs_f64(),
        base.size
    );
    println!("| kind | cold journey | × baseline | warm journey | × baseline | component |");
    println!("|---|---|---|---|---|---|");
    for (name, kind, hook) in [
        ("bench-rule", "verifier", "check-email"),
        ("bench-mail", "email", "render-email"),
    ] {
        let f = journey(root.path(), name, kind, hook);
        println!(
            "| {kind} | {:.1} s | {:.1} | {:.2} s | {:.1} | {} KiB |",
            f.cold.as_secs_f64(),
            f.cold.as_secs_f64() / base.cold.as_secs_f64(),
            f.warm.as_secs_f64(),
            f.warm.as_secs_f64() / base.warm.as_secs_f64(),
            f.size / 1024
        );
    }
}
