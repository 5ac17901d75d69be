//! A clinic's WebAssembly plugins: upload, list, activate, deactivate,
//! delete, dry-run, and the record of their calls.

use std::collections::BTreeMap;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use portico_plugins::{Hook, HookFamily, HookInput, Manifest, SettingType};
use portico_tenants::acts::plugins::{DryRun, PluginOverview};
use portico_tenants::domain::PluginId;
use portico_tenants::plugins::{Activation, CallRecord, PluginName, PluginSettings, PluginVersion};

use super::ApiTags;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::{ApiError, ApiResult};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct PluginsApi;

#[derive(Object)]
pub struct PluginVersionView {
    pub id: String,
    pub name: String,
    /// 1, 2, 3... per name.
    pub version: i64,
    /// `email-rendering` or `verification`.
    pub family: String,
    /// The `portico:plugins` interface version it was built against.
    pub interface_version: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub uploaded_at: String,
    /// What the version declared it reads and takes.
    pub manifest: ManifestView,
}

/// A version's declaration (interface 4.0.0): the patient facts it is
/// handed and the settings it takes. Shown to the clinic before it
/// activates the version; activation checks settings against it.
#[derive(Object)]
pub struct ManifestView {
    /// False for a version built against an interface before 4.0.0: it
    /// declared nothing, is handed every fact in `reads`, and takes any
    /// settings.
    pub declared: bool,
    /// The patient facts handed to it: `name`, `date_of_birth`,
    /// `home_zip_code`, `email`. Every other one is withheld.
    pub reads: Vec<String>,
    /// The settings it takes, in its own order.
    pub settings: Vec<SettingSpecView>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SettingSpecView {
    /// The name settings are given under.
    pub name: String,
    pub label: String,
    pub description: String,
    /// `text`, `text_list`, `whole_number`, `yes_no` or `choice`.
    #[oai(rename = "type")]
    pub kind: String,
    /// A `whole_number`'s bounds.
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// A `choice`'s values.
    pub choices: Option<Vec<String>>,
    /// Taken when no value is given; a setting without one must be given.
    pub default: Option<String>,
}

impl From<&Manifest> for ManifestView {
    fn from(m: &Manifest) -> Self {
        Self {
            declared: m.is_declared(),
            reads: m.facts().iter().map(|f| f.as_str().to_owned()).collect(),
            settings: m
                .settings()
                .iter()
                .map(|spec| {
                    let (min, max) = match spec.kind {
                        SettingType::WholeNumber { min, max } => (Some(min), Some(max)),
                        _ => (None, None),
                    };
                    SettingSpecView {
                        name: spec.name.clone(),
                        label: spec.label.clone(),
                        description: spec.description.clone(),
                        kind: spec.kind.name().to_owned(),
                        min,
                        max,
                        choices: match &spec.kind {
                            SettingType::Choice { values } => Some(values.clone()),
                            _ => None,
                        },
                        default: spec.default.clone(),
                    }
                })
                .collect(),
        }
    }
}

impl From<&PluginVersion> for PluginVersionView {
    fn from(v: &PluginVersion) -> Self {
        Self {
            id: v.id.to_string(),
            name: v.name.clone(),
            version: v.version,
            family: v.family.as_str().into(),
            interface_version: v.interface_version.clone(),
            sha256: v.sha256.clone(),
            size_bytes: v.size_bytes,
            uploaded_at: v.uploaded_at.to_rfc3339(),
            manifest: ManifestView::from(&v.manifest),
        }
    }
}

#[derive(Object)]
pub struct ActivationView {
    pub family: String,
    pub plugin_id: String,
    /// The clinic's settings handed to every call.
    pub settings: BTreeMap<String, String>,
    pub activated_at: String,
}

impl From<&Activation> for ActivationView {
    fn from(a: &Activation) -> Self {
        Self {
            family: a.family.as_str().into(),
            plugin_id: a.plugin_id.to_string(),
            settings: a
                .settings
                .as_slice()
                .iter()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect(),
            activated_at: a.activated_at.to_rfc3339(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CallStatsView {
    /// Real calls (dry runs excluded).
    pub calls: i64,
    /// Calls in which the plugin broke: it trapped or panicked, ran out of
    /// fuel, time or memory, or answered out of bounds. A broken
    /// verification rule refuses (it fails closed) but is counted here,
    /// not under `denied`.
    pub failures: i64,
    /// Verification decisions that refused.
    pub denied: i64,
    /// Verification decisions that asked the patient for more.
    pub asked: i64,
    /// Latency over the most recent 500 calls, in microseconds.
    pub p50_us: Option<i64>,
    pub p95_us: Option<i64>,
    /// The largest share of its instruction budget one of those calls
    /// used, in percent.
    pub peak_fuel_percent: Option<f64>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PluginOverviewView {
    #[oai(flatten)]
    pub version: PluginVersionView,
    /// Present when this version is its family's active one.
    pub active: Option<ActivationView>,
    pub stats: CallStatsView,
}

impl From<&PluginOverview> for PluginOverviewView {
    fn from(o: &PluginOverview) -> Self {
        Self {
            version: PluginVersionView::from(&o.version),
            active: o.active.as_ref().map(ActivationView::from),
            stats: CallStatsView {
                calls: o.stats.calls,
                failures: o.stats.failures,
                denied: o.stats.denied,
                asked: o.stats.asked,
                p50_us: o.stats.p50_us,
                p95_us: o.stats.p95_us,
                peak_fuel_percent: o.stats.peak_fuel_percent,
            },
        }
    }
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct ActivateRequest {
    /// Settings for the plugin, such as `refused_domains`. For a version
    /// that declares its settings (`manifest.declared`), each is checked
    /// against its type and the ones left out take their defaults. Leave
    /// it out to keep the settings the family's active version runs with
    /// (checked against this version too); `{}` clears them.
    pub settings: Option<BTreeMap<String, String>>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct DryRunRequest {
    /// `render-email`, `check-redemption`, `check-portal-access` or
    /// `check-email`.
    #[oai(validator(max_length = 40))]
    pub hook: Text,
    /// The hook's input, as in `portico plugin run --input`. Without a
    /// `settings` object, the run gets the settings of the family's active
    /// version, as a real call would.
    pub input: serde_json::Value,
}

/// One call's outcome, log, fuel and time.
#[derive(Object)]
#[oai(rename = "PluginCall", skip_serializing_if_is_none)]
pub struct CallView {
    pub id: String,
    pub hook: String,
    /// `ok`, or why it failed: `trap`, `fuel`, `timeout`, `memory`,
    /// `bad_output`, `bad_input`.
    pub outcome: String,
    /// For a failure, what happened.
    pub detail: Option<String>,
    /// For a call that worked, what it answered: `allow`, `deny`,
    /// `ask_for`, `rendered` or `declined`.
    pub answer: Option<String>,
    /// What the plugin returned (dry runs only).
    pub output: Option<serde_json::Value>,
    pub dry_run: bool,
    /// Instructions the call used.
    pub fuel_used: i64,
    /// Its instruction budget (absent for calls recorded before the
    /// budget was kept).
    pub fuel_limit: Option<i64>,
    /// `fuel_used` as a share of `fuel_limit`, in percent.
    pub fuel_percent: Option<f64>,
    pub elapsed_us: i64,
    /// `{"lines": [{"level", "message"}], "dropped": n}`.
    pub log: serde_json::Value,
    pub at: String,
    /// Dry runs only: whose settings the plugin got, `input` (its own),
    /// `active` (the family's active version's) or `none`.
    pub settings_from: Option<String>,
}

impl From<&CallRecord> for CallView {
    fn from(c: &CallRecord) -> Self {
        Self {
            id: c.id.clone(),
            hook: c.hook.clone(),
            outcome: c.outcome.clone(),
            detail: c.detail.clone(),
            answer: c.answer.clone(),
            output: None,
            dry_run: c.dry_run,
            fuel_used: c.fuel_used,
            fuel_limit: c.fuel_limit,
            fuel_percent: c.fuel_percent(),
            elapsed_us: c.elapsed_us,
            log: c.log.clone(),
            at: c.at.to_rfc3339(),
            settings_from: None,
        }
    }
}

fn dry_run_view(run: &DryRun, hook: Hook) -> CallView {
    let report = &run.report;
    let (outcome, detail, output, answer) = match &report.outcome {
        Ok(output) => (
            "ok".to_owned(),
            None,
            serde_json::to_value(output).ok(),
            Some(output.answer().to_owned()),
        ),
        Err(failure) => (
            failure.kind.as_str().to_owned(),
            Some(failure.detail.clone()),
            None,
            None,
        ),
    };
    CallView {
        id: run.call_id.clone(),
        hook: hook.as_str().into(),
        outcome,
        detail,
        answer,
        output,
        dry_run: true,
        fuel_used: i64::try_from(report.fuel_used).unwrap_or(i64::MAX),
        fuel_limit: Some(i64::try_from(report.fuel_limit).unwrap_or(i64::MAX)),
        fuel_percent: Some(report.fuel_percent()),
        elapsed_us: i64::try_from(report.elapsed.as_micros()).unwrap_or(i64::MAX),
        log: serde_json::to_value(&report.log).unwrap_or_default(),
        at: portico_tenants::domain::Timestamp::now().to_rfc3339(),
        settings_from: Some(run.settings_from.as_str().to_owned()),
    }
}

#[derive(ApiResponse)]
enum Done {
    /// Done; nothing to return.
    #[oai(status = 204)]
    NoContent,
}

fn parse_plugin_id(raw: &str) -> Result<PluginId, ApiError> {
    PluginId::parse(raw).map_err(|_| ApiError::not_found("not_found", "plugin not found"))
}

#[OpenApi(tag = "ApiTags::Plugins")]
impl PluginsApi {
    /// Upload a plugin version: a WebAssembly component built for
    /// `wasm32-wasip2`, sent as `application/octet-stream`. It is checked and
    /// compiled at once; a component that imports anything plugins may not
    /// have is refused with the import named.
    #[oai(path = "/v1/plugins", method = "post")]
    async fn upload(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        /// The plugin's name in this clinic, such as `branded-email`.
        name: Query<String>,
        body: Binary<Vec<u8>>,
    ) -> ApiResult<Json<PluginVersionView>> {
        let name = PluginName::parse(&name.0)?;
        let stored = state
            .services
            .plugin_upload(&session.caller, &name, body.0)
            .await?;
        Ok(Json(PluginVersionView::from(&stored)))
    }

    /// Every uploaded version, with which are active, their settings, and
    /// their call counts and latency.
    #[oai(path = "/v1/plugins", method = "get")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<Vec<PluginOverviewView>>> {
        let overview = state.services.plugin_overview(&session.caller).await?;
        Ok(Json(
            overview.iter().map(PluginOverviewView::from).collect(),
        ))
    }

    /// Make this version its family's active one, with the clinic's
    /// settings for it. Replaces the family's previous active version.
    #[oai(path = "/v1/plugins/:id/activate", method = "post")]
    async fn activate(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        body: JsonBody<ActivateRequest>,
    ) -> ApiResult<Json<ActivationView>> {
        let id = parse_plugin_id(&id.0)?;
        let settings = body
            .0
            .settings
            .map(|given| PluginSettings::parse(given.into_iter().collect()))
            .transpose()?;
        let active = state
            .services
            .plugin_activate(&session.caller, id, settings.as_ref())
            .await?;
        Ok(Json(ActivationView::from(&active)))
    }

    /// Stop using any plugin of this family (`email-rendering` or
    /// `verification`): built-in mail and no extra rules.
    #[oai(path = "/v1/plugins/active/:family", method = "delete")]
    async fn deactivate(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        family: Path<String>,
    ) -> ApiResult<Done> {
        let family: HookFamily =
            family
                .0
                .parse()
                .map_err(|e: portico_plugins::hooks::UnknownHookFamily| {
                    ApiError::not_found("unknown_family", e.to_string())
                })?;
        state
            .services
            .plugin_deactivate(&session.caller, family)
            .await?;
        Ok(Done::NoContent)
    }

    /// Delete a version that is not active, with its call records.
    #[oai(path = "/v1/plugins/:id", method = "delete")]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Done> {
        let id = parse_plugin_id(&id.0)?;
        state.services.plugin_delete(&session.caller, id).await?;
        Ok(Done::NoContent)
    }

    /// Run a version on a sample input, within the limits of real calls:
    /// its output, log, fuel and time.
    #[oai(path = "/v1/plugins/:id/dry-run", method = "post")]
    async fn dry_run(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        body: JsonBody<DryRunRequest>,
    ) -> ApiResult<Json<CallView>> {
        let id = parse_plugin_id(&id.0)?;
        let hook: Hook =
            body.0
                .hook
                .parse()
                .map_err(|e: portico_plugins::hooks::UnknownHook| {
                    let mut err = ApiError::unprocessable("invalid_hook", e.to_string());
                    err.field = Some("hook".into());
                    err
                })?;
        let own_settings = body.0.input.get("settings").is_some();
        let input = HookInput::from_json(hook, &body.0.input.to_string()).map_err(|e| {
            let mut err = ApiError::unprocessable(
                "invalid_input",
                format!("the input does not fit the {hook} hook: {e}"),
            );
            err.field = Some("input".into());
            err
        })?;
        let run = state
            .services
            .plugin_dry_run(&session.caller, id, input, own_settings)
            .await?;
        Ok(Json(dry_run_view(&run, hook)))
    }

    /// The version's most recent calls, newest first; with
    /// `failures_only`, only those that failed.
    #[oai(path = "/v1/plugins/:id/calls", method = "get")]
    async fn calls(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
        failures_only: Query<Option<bool>>,
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<Vec<CallView>>> {
        let id = parse_plugin_id(&id.0)?;
        let calls = state
            .services
            .plugin_calls(
                &session.caller,
                id,
                failures_only.0.unwrap_or(false),
                i64::from(limit.0.unwrap_or(50)),
            )
            .await?;
        Ok(Json(calls.iter().map(CallView::from).collect()))
    }
}
