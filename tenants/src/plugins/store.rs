//! Plugin rows: uploaded versions (immutable), activations, and calls.

use portico_plugins::{CallReport, Hook, HookFamily, Manifest};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::model::{PluginName, PluginSettings};
use crate::coherence::Change;
use crate::domain::{PluginId, Timestamp};
use crate::storage::{StorageError, TenantTx};

/// One uploaded version. The component's bytes stay in the database and
/// are loaded only to compile it.
#[derive(Debug, Clone)]
pub struct PluginVersion {
    pub id: PluginId,
    pub name: String,
    pub version: i64,
    pub family: HookFamily,
    pub interface_version: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub uploaded_by: String,
    pub uploaded_at: Timestamp,
    /// What it declared it reads and takes; undeclared before 4.0.0.
    pub manifest: Manifest,
}

#[derive(Debug, Clone)]
pub struct Activation {
    pub family: HookFamily,
    pub plugin_id: PluginId,
    pub settings: PluginSettings,
    pub activated_by: String,
    pub activated_at: Timestamp,
}

/// One call, as kept for the clinic's admins.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub id: String,
    pub plugin_id: PluginId,
    pub hook: String,
    /// `ok` or the failure kind.
    pub outcome: String,
    pub detail: Option<String>,
    pub dry_run: bool,
    pub fuel_used: i64,
    /// The budget it ran under; unknown for calls recorded before it was
    /// kept.
    pub fuel_limit: Option<i64>,
    /// What a call that worked answered (see `HookOutput::answer`).
    pub answer: Option<String>,
    pub elapsed_us: i64,
    /// The guest log as JSON (`{"lines": [...], "dropped": n}`).
    pub log: serde_json::Value,
    pub at: Timestamp,
}

impl CallRecord {
    /// The share of its budget the call used, in percent.
    pub fn fuel_percent(&self) -> Option<f64> {
        let limit = u64::try_from(self.fuel_limit?).ok()?;
        Some(portico_plugins::sandbox::fuel_percent(
            u64::try_from(self.fuel_used).unwrap_or(0),
            limit,
        ))
    }
}

/// Counts and latency of a plugin's calls (dry runs excluded).
///
/// A verification rule's refusals (`denied`) and the times the plugin
/// itself broke (`failures`) are counted apart: both keep a patient out,
/// but only one is the clinic's rule at work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStats {
    pub calls: i64,
    /// Calls that trapped, ran out of a limit, or answered out of bounds.
    pub failures: i64,
    /// Decisions that refused.
    pub denied: i64,
    /// Decisions that asked the patient for more.
    pub asked: i64,
    /// The largest share of its instruction budget a recent call used,
    /// in percent.
    pub peak_fuel_percent: Option<f64>,
    /// Over the most recent calls.
    pub p50_us: Option<i64>,
    pub p95_us: Option<i64>,
}

fn corrupt(e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

fn family_from(raw: &str) -> Result<HookFamily, StorageError> {
    raw.parse().map_err(corrupt)
}

/// Column lists as macros, so that each query stays a static string.
macro_rules! version_columns {
    () => {
        "id, name, version, family, interface_version, sha256, size_bytes, uploaded_by, uploaded_at, manifest"
    };
}
macro_rules! activation_columns {
    () => {
        "family, plugin_id, settings, activated_by, activated_at"
    };
}
macro_rules! call_columns {
    () => {
        "id, plugin_id, hook, outcome, detail, dry_run, fuel_used, elapsed_us, log, at, fuel_limit, answer"
    };
}

fn version_from_row(row: &AnyRow) -> Result<PluginVersion, StorageError> {
    Ok(PluginVersion {
        id: PluginId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        name: row.try_get(1)?,
        version: row.try_get(2)?,
        family: family_from(&row.try_get::<String, _>(3)?)?,
        interface_version: row.try_get(4)?,
        sha256: row.try_get(5)?,
        size_bytes: row.try_get(6)?,
        uploaded_by: row.try_get(7)?,
        uploaded_at: Timestamp::from_unix_millis(row.try_get(8)?),
        manifest: match row.try_get::<Option<String>, _>(9)? {
            Some(json) => serde_json::from_str(&json).map_err(corrupt)?,
            None => Manifest::undeclared(),
        },
    })
}

pub(crate) struct NewPlugin<'a> {
    pub name: &'a PluginName,
    pub family: HookFamily,
    pub interface_version: &'a str,
    pub sha256: &'a str,
    pub wasm: &'a [u8],
    pub uploaded_by: &'a str,
    pub manifest: &'a Manifest,
}

