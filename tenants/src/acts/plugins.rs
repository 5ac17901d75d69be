//! The plugin lifecycle for a clinic's owners and admins: upload (checked
//! and compiled at once), list, activate one version per family with the
//! clinic's settings, deactivate, delete, dry-run, and read the calls.

use std::sync::Arc;

use portico_plugins::{CallReport, HookFamily, HookInput};

use crate::acts;
use crate::domain::InvalidValue;
use crate::domain::PluginId;
use crate::door::{Caller, Passage};
use crate::error::{DomainError, RefusalKind};
use crate::plugins::model::{PluginName, PluginSettings};
use crate::plugins::store::{self, Activation, CallRecord, CallStats, NewPlugin, PluginVersion};
use crate::services::Services;

/// A version with what the console shows beside it.
#[derive(Debug, Clone)]
pub struct PluginOverview {
    pub version: PluginVersion,
    pub active: Option<Activation>,
    pub stats: CallStats,
}

/// What a dry run produced: the report, kept as a call marked dry.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub call_id: String,
    pub report: CallReport,
    pub settings_from: SettingsFrom,
}

/// Where a dry run's settings came from. A run tries what a real call
/// would do, so unless the input brings its own, it gets the settings the
/// clinic's active version of the family runs with (which activating
/// another version keeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsFrom {
    /// The input named its own.
    Input,
    /// The family's active version's.
    Active,
    /// The input named none and no version of the family is active.
    Nothing,
}

impl SettingsFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Active => "active",
            Self::Nothing => "none",
        }
    }

    /// For the console, beside the run's figures.
    pub fn in_words(self) -> &'static str {
        match self {
            Self::Input => "settings from the input",
            Self::Active => "the active version's settings",
            Self::Nothing => {
                "only the version's defaults (none in the input, and no version of this kind is active)"
            }
        }
    }
}

/// The facts a version reads, for the audit trail: what the clinic agreed
/// to hand over when it activated it.
fn reads_detail(manifest: &portico_plugins::Manifest) -> String {
    let facts: Vec<&str> = manifest.facts().iter().map(|f| f.as_str()).collect();
    match (manifest.is_declared(), facts.is_empty()) {
        (false, _) => "all(undeclared)".to_owned(),
        (true, true) => "none".to_owned(),
        (true, false) => facts.join(","),
    }
}

fn not_found() -> DomainError {
    DomainError::NotFound("plugin")
}

