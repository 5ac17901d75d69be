//! The wasmtime sandbox: one engine for the process, components compiled
//! once and pre-instantiated, and a fresh store and instance for every call
//! with memory, fuel, wall-time, input, output and log bounds.
//!
//! Calls are synchronous; the server runs them on its blocking pool. A
//! compiled component is shared by every tenant that uploaded the same
//! bytes (compiled code is immutable), but instances never are: each call
//! gets its own store, so nothing survives from one call, or one tenant,
//! to the next.

pub mod admission;
pub mod limits;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use crate::call_state::{CallState, GuestLog};
use crate::hooks::HookFamily;
use crate::interface::{Version, v1, v2, v3, v4};
use crate::manifest::Manifest;
use crate::model::{BadOutput, HookInput, HookOutput};
use admission::Refusal;
use limits::{Limits, SandboxConfig};

#[derive(Debug, thiserror::Error)]
#[error("the plugin engine could not start: {0}")]
pub struct EngineError(String);

/// The process's plugin engine.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<CallState>,
    config: SandboxConfig,
    pooling: bool,
    compiled: moka::sync::Cache<[u8; 32], Component>,
    ticker: Arc<AtomicBool>,
}

/// A component that passed admission, ready to be called.
#[derive(Clone)]
pub struct Plugin {
    pub family: HookFamily,
    pub version: Version,
    /// SHA-256 of the uploaded bytes, hex.
    pub sha256: String,
    /// What it reads and takes; every call is minimised to it.
    pub manifest: Arc<Manifest>,
    pre: Arc<VersionedPre>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("family", &self.family)
            .field("version", &self.version)
            .field("sha256", &self.sha256)
            .field("manifest", &self.manifest)
            .finish()
    }
}

/// One variant per published interface version.
enum VersionedPre {
    V1(v1::Pre),
    V2(v2::Pre),
    V3(v3::Pre),
    V4(v4::Pre),
}

/// Why a call produced nothing usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The plugin trapped: a panic, an unreachable, a call the host does
    /// not provide.
    Trap,
    /// It ran out of fuel (instructions).
    Fuel,
    /// It ran past its wall-time deadline.
    Timeout,
    /// It asked for more memory than its limit.
    Memory,
    /// Its answer broke the output rules.
    BadOutput,
    /// The host refused to make the call: input too large, or a hook the
    /// plugin's family does not have.
    BadInput,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trap => "trap",
            Self::Fuel => "fuel",
            Self::Timeout => "timeout",
            Self::Memory => "memory",
            Self::BadOutput => "bad_output",
            Self::BadInput => "bad_input",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub kind: FailureKind,
    /// For the clinic's admins: what happened, in a sentence.
    pub detail: String,
}

/// Everything one call produced, success or not.
#[derive(Debug, Clone, Serialize)]
pub struct CallReport {
    pub outcome: Result<HookOutput, Failure>,
    pub log: GuestLog,
    pub fuel_used: u64,
    /// The instruction budget the call ran under.
    pub fuel_limit: u64,
    #[serde(serialize_with = "micros")]
    pub elapsed: Duration,
}

impl CallReport {
    /// The share of its instruction budget the call used, in percent: how
    /// close a plugin runs to being stopped.
    pub fn fuel_percent(&self) -> f64 {
        fuel_percent(self.fuel_used, self.fuel_limit)
    }
}