/// Stores a new version, numbered one past the name's latest.
pub(crate) async fn insert_plugin(
    tx: &mut TenantTx,
    new: &NewPlugin<'_>,
) -> Result<PluginVersion, StorageError> {
    let key = tx.tenant_key();
    let latest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM plugins WHERE tenant_id = $1 AND name = $2")
            .bind(key.clone())
            .bind(new.name.as_str().to_owned())
            .fetch_one(tx.conn())
            .await?;
    let row = sqlx::query(concat!(
        "INSERT INTO plugins (tenant_id, id, name, version, family, interface_version, sha256, size_bytes, wasm, uploaded_by, uploaded_at, manifest)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         RETURNING ",
        version_columns!()
    ))
    .bind(key)
    .bind(PluginId::generate().to_string())
    .bind(new.name.as_str().to_owned())
    .bind(latest.unwrap_or(0) + 1)
    .bind(new.family.as_str())
    .bind(new.interface_version.to_owned())
    .bind(new.sha256.to_owned())
    .bind(new.wasm.len() as i64)
    .bind(new.wasm.to_vec())
    .bind(new.uploaded_by.to_owned())
    .bind(Timestamp::now().unix_millis())
    .bind(serde_json::to_string(new.manifest).expect("a manifest serializes"))
    .fetch_one(tx.conn())
    .await?;
    version_from_row(&row)
}

pub(crate) async fn plugins(tx: &mut TenantTx) -> Result<Vec<PluginVersion>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        version_columns!(),
        " FROM plugins WHERE tenant_id = $1 ORDER BY name, version DESC"
    ))
    .bind(key)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(version_from_row).collect()
}

pub(crate) async fn plugin(
    tx: &mut TenantTx,
    id: PluginId,
) -> Result<Option<PluginVersion>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        version_columns!(),
        " FROM plugins WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(key)
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(version_from_row).transpose()
}

pub(crate) async fn plugin_wasm(
    tx: &mut TenantTx,
    id: PluginId,
) -> Result<Option<Vec<u8>>, StorageError> {
    let key = tx.tenant_key();
    Ok(
        sqlx::query_scalar("SELECT wasm FROM plugins WHERE tenant_id = $1 AND id = $2")
            .bind(key)
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// Deletes a version and its call records. The caller has checked that it
/// is not active.
pub(crate) async fn delete_plugin(tx: &mut TenantTx, id: PluginId) -> Result<(), StorageError> {
    plugins_changed(tx);
    let key = tx.tenant_key();
    sqlx::query("DELETE FROM plugin_calls WHERE tenant_id = $1 AND plugin_id = $2")
        .bind(key.clone())
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    sqlx::query("DELETE FROM plugins WHERE tenant_id = $1 AND id = $2")
        .bind(key)
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

fn activation_from_row(row: &AnyRow) -> Result<Activation, StorageError> {
    Ok(Activation {
        family: family_from(&row.try_get::<String, _>(0)?)?,
        plugin_id: PluginId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
        settings: PluginSettings::from_json(&row.try_get::<String, _>(2)?).map_err(corrupt)?,
        activated_by: row.try_get(3)?,
        activated_at: Timestamp::from_unix_millis(row.try_get(4)?),
    })
}

pub(crate) async fn activations(tx: &mut TenantTx) -> Result<Vec<Activation>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        activation_columns!(),
        " FROM plugin_activations WHERE tenant_id = $1 ORDER BY family"
    ))
    .bind(key)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(activation_from_row).collect()
}

pub(crate) async fn activation(
    tx: &mut TenantTx,
    family: HookFamily,
) -> Result<Option<Activation>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        activation_columns!(),
        " FROM plugin_activations WHERE tenant_id = $1 AND family = $2"
    ))
    .bind(key)
    .bind(family.as_str())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(activation_from_row).transpose()
}

/// Every node keeps a clinic's active versions in memory; each change to
/// them tells the nodes.
fn plugins_changed(tx: &mut TenantTx) {
    tx.changed(Change::Plugins {
        tenant: tx.tenant_id(),
    });
}

