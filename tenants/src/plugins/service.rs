//! The plugin lifecycle for a clinic's owners and admins: upload (checked
//! and compiled at once), list, activate one version per family with the
//! clinic's settings, deactivate, delete, dry-run, and read the calls.

use std::sync::Arc;

use portico_plugins::{CallReport, HookFamily, HookInput};

use super::model::{PluginName, PluginSettings};
use super::store::{self, Activation, CallRecord, CallStats, NewPlugin, PluginVersion};
use crate::audit::{self, Actor, AuditEvent, ClientInfo};
use crate::domain::{Action, Permission, PluginId, Resource};
use crate::error::{DomainError, RefusalKind};
use crate::registry::Tenant;
use crate::services::Services;
use crate::staff::StaffAuthenticated;

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
}

fn not_found() -> DomainError {
    DomainError::NotFound("plugin")
}

fn read() -> Permission {
    Permission::new(Resource::Plugins, Action::Read)
}

fn write() -> Permission {
    Permission::new(Resource::Plugins, Action::Write)
}

impl Services {
    /// Checks, compiles and stores a new version. A refused component is
    /// audited with the reason and nothing is stored.
    pub async fn plugin_upload(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        name: &PluginName,
        wasm: Vec<u8>,
        client: &ClientInfo,
    ) -> Result<PluginVersion, DomainError> {
        self.authz.require(tenant, who.staff_id(), write()).await?;
        let actor = Actor::Staff(who.staff_id());
        let wasm = Arc::new(wasm);
        let plugin = match self.plugins.admit(wasm.clone()).await {
            Ok(plugin) => plugin,
            Err(refusal) => {
                let mut tx = self.db.tenant_write(tenant.id).await?;
                audit::record(
                    &mut tx,
                    AuditEvent::failure(actor, "plugin.upload", refusal.code(), client)
                        .target(format!("plugin:{}", name.as_str())),
                )
                .await?;
                tx.commit().await?;
                return Err(DomainError::refused(
                    RefusalKind::Malformed,
                    refusal.code(),
                    refusal.to_string(),
                ));
            }
        };
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let stored = store::insert_plugin(
            &mut tx,
            &NewPlugin {
                name,
                family: plugin.family,
                interface_version: plugin.version.as_str(),
                sha256: &plugin.sha256,
                wasm: &wasm,
                uploaded_by: &format!("staff:{}", who.staff_id()),
            },
        )
        .await?;
        audit::record(
            &mut tx,
            AuditEvent::success(actor, "plugin.upload", client)
                .target(format!("plugin:{}", stored.id))
                .reason(format!(
                    "name={} version={} family={} interface={} sha256={}",
                    stored.name,
                    stored.version,
                    stored.family,
                    stored.interface_version,
                    stored.sha256
                )),
        )
        .await?;
        tx.commit().await?;
        self.plugins.remember(tenant.id, stored.id, plugin).await;
        Ok(stored)
    }

    pub async fn plugin_overview(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
    ) -> Result<Vec<PluginOverview>, DomainError> {
        self.authz.require(tenant, who.staff_id(), read()).await?;
        let mut tx = self.db.tenant_read(tenant.id).await?;
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

    pub async fn plugin_activate(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        id: PluginId,
        settings: &PluginSettings,
        client: &ClientInfo,
    ) -> Result<Activation, DomainError> {
        self.authz.require(tenant, who.staff_id(), write()).await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let version = store::plugin(&mut tx, id).await?.ok_or_else(not_found)?;
        store::activate(
            &mut tx,
            version.family,
            id,
            settings,
            &format!("staff:{}", who.staff_id()),
        )
        .await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "plugin.activate", client)
                .target(format!("plugin:{id}"))
                .reason(format!(
                    "family={} name={} version={} settings={}",
                    version.family,
                    version.name,
                    version.version,
                    settings.as_slice().len()
                )),
        )
        .await?;
        let active = store::activation(&mut tx, version.family)
            .await?
            .ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(active)
    }

    pub async fn plugin_deactivate(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        family: HookFamily,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.authz.require(tenant, who.staff_id(), write()).await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        if !store::deactivate(&mut tx, family).await? {
            return Err(DomainError::refused(
                RefusalKind::NotFound,
                "no_active_plugin",
                format!("no {family} plugin is active"),
            ));
        }
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "plugin.deactivate", client)
                .reason(format!("family={family}")),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn plugin_delete(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        id: PluginId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.authz.require(tenant, who.staff_id(), write()).await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
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
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "plugin.delete", client)
                .target(format!("plugin:{id}"))
                .reason(format!("name={} version={}", version.name, version.version)),
        )
        .await?;
        tx.commit().await?;
        self.plugins.forget(tenant.id, id).await;
        Ok(())
    }

    /// Runs a version on a sample input, with the limits of real calls,
    /// and keeps the call (marked dry) with its log.
    pub async fn plugin_dry_run(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        id: PluginId,
        input: HookInput,
    ) -> Result<DryRun, DomainError> {
        self.authz.require(tenant, who.staff_id(), write()).await?;
        let version = {
            let mut tx = self.db.tenant_read(tenant.id).await?;
            let version = store::plugin(&mut tx, id).await?.ok_or_else(not_found)?;
            tx.commit().await?;
            version
        };
        if input.hook().family() != version.family {
            return Err(DomainError::refused(
                RefusalKind::Malformed,
                "hook_not_in_family",
                format!("a {} plugin has no {} hook", version.family, input.hook()),
            ));
        }
        let plugin = self.load_plugin(tenant, id).await?.ok_or_else(not_found)?;
        let hook = input.hook();
        let report = self.plugins.call(plugin, input).await;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let call_id = store::insert_call(&mut tx, id, hook, &report, true).await?;
        tx.commit().await?;
        Ok(DryRun { call_id, report })
    }

    pub async fn plugin_calls(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        id: PluginId,
        failures_only: bool,
        limit: i64,
    ) -> Result<Vec<CallRecord>, DomainError> {
        self.authz.require(tenant, who.staff_id(), read()).await?;
        let mut tx = self.db.tenant_read(tenant.id).await?;
        store::plugin(&mut tx, id).await?.ok_or_else(not_found)?;
        let calls = store::calls(&mut tx, id, failures_only, limit.clamp(1, 200)).await?;
        tx.commit().await?;
        Ok(calls)
    }

    /// The compiled, pre-instantiated plugin for a clinic's version.
    pub(crate) async fn load_plugin(
        &self,
        tenant: &Tenant,
        id: PluginId,
    ) -> Result<Option<portico_plugins::Plugin>, DomainError> {
        let db = self.db.clone();
        let tenant_id = tenant.id;
        let loaded = self
            .plugins
            .loaded(tenant_id, id, async move || {
                let mut tx = db.tenant_read(tenant_id).await.ok()?;
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