/// `used` as a percentage of `limit`, to two decimal places: a typical
/// call uses well under one percent.
pub fn fuel_percent(used: u64, limit: u64) -> f64 {
    if limit == 0 {
        return 0.0;
    }
    (used as f64 * 10_000.0 / limit as f64).round() / 100.0
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_micros() as u64)
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Result<Self, EngineError> {
        let (engine, pooling) = if config.pooling {
            match Engine::new(&engine_config(&config, true)) {
                Ok(engine) => (engine, true),
                Err(err) => {
                    tracing::warn!(error = %err, "the pooling allocator is unavailable on this machine; plugins use on-demand allocation");
                    (on_demand_engine(&config)?, false)
                }
            }
        } else {
            (on_demand_engine(&config)?, false)
        };
        let mut linker = Linker::new(&engine);
        v1::add_to_linker(&mut linker).map_err(|e| EngineError(e.to_string()))?;
        v2::add_to_linker(&mut linker).map_err(|e| EngineError(e.to_string()))?;
        v3::add_to_linker(&mut linker).map_err(|e| EngineError(e.to_string()))?;
        v4::add_to_linker(&mut linker).map_err(|e| EngineError(e.to_string()))?;
        let ticker =
            start_epoch_ticker(&engine, Duration::from_millis(config.epoch_tick_ms.max(1)));
        Ok(Self {
            engine,
            linker,
            config,
            pooling,
            compiled: moka::sync::Cache::builder()
                .max_capacity(4096)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
            ticker,
        })
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Whether instances come from the pooling allocator.
    pub fn uses_pooling(&self) -> bool {
        self.pooling
    }

    /// How many distinct compiled components the sandbox holds.
    pub fn compiled_components(&self) -> u64 {
        self.compiled.run_pending_tasks();
        self.compiled.entry_count()
    }

    /// Validates, compiles and pre-instantiates an uploaded component.
    pub fn admit(&self, wasm: &[u8]) -> Result<Plugin, Refusal> {
        admission::check_header(wasm, self.config.max_component_bytes)?;
        let digest: [u8; 32] = Sha256::digest(wasm).into();
        let cached = self.compiled.get(&digest);
        let component = match &cached {
            Some(component) => component.clone(),
            None => Component::new(&self.engine, wasm)
                .map_err(|e| Refusal::Malformed(root_cause(&e)))?,
        };
        admission::check_imports(&self.engine, &component)?;
        let (family, version) = admission::exported_hooks(&self.engine, &component)?;
        // What remains unprovided is the inert WASI set: defined as traps.
        let mut linker = self.linker.clone();
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| Refusal::Incompatible(root_cause(&e)))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| Refusal::Incompatible(root_cause(&e)))?;
        let pre = match version {
            Version::V1_0_0 => VersionedPre::V1(
                v1::Pre::new(family, pre).map_err(|e| Refusal::Incompatible(root_cause(&e)))?,
            ),
            Version::V2_0_0 => VersionedPre::V2(
                v2::Pre::new(family, pre).map_err(|e| Refusal::Incompatible(root_cause(&e)))?,
            ),
            Version::V3_0_0 => VersionedPre::V3(
                v3::Pre::new(family, pre).map_err(|e| Refusal::Incompatible(root_cause(&e)))?,
            ),
            Version::V4_0_0 => VersionedPre::V4(
                v4::Pre::new(family, pre).map_err(|e| Refusal::Incompatible(root_cause(&e)))?,
            ),
        };
        let manifest = match &pre {
            VersionedPre::V4(pre) => self.describe(family, pre)?,
            _ => Manifest::undeclared(),
        };
        // Only admitted components are kept: refused uploads must not fill
        // the cache with compiled code.
        if cached.is_none() {
            self.compiled.insert(digest, component);
        }
        Ok(Plugin {
            family,
            version,
            sha256: hex::encode(digest),
            manifest: Arc::new(manifest),
            pre: Arc::new(pre),
        })
    }

    /// Reads a 4.0.0 component's manifest, within the family's limits,
    /// and checks that it can be honoured.
    fn describe(&self, family: HookFamily, pre: &v4::Pre) -> Result<Manifest, Refusal> {
        let limits = *self.config.limits(family);
        let mut store = self.store(&limits);
        let declared = pre.describe(&mut store).map_err(|err| {
            let state = store.data();
            Refusal::BadManifest(format!(
                "could not be read: {}",
                classify(&err, state, &limits).detail
            ))
        })?;
        Manifest::check(declared).map_err(|bad| Refusal::BadManifest(bad.to_string()))
    }

    /// A fresh store for one call, with the family's bounds.
    fn store(&self, limits: &Limits) -> Store<CallState> {
        let mut store = Store::new(
            &self.engine,
            CallState::new(limits.memory_bytes, limits.max_log_bytes),
        );
        store.limiter(|state| &mut state.limiter);
        store
            .set_fuel(limits.fuel)
            .expect("fuel is enabled on the engine");
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.config.deadline_ticks(limits));
        store
    }

    /// Makes one call in a fresh store, within the family's limits.
    pub fn call(&self, plugin: &Plugin, input: &HookInput) -> CallReport {
        let limits = *self.config.limits(plugin.family);
        let started = Instant::now();
        let refuse = |detail: String| CallReport {
            outcome: Err(Failure {
                kind: FailureKind::BadInput,
                detail,
            }),
            log: GuestLog::default(),
            fuel_used: 0,
            fuel_limit: limits.fuel,
            elapsed: started.elapsed(),
        };
        if input.hook().family() != plugin.family {
            return refuse(format!(
                "a {} plugin has no {} hook",
                plugin.family,
                input.hook()
            ));
        }
        let size = input.text_bytes();
        if size > limits.max_input_bytes {
            return refuse(format!(
                "the input is {size} bytes, over the limit of {}",
                limits.max_input_bytes
            ));
        }

        // Only what the plugin declared leaves the host.
        let input = &input.clone().minimised(&plugin.manifest);
        let mut store = self.store(&limits);
        let result = match &*plugin.pre {
            VersionedPre::V1(pre) => pre.call(&mut store, input),
            VersionedPre::V2(pre) => pre.call(&mut store, input),
            VersionedPre::V3(pre) => pre.call(&mut store, input),
            VersionedPre::V4(pre) => pre.call(&mut store, input),
        };
        let fuel_used = limits.fuel - store.get_fuel().unwrap_or(0);
        let elapsed = started.elapsed();
        let state = store.into_data();
        let outcome = match result {
            Err(err) => Err(classify(&err, &state, &limits)),
            // The deadline covers guest time; host time counts too.
            Ok(_) if elapsed > limits.wall_time() => Err(Failure {
                kind: FailureKind::Timeout,
                detail: format!(
                    "the call took {} ms, over the limit of {} ms",
                    elapsed.as_millis(),
                    limits.wall_time_ms
                ),
            }),
            Ok(output) => output
                .check(limits.max_output_bytes)
                .map_err(|bad: BadOutput| Failure {
                    kind: FailureKind::BadOutput,
                    detail: bad.to_string(),
                }),
        };
        CallReport {
            outcome,
            log: state.log,
            fuel_used,
            fuel_limit: limits.fuel,
            elapsed,
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.ticker.store(true, Ordering::Relaxed);
    }
}

