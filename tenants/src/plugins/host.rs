//! Runs the synchronous sandbox from async code: on the blocking pool,
//! at most as many calls at once as the instance pool holds, with
//! pre-instantiated plugins cached per clinic and version.

use std::sync::Arc;
use std::time::Duration;

use portico_plugins::sandbox::EngineError;
use portico_plugins::{CallReport, HookInput, Plugin, Refusal, Sandbox, SandboxConfig};
use tokio::sync::Semaphore;

use crate::domain::{PluginId, TenantId};

#[derive(Clone)]
pub struct PluginHost {
    sandbox: Arc<Sandbox>,
    /// Versions are immutable, so an entry never goes stale; it only ages
    /// out when the clinic stops calling it.
    loaded: moka::future::Cache<(TenantId, PluginId), Plugin>,
    permits: Arc<Semaphore>,
}

impl PluginHost {
    pub fn new(config: SandboxConfig) -> Result<Self, EngineError> {
        let sandbox = Sandbox::new(config)?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(config.max_concurrent_calls.max(1) as usize)),
            sandbox: Arc::new(sandbox),
            loaded: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
        })
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Validates and compiles an upload (compiling takes a while: it runs
    /// on the blocking pool).
    pub async fn admit(&self, wasm: Arc<Vec<u8>>) -> Result<Plugin, Refusal> {
        let sandbox = self.sandbox.clone();
        tokio::task::spawn_blocking(move || sandbox.admit(&wasm))
            .await
            .expect("plugin compilation does not panic")
    }

    /// The pre-instantiated plugin for a clinic's version, compiling it
    /// from `wasm` the first time.
    pub(crate) async fn loaded(
        &self,
        tenant: TenantId,
        id: PluginId,
        wasm: impl AsyncFnOnce() -> Option<Vec<u8>>,
    ) -> Result<Option<Plugin>, Refusal> {
        if let Some(plugin) = self.loaded.get(&(tenant, id)).await {
            return Ok(Some(plugin));
        }
        let Some(bytes) = wasm().await else {
            return Ok(None);
        };
        let plugin = self.admit(Arc::new(bytes)).await?;
        self.loaded.insert((tenant, id), plugin.clone()).await;
        Ok(Some(plugin))
    }

    pub(crate) async fn remember(&self, tenant: TenantId, id: PluginId, plugin: Plugin) {
        self.loaded.insert((tenant, id), plugin).await;
    }

    pub(crate) async fn forget(&self, tenant: TenantId, id: PluginId) {
        self.loaded.invalidate(&(tenant, id)).await;
    }

    /// The instruction budget of a call of `family`.
    pub fn fuel_limit(&self, family: portico_plugins::HookFamily) -> u64 {
        self.sandbox.config().limits(family).fuel
    }

    /// One call in a fresh instance.
    pub async fn call(&self, plugin: Plugin, input: HookInput) -> CallReport {
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let sandbox = self.sandbox.clone();
        let family = input.hook().family().as_str();
        let report = tokio::task::spawn_blocking(move || sandbox.call(&plugin, &input))
            .await
            .expect("plugin calls do not panic");
        let outcome = match &report.outcome {
            Ok(_) => "ok",
            Err(failure) => failure.kind.as_str(),
        };
        metrics::counter!("portico_plugin_calls_total", "family" => family, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("portico_plugin_call_seconds", "family" => family)
            .record(report.elapsed.as_secs_f64());
        metrics::histogram!("portico_plugin_call_fuel", "family" => family)
            .record(report.fuel_used as f64);
        report
    }
}