impl Services {
    /// Checks, compiles and stores a new version. A refused component is
    /// audited with the reason and nothing is stored.
    pub async fn plugin_upload(
        &self,
        caller: &Caller,
        name: &PluginName,
        wasm: Vec<u8>,
    ) -> Result<PluginVersion, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PLUGIN_UPLOAD,
                format!("plugin:{}", name.as_str()),
            )
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let wasm = Arc::new(wasm);
            let plugin = self.plugins.admit(wasm.clone()).await.map_err(|refusal| {
                DomainError::refused(RefusalKind::Malformed, refusal.code(), refusal.to_string())
            })?;
            let mut tx = pass.write().await?;
            let stored = store::insert_plugin(
                &mut tx,
                &NewPlugin {
                    name,
                    family: plugin.family,
                    interface_version: plugin.version.as_str(),
                    sha256: &plugin.sha256,
                    wasm: &wasm,
                    uploaded_by: &format!("staff:{staff}"),
                    manifest: &plugin.manifest,
                },
            )
            .await?;
            pass.target(format!("plugin:{}", stored.id));
            pass.detail(format!(
                "name={} version={} family={} interface={} sha256={} reads={}",
                stored.name,
                stored.version,
                stored.family,
                stored.interface_version,
                stored.sha256,
                reads_detail(&stored.manifest)
            ));
            pass.commit(tx).await?;
            self.plugins
                .remember(pass.tenant().id, stored.id, plugin)
                .await;
            Ok(stored)
        }
        .await;
        pass.finish(done).await
    }

    pub async fn plugin_overview(
        &self,
        caller: &Caller,
    ) -> Result<Vec<PluginOverview>, DomainError> {
        let pass = self.enter(caller, &acts::PLUGINS_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let versions = store::plugins(&mut tx).await?;
            let activations = store::activations(&mut tx).await?;
            let mut overview = Vec::with_capacity(versions.len());
            for version in versions {
                let stats = store::call_stats(&mut tx, version.id).await?;
                let active = activations
                    .iter()
                    .find(|a| a.plugin_id == version.id)
                    .cloned();
                overview.push(PluginOverview {
                    version,
                    active,
                    stats,
                });
            }
            tx.commit().await?;
            Ok(overview)
        }
        .await;
        pass.finish(done).await
    }

    /// Makes `id` its family's active version. `None` keeps the settings
    /// the family's active version runs with (none when nothing is
    /// active), so moving to a new version does not wipe them.
    pub async fn plugin_activate(
        &self,
        caller: &Caller,
        id: PluginId,
        settings: Option<&PluginSettings>,
    ) -> Result<Activation, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::PLUGIN_ACTIVATE, format!("plugin:{id}"))
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let mut tx = pass.write().await?;
            let version = store::plugin(&mut tx, id).await?.ok_or_else(not_found)?;
            // Kept only when there is something to keep; with nothing
            // active, leaving them out is giving none.
            let (given, kept) = match settings {
                Some(given) => (given.clone(), false),
                None => match store::activation(&mut tx, version.family).await? {
                    Some(active) => (active.settings, true),
                    None => (PluginSettings::default(), false),
                },
            };
            // Checked against what this version declares, kept ones too:
            // the version before may have taken other settings.
            let settings = version
                .manifest
                .settle(given.as_slice())
                .map_err(|refused| {
                    DomainError::Invalid(InvalidValue::new(
                        "settings",
                        if kept {
                            format!(
                                "the settings kept from the active version do not fit version {}: {refused}; give its settings",
                                version.version
                            )
                        } else {
                            refused.to_string()
                        },
                    ))
                })
                .and_then(|settled| {
                    PluginSettings::parse(
                        settled.into_iter().map(|s| (s.name, s.value)).collect(),
                    )
                    .map_err(DomainError::Invalid)
                })?;
            store::activate(
                &mut tx,
                version.family,
                id,
                &settings,
                &format!("staff:{staff}"),
            )
            .await?;
            pass.detail(format!(
                "family={} name={} version={} settings={}{} reads={}",
                version.family,
                version.name,
                version.version,
                settings.as_slice().len(),
                if kept { " (kept)" } else { "" },
                reads_detail(&version.manifest)
            ));
            let active = store::activation(&mut tx, version.family)
                .await?
                .ok_or_else(not_found)?;
            pass.commit(tx).await?;
            Ok(active)
        }
        .await;
        pass.finish(done).await
    }

    pub async fn plugin_deactivate(
        &self,
        caller: &Caller,
        family: HookFamily,
    ) -> Result<(), DomainError> {
        let mut pass = self.enter(caller, &acts::PLUGIN_DEACTIVATE).await?;
        let done = async {
            let mut tx = pass.write().await?;
            if !store::deactivate(&mut tx, family).await? {
                return Err(DomainError::refused(
                    RefusalKind::NotFound,
                    "no_active_plugin",
                    format!("no {family} plugin is active"),
                ));
            }
            pass.detail(format!("family={family}"));
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    pub async fn plugin_delete(&self, caller: &Caller, id: PluginId) -> Result<(), DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::PLUGIN_DELETE, format!("plugin:{id}"))
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            let version = store::plugin(&mut tx, id).await?.ok_or_else(not_found)?;
            if store::activation(&mut tx, version.family)
                .await?
                .is_some_and(|a| a.plugin_id == id)
            {
                return Err(DomainError::refused(
                    RefusalKind::Conflict,
                    "plugin_active",
                    "this version is active; deactivate it or activate another first",
                ));
            }
            store::delete_plugin(&mut tx, id).await?;
            pass.detail(format!("name={} version={}", version.name, version.version));
            pass.commit(tx).await?;
            self.plugins.forget(pass.tenant().id, id).await;
            Ok(())
        }
        .await;
        pass.finish(done).await
    }

    /// Runs a version on a sample input, with the limits of real calls,
    /// and keeps the call (marked dry) with its log. `own_settings` says
    /// whether the input names its settings; when it does not, the run
    /// gets the active version's (see [`SettingsFrom`]).
    pub async fn plugin_dry_run(
        &self,
        caller: &Caller,
        id: PluginId,
        input: HookInput,
        own_settings: bool,
    ) -> Result<DryRun, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::PLUGIN_DRY_RUN, format!("plugin:{id}"))
            .await?;
        let done = async {
            let (version, active) = {
                let mut tx = pass.read().await?;
                let version = store::plugin(&mut tx, id).await?.ok_or_else(not_found)?;
                let active = store::activation(&mut tx, version.family).await?;
                tx.commit().await?;
                (version, active)
            };
            if input.hook().family() != version.family {
                return Err(DomainError::refused(
                    RefusalKind::Malformed,
                    "hook_not_in_family",
                    format!("a {} plugin has no {} hook", version.family, input.hook()),
                ));
            }
            let (given, settings_from) = match (own_settings, &active) {
                (true, _) => (input.settings().to_vec(), SettingsFrom::Input),
                (false, Some(active)) => {
                    (active.settings.as_slice().to_vec(), SettingsFrom::Active)
                }
                (false, None) => (Vec::new(), SettingsFrom::Nothing),
            };
            // Settled as activation settles them: checked against this
            // version's manifest, with its defaults.
            let settled = version.manifest.settle(&given).map_err(|refused| {
                DomainError::Invalid(InvalidValue::new(
                    "input.settings",
                    match settings_from {
                        SettingsFrom::Input => refused.to_string(),
                        SettingsFrom::Active => format!(
                            "the active version's settings do not fit this version: {refused}; give settings in the input"
                        ),
                        SettingsFrom::Nothing => format!(
                            "{refused}; give settings in the input, as no version of this kind is active"
                        ),
                    },
                ))
            })?;
            let input = input.with_settings(settled);
            let plugin = self.load_plugin(&pass, id).await?.ok_or_else(not_found)?;
            let hook = input.hook();
            let report = self.plugins.call(plugin, input).await;
            let mut tx = pass.write().await?;
            let call_id = store::insert_call(&mut tx, id, hook, &report, true).await?;
            pass.detail(format!(
                "call={call_id} hook={hook} settings={}",
                settings_from.as_str()
            ));
            pass.commit(tx).await?;
            Ok(DryRun {
                call_id,
                report,
                settings_from,
            })
        }
        .await;
        pass.finish(done).await
    }

    pub async fn plugin_calls(
        &self,
        caller: &Caller,
        id: PluginId,
        failures_only: bool,
        limit: i64,
    ) -> Result<Vec<CallRecord>, DomainError> {
        let pass = self
            .enter_about(caller, &acts::PLUGINS_READ, format!("plugin:{id}"))
            .await?;
        let done = async {
            let mut tx = pass.read().await?;
            store::plugin(&mut tx, id).await?.ok_or_else(not_found)?;
            let calls = store::calls(&mut tx, id, failures_only, limit.clamp(1, 200)).await?;
            tx.commit().await?;
            Ok(calls)
        }
        .await;
        pass.finish(done).await
    }

    /// The compiled, pre-instantiated plugin for a version of the clinic
    /// `pass` is in.
    pub(crate) async fn load_plugin(
        &self,
        pass: &Passage<'_>,
        id: PluginId,
    ) -> Result<Option<portico_plugins::Plugin>, DomainError> {
        let loaded = self
            .plugins
            .loaded(pass.tenant().id, id, async || {
                let mut tx = pass.read().await.ok()?;
                store::plugin_wasm(&mut tx, id).await.ok().flatten()
            })
            .await;
        match loaded {
            Ok(plugin) => Ok(plugin),
            // It compiled at upload; failing now means the engine changed
            // under it (an upgrade). Treated as a failing plugin.
            Err(refusal) => Err(DomainError::refused(
                RefusalKind::Conflict,
                "plugin_unloadable",
                refusal.to_string(),
            )),
        }
    }
}