fn engine_config(config: &SandboxConfig, pooling: bool) -> Config {
    let mut wasm = Config::new();
    // Threads are not compiled into this build of wasmtime (its `threads`
    // feature is off): shared memory would let a plugin outlive its call.
    wasm.wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true);
    if pooling {
        let calls = config.max_concurrent_calls.max(1);
        let largest = config
            .rendering
            .memory_bytes
            .max(config.verification.memory_bytes);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(calls)
            // A Rust component is a handful of core instances (the program,
            // the WASI adapter, shims) with one or two memories.
            .total_core_instances(calls * 8)
            .total_memories(calls * 4)
            .total_tables(calls * 8)
            .max_memory_size(largest)
            // Reset a finished instance's memory in place, only the pages it
            // dirtied (Linux's PAGEMAP_SCAN where available), instead of
            // unmapping it: the next call then takes no page faults and no
            // TLB shootdowns. Contents are still reset in full between calls.
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(config.keep_resident_bytes)
            .table_keep_resident(64 * 1024);
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    wasm
}

fn on_demand_engine(config: &SandboxConfig) -> Result<Engine, EngineError> {
    Engine::new(&engine_config(config, false)).map_err(|e| EngineError(e.to_string()))
}

/// Advances the engine's epoch every `tick` until the sandbox is dropped;
/// a store's deadline is counted in these ticks.
fn start_epoch_ticker(engine: &Engine, tick: Duration) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let weak = engine.weak();
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("the epoch thread starts");
    stop
}

/// Why a call failed, in words for the clinic's admins, with the limit it
/// met. A panic is told in the plugin's own report of it, which names the
/// message and place where the trap that follows names neither.
fn classify(err: &wasmtime::Error, state: &CallState, limits: &Limits) -> Failure {
    let (kind, detail) = match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => (
            FailureKind::Fuel,
            format!(
                "the plugin used its whole budget of {} instructions",
                grouped(limits.fuel)
            ),
        ),
        Some(Trap::Interrupt) => (
            FailureKind::Timeout,
            format!(
                "the plugin ran past its time limit of {} ms",
                limits.wall_time_ms
            ),
        ),
        _ if state.limiter.refused => (
            FailureKind::Memory,
            format!(
                "the plugin asked for more memory than its limit of {} MiB",
                limits.memory_bytes / (1024 * 1024)
            ),
        ),
        _ if state.panic.is_some() => (
            FailureKind::Trap,
            format!("the plugin {}", state.panic.as_deref().unwrap_or_default()),
        ),
        Some(trap) => (FailureKind::Trap, format!("the plugin trapped: {trap}")),
        None => {
            let cause = root_cause(err);
            let detail = match cause.split('`').nth(1) {
                Some(import) if cause.contains("unknown import") => format!(
                    "the plugin called `{import}`, which plugins do not get: they cannot print, read the environment or exit; use the host log"
                ),
                _ => format!("the plugin failed: {cause}"),
            };
            (FailureKind::Trap, detail)
        }
    };
    Failure { kind, detail }
}

/// `n` with its thousands grouped by commas: 10,000,000.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The innermost message of an error chain, bounded for storage.
fn root_cause(err: &wasmtime::Error) -> String {
    let mut text = err.root_cause().to_string();
    if text.len() > 500 {
        let mut end = 500;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