/// Makes `plugin_id` its family's active version, replacing any other.
pub(crate) async fn activate(
    tx: &mut TenantTx,
    family: HookFamily,
    plugin_id: PluginId,
    settings: &PluginSettings,
    by: &str,
) -> Result<(), StorageError> {
    plugins_changed(tx);
    let key = tx.tenant_key();
    sqlx::query("DELETE FROM plugin_activations WHERE tenant_id = $1 AND family = $2")
        .bind(key.clone())
        .bind(family.as_str())
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO plugin_activations (tenant_id, family, plugin_id, settings, activated_by, activated_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key)
    .bind(family.as_str())
    .bind(plugin_id.to_string())
    .bind(settings.to_json())
    .bind(by.to_owned())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Returns whether there was an active version to remove.
pub(crate) async fn deactivate(
    tx: &mut TenantTx,
    family: HookFamily,
) -> Result<bool, StorageError> {
    plugins_changed(tx);
    let key = tx.tenant_key();
    let done = sqlx::query("DELETE FROM plugin_activations WHERE tenant_id = $1 AND family = $2")
        .bind(key)
        .bind(family.as_str())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn insert_call(
    tx: &mut TenantTx,
    plugin_id: PluginId,
    hook: Hook,
    report: &CallReport,
    dry_run: bool,
) -> Result<String, StorageError> {
    let key = tx.tenant_key();
    let id = uuid::Uuid::now_v7().to_string();
    let (outcome, detail, answer) = match &report.outcome {
        Ok(output) => ("ok", None, Some(output.answer())),
        Err(failure) => (failure.kind.as_str(), Some(failure.detail.clone()), None),
    };
    sqlx::query(
        "INSERT INTO plugin_calls (tenant_id, id, plugin_id, hook, outcome, detail, dry_run, fuel_used, elapsed_us, log, at, fuel_limit, answer)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(key)
    .bind(id.clone())
    .bind(plugin_id.to_string())
    .bind(hook.as_str())
    .bind(outcome)
    .bind(detail)
    .bind(i64::from(dry_run))
    .bind(i64::try_from(report.fuel_used).unwrap_or(i64::MAX))
    .bind(i64::try_from(report.elapsed.as_micros()).unwrap_or(i64::MAX))
    .bind(serde_json::to_string(&report.log).map_err(corrupt)?)
    .bind(Timestamp::now().unix_millis())
    .bind(i64::try_from(report.fuel_limit).unwrap_or(i64::MAX))
    .bind(answer)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

pub(crate) async fn calls(
    tx: &mut TenantTx,
    plugin_id: PluginId,
    failures_only: bool,
    limit: i64,
) -> Result<Vec<CallRecord>, StorageError> {
    let key = tx.tenant_key();
    let sql = if failures_only {
        concat!(
            "SELECT ",
            call_columns!(),
            " FROM plugin_calls WHERE tenant_id = $1 AND plugin_id = $2 AND outcome <> 'ok'
             ORDER BY at DESC, id DESC LIMIT $3"
        )
    } else {
        concat!(
            "SELECT ",
            call_columns!(),
            " FROM plugin_calls WHERE tenant_id = $1 AND plugin_id = $2
             ORDER BY at DESC, id DESC LIMIT $3"
        )
    };
    let rows = sqlx::query(sql)
        .bind(key)
        .bind(plugin_id.to_string())
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(CallRecord {
                id: row.try_get(0)?,
                plugin_id: PluginId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
                hook: row.try_get(2)?,
                outcome: row.try_get(3)?,
                detail: row.try_get(4)?,
                dry_run: row.try_get::<i64, _>(5)? != 0,
                fuel_used: row.try_get(6)?,
                elapsed_us: row.try_get(7)?,
                log: serde_json::from_str(&row.try_get::<String, _>(8)?).map_err(corrupt)?,
                at: Timestamp::from_unix_millis(row.try_get(9)?),
                fuel_limit: row.try_get(10)?,
                answer: row.try_get(11)?,
            })
        })
        .collect()
}

/// How many recent calls the latency figures are taken over.
const LATENCY_WINDOW: i64 = 500;

pub(crate) async fn call_stats(
    tx: &mut TenantTx,
    plugin_id: PluginId,
) -> Result<CallStats, StorageError> {
    let key = tx.tenant_key();
    let (calls, failures, denied, asked): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*),
                COALESCE(SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN answer = 'deny' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN answer = 'ask_for' THEN 1 ELSE 0 END), 0)
         FROM plugin_calls WHERE tenant_id = $1 AND plugin_id = $2 AND dry_run = 0",
    )
    .bind(key.clone())
    .bind(plugin_id.to_string())
    .fetch_one(tx.conn())
    .await?;
    let recent: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT elapsed_us, fuel_used, fuel_limit FROM plugin_calls
         WHERE tenant_id = $1 AND plugin_id = $2 AND dry_run = 0
         ORDER BY at DESC LIMIT $3",
    )
    .bind(key)
    .bind(plugin_id.to_string())
    .bind(LATENCY_WINDOW)
    .fetch_all(tx.conn())
    .await?;
    let peak_fuel_percent = recent
        .iter()
        .filter_map(|&(_, used, limit)| {
            let limit = u64::try_from(limit?).ok()?;
            Some(portico_plugins::sandbox::fuel_percent(
                u64::try_from(used).unwrap_or(0),
                limit,
            ))
        })
        .reduce(f64::max);
    let mut recent: Vec<i64> = recent.into_iter().map(|(us, _, _)| us).collect();
    recent.sort_unstable();
    let pick = |q: f64| {
        (!recent.is_empty()).then(|| recent[((recent.len() - 1) as f64 * q).round() as usize])
    };
    Ok(CallStats {
        calls,
        failures,
        denied,
        asked,
        peak_fuel_percent,
        p50_us: pick(0.5),
        p95_us: pick(0.95),
    })
}
