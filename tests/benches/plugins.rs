//! Plugin benchmarks (see docs/performance.md), with components built from
//! this repository's sources:
//!
//! 1. render cost: the branded access-link plugin (fresh instance and one
//!    call) against the built-in template rendering the same mail natively;
//! 2. fixed cost of a call: the minimal plugin, fresh instance and one
//!    call, with the pooling allocator and without;
//! 3. calls per second under 32 concurrent requests, through the server's
//!    plugin host (blocking pool, bounded), against one caller;
//! 4. memory with 1,000 clinics that each have an active plugin: the same
//!    published plugin (compiled once, shared), and 1,000 different ones.
//!
//! Run with `cargo bench -p portico-tests --bench plugins`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portico_plugins::model::{Branding, EmailAcceptance, MailContext, MailKind};
use portico_plugins::{HookInput, HookOutput, Plugin, Sandbox, SandboxConfig};
use portico_server::mail::{self, BuiltinTemplates};
use portico_tenants::plugins::PluginHost;
use portico_tests::plugin_fixture;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e6
}

fn timed(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        f();
        samples.push(start.elapsed());
    }
    samples.sort_unstable();
    samples
}

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

const LINK: &str = "https://north.example.org/t/north/portal/register#code=apple-brave-cider-delta";

fn plugin_context() -> MailContext {
    MailContext {
        kind: MailKind::AccessLink,
        branding: Branding {
            clinic_name: "North Clinic".into(),
            primary_colour: "#0b6e4f".into(),
            accent_colour: "#e3f1ec".into(),
            logo_url: Some("https://north.example.org/logo.png".into()),
            reply_to: None,
        },
        patient_display_name: Some("Mia Wong".into()),
        link: Some(LINK.into()),
        expires_at: Some("2026-11-28T10:00:00Z".into()),
        time_zone: None,
        locale: "en".into(),
        settings: vec![],
        portal_url: Some("https://north.example.org/t/north/portal/".into()),
        details: vec![],
    }
}

fn native_context() -> mail::MailContext {
    mail::MailContext {
        kind: portico_tenants::outbox::MailKind::AccessLink,
        branding: mail::Branding {
            clinic_name: "North Clinic".into(),
            primary_colour: "#0b6e4f".into(),
            accent_colour: "#e3f1ec".into(),
            logo_url: Some("https://north.example.org/logo.png".into()),
            reply_to: None,
        },
        patient_display_name: "Mia Wong".into(),
        link: Some(LINK.into()),
        expires_at: Some("28 November 2026, 10:00 UTC".into()),
        locale: "en".into(),
        details: serde_json::json!({}),
        expires_at_rfc3339: Some("2026-11-28T10:00:00Z".into()),
        portal_url: Some("https://north.example.org/t/north/portal/".into()),
    }
}

fn render_cost(sandbox: &Sandbox) {
    let plugin = sandbox.admit(&plugin_fixture("branded-email")).unwrap();
    let input = HookInput::RenderEmail(plugin_context());
    let builtin = BuiltinTemplates::new();
    let ctx = native_context();
    let check = sandbox.call(&plugin, &input);
    let Ok(HookOutput::Rendered(by_plugin)) = check.outcome else {
        panic!("the plugin renders: {:?}", check.outcome)
    };
    let by_template = builtin.render(&ctx).unwrap();
    // Warm up both, then alternate rounds so drift hits both alike.
    for _ in 0..500 {
        sandbox.call(&plugin, &input);
        builtin.render(&ctx).unwrap();
    }
    let mut native = Vec::new();
    let mut wasm = Vec::new();
    for _ in 0..10 {
        native.extend(timed(500, || {
            builtin.render(&ctx).unwrap();
        }));
        wasm.extend(timed(500, || {
            assert!(sandbox.call(&plugin, &input).outcome.is_ok());
        }));
    }
    native.sort_unstable();
    wasm.sort_unstable();
    println!("render an access-link mail (5,000 each):");
    println!(
        "  built-in template, natively: p50 {:.1} µs, p99 {:.1} µs ({} bytes of HTML)",
        pct(&native, 0.5),
        pct(&native, 0.99),
        by_template.html.len()
    );
    println!(
        "  plugin, fresh instance + call: p50 {:.1} µs, p99 {:.1} µs ({} bytes of HTML, fuel {})",
        pct(&wasm, 0.5),
        pct(&wasm, 0.99),
        by_plugin.html.len(),
        check.fuel_used
    );
    println!(
        "  ratio plugin / native: p50 {:.2}, p99 {:.2} (goal <= 3)",
        pct(&wasm, 0.5) / pct(&native, 0.5),
        pct(&wasm, 0.99) / pct(&native, 0.99)
    );
}

fn fixed_cost(label: &str, sandbox: &Sandbox) -> (f64, f64) {
    let plugin = sandbox.admit(&plugin_fixture("minimal")).unwrap();
    let input = HookInput::CheckEmail(EmailAcceptance {
        email: "mia@example.org".into(),
        settings: vec![],
    });
    for _ in 0..2_000 {
        sandbox.call(&plugin, &input);
    }
    let samples = timed(20_000, || {
        assert!(sandbox.call(&plugin, &input).outcome.is_ok());
    });
    let (p50, p99) = (pct(&samples, 0.5), pct(&samples, 0.99));
    println!("  {label}: p50 {p50:.1} µs, p99 {p99:.1} µs");
    (p50, p99)
}

async fn concurrent_calls(host: &PluginHost, plugin: &Plugin) {
    let input = HookInput::CheckEmail(EmailAcceptance {
        email: "mia@example.org".into(),
        settings: vec![],
    });
    let run = |callers: usize| {
        let host = host.clone();
        let plugin = plugin.clone();
        let input = input.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(3);
            let mut tasks = Vec::new();
            for _ in 0..callers {
                let host = host.clone();
                let plugin = plugin.clone();
                let input = input.clone();
                tasks.push(tokio::spawn(async move {
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        let report = host.call(plugin.clone(), input.clone()).await;
                        assert!(report.outcome.is_ok());
                        done += 1;
                    }
                    done
                }));
            }
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            total as f64 / 3.0
        }
    };
    let one = run(1).await;
    let many = run(32).await;
    println!("calls through the server's plugin host (3 s each):");
    println!("  1 caller: {one:.0} calls/s");
    println!("  32 concurrent callers: {many:.0} calls/s");
    println!("  ratio 32 / 1: {:.2}", many / one);
}

/// The same component with a custom section added: different bytes, so it
/// compiles on its own, as a clinic's own plugin would.
fn distinct(wasm: &[u8], n: u32) -> Vec<u8> {
    let name = b"portico-bench";
    let payload = n.to_le_bytes();
    let body_len = 1 + name.len() + payload.len();
    let mut out = wasm.to_vec();
    out.push(0); // custom section
    out.push(body_len as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

fn thousand_clinics(sandbox: &Sandbox) {
    let wasm = plugin_fixture("date-of-birth-check");
    let input = HookInput::CheckEmail(EmailAcceptance {
        email: "mia@example.org".into(),
        settings: vec![],
    });
    let base = rss_kib("VmRSS:");
    let start = Instant::now();
    let shared: Vec<Plugin> = (0..1_000)
        .map(|_| {
            let p = sandbox.admit(&wasm).unwrap();
            assert!(sandbox.call(&p, &input).outcome.is_ok());
            p
        })
        .collect();
    let shared_rss = rss_kib("VmRSS:");
    let shared_time = start.elapsed();
    let start = Instant::now();
    let own: Vec<Plugin> = (0..1_000)
        .map(|n| {
            let p = sandbox.admit(&distinct(&wasm, n)).unwrap();
            assert!(sandbox.call(&p, &input).outcome.is_ok());
            p
        })
        .collect();
    let own_rss = rss_kib("VmRSS:");
    let own_time = start.elapsed();
    println!("1,000 clinics with an active plugin, each loaded and called once:");
    println!("  process before: {:.1} MiB RSS", base as f64 / 1024.0);
    println!(
        "  the same published plugin: +{:.1} MiB ({:.1} KiB per clinic), loaded in {:.1} s",
        (shared_rss - base) as f64 / 1024.0,
        (shared_rss - base) as f64 / 1000.0,
        shared_time.as_secs_f64()
    );
    println!(
        "  a different plugin each: +{:.1} MiB more ({:.1} KiB per clinic), compiled in {:.1} s",
        (own_rss - shared_rss) as f64 / 1024.0,
        (own_rss - shared_rss) as f64 / 1000.0,
        own_time.as_secs_f64()
    );
    println!(
        "  peak RSS of the whole run: {:.1} MiB",
        rss_kib("VmHWM:") as f64 / 1024.0
    );
    drop((shared, own));
}

fn main() {
    let pooled = Sandbox::new(SandboxConfig::default()).unwrap();
    assert!(
        pooled.uses_pooling(),
        "the pooling allocator is available here"
    );
    let on_demand = Sandbox::new(SandboxConfig {
        pooling: false,
        ..SandboxConfig::default()
    })
    .unwrap();

    render_cost(&pooled);
    println!("fixed cost of a call, minimal plugin, fresh instance (20,000 calls):");
    let (p50, p99) = fixed_cost("pooling allocator", &pooled);
    println!("    goal p50 <= 15 µs, p99 <= 30 µs");
    let (d50, d99) = fixed_cost("on-demand allocation", &on_demand);
    println!(
        "  ratio on-demand / pooling: p50 {:.2}, p99 {:.2}",
        d50 / p50,
        d99 / p99
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let host = PluginHost::new(SandboxConfig::default()).unwrap();
        let plugin = host
            .admit(Arc::new(plugin_fixture("minimal")))
            .await
            .unwrap();
        concurrent_calls(&host, &plugin).await;
    });
    drop(runtime);

    let roomy = Sandbox::new(SandboxConfig {
        max_concurrent_calls: 8,
        ..SandboxConfig::default()
    })
    .unwrap();
    thousand_clinics(&roomy);
}
