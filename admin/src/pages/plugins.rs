//! The clinic's WebAssembly plugins in the console: versions with their
//! call figures and recent failures, upload, activation with settings,
//! deactivation, deletion, and dry runs on sample inputs.

use std::sync::Arc;

use crate::views::{
    Console, DryRunResult, HookSample, PluginFailureRow, PluginRow, PluginsView, SettingField,
};
use poem::http::StatusCode;
use poem::web::{Data, Form, Multipart, Path};
use poem::{Request, Response, handler};
use portico_plugins::sandbox::grouped;
use portico_plugins::{Hook, HookInput, Manifest, SettingType};
use portico_tenants::domain::PluginId;
use portico_tenants::plugins::{PluginName, PluginSettings};
use portico_tenants::{DomainError, acts};
use serde::Deserialize;

use super::{CsrfOnly, Signed, page, refusal, render_failed};
use portico_web::AppState;
use portico_web::error::ApiError;
use portico_web::files::{FileForm, human_size};

/// How many recent failures each version shows.
const RECENT_FAILURES: i64 = 5;

fn ms(us: Option<i64>) -> Option<String> {
    us.map(|us| format!("{:.1}", us as f64 / 1000.0))
}

#[derive(Default)]
struct DryRunForm {
    result: Option<DryRunResult>,
    hook: String,
    input: String,
}

async fn plugins_page(
    state: &AppState,
    console: &Console,
    signed: Signed,
    dry: DryRunForm,
    status: StatusCode,
) -> poem::Result<Response> {
    let services = &state.services;
    let t = &signed.tenant.tenant;
    let zone = &t.settings.time_zone;
    let overview = services
        .plugin_overview(&signed.caller)
        .await
        .map_err(ApiError::from)?;
    let settings_text = |settings: &PluginSettings| {
        settings
            .as_slice()
            .iter()
            .map(|s| format!("{}={}", s.name, s.value))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut plugins = Vec::with_capacity(overview.len());
    for o in &overview {
        // What activating it would run with: its own settings when active,
        // else its family's active ones, which carry over.
        let family_active = overview
            .iter()
            .find_map(|other| {
                other
                    .active
                    .as_ref()
                    .filter(|a| a.family == o.version.family)
            })
            .map(|a| &a.settings);
        let failures = services
            .plugin_calls(&signed.caller, o.version.id, true, RECENT_FAILURES)
            .await
            .map_err(ApiError::from)?;
        plugins.push(PluginRow {
            id: o.version.id.to_string(),
            name: o.version.name.clone(),
            version: o.version.version,
            family: o.version.family.to_string(),
            interface: o.version.interface_version.clone(),
            size: human_size(o.version.size_bytes),
            uploaded_at: zone.human(o.version.uploaded_at),
            active: o.active.is_some(),
            settings: family_active.map(settings_text).unwrap_or_default(),
            declared: o.version.manifest.is_declared(),
            reads: o
                .version
                .manifest
                .facts()
                .iter()
                .map(|f| f.in_words())
                .collect(),
            fields: fields(&o.version.manifest, family_active),
            calls: o.stats.calls,
            failures: o.stats.failures,
            denied: o.stats.denied,
            asked: o.stats.asked,
            verification: o.version.family == portico_plugins::HookFamily::Verification,
            peak_fuel: o.stats.peak_fuel_percent.map(|p| format!("{p}%")),
            p50_ms: ms(o.stats.p50_us),
            p95_ms: ms(o.stats.p95_us),
            recent_failures: failures
                .iter()
                .map(|c| PluginFailureRow {
                    at: zone.human(c.at),
                    hook: c.hook.clone(),
                    outcome: c.outcome.clone(),
                    detail: c.detail.clone().unwrap_or_default(),
                })
                .collect(),
        });
    }
    let may_manage = signed.may(state, &acts::PLUGIN_UPLOAD).await?;
    let dry_input = if dry.input.is_empty() {
        Hook::ALL[0].sample_input().to_owned()
    } else {
        dry.input
    };
    let html = console
        .plugins_page(&PluginsView {
            frame: signed.frame,
            may_manage,
            plugins,
            // The same samples `portico plugin run` starts from.
            samples: Hook::ALL
                .iter()
                .map(|hook| HookSample {
                    hook: hook.as_str().to_owned(),
                    input: hook.sample_input().to_owned(),
                })
                .collect(),
            dry_run: dry.result,
            dry_hook: dry.hook,
            dry_input,
        })
        .map_err(render_failed)?;
    Ok(page(html, status))
}

/// A declared version's settings as the activation form's fields, filled
/// with what activating would run with.
fn fields(manifest: &Manifest, active: Option<&PluginSettings>) -> Vec<SettingField> {
    manifest
        .settings()
        .iter()
        .map(|spec| {
            let current = active
                .and_then(|a| a.as_slice().iter().find(|s| s.name == spec.name))
                .map(|s| s.value.clone());
            let (control, min, max, options) = match &spec.kind {
                SettingType::Text => ("text", None, None, Vec::new()),
                SettingType::TextList => ("list", None, None, Vec::new()),
                SettingType::WholeNumber { min, max } => ("number", Some(*min), Some(*max), vec![]),
                SettingType::YesNo => ("select", None, None, vec!["yes".into(), "no".into()]),
                SettingType::Choice { values } => ("select", None, None, values.clone()),
            };
            SettingField {
                name: spec.name.clone(),
                label: spec.label.clone(),
                description: spec.description.clone(),
                control,
                min,
                max,
                options,
                value: current.or_else(|| spec.default.clone()).unwrap_or_default(),
                required: spec.default.is_none(),
                kind: spec.kind.to_string(),
            }
        })
        .collect()
}

#[handler]
pub(super) async fn list(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let mut signed = Signed::of(&state, req).await?;
    signed.notice_from(
        req,
        &[
            (
                "uploaded",
                "Uploaded and checked. Activate it when you are ready.",
            ),
            ("activated", "Active: the next mail or check uses it."),
            (
                "deactivated",
                "Deactivated: the built-in behaviour is back.",
            ),
            ("deleted", "Version deleted."),
        ],
    );
    plugins_page(
        &state,
        &console,
        signed,
        DryRunForm::default(),
        StatusCode::OK,
    )
    .await
}

#[handler]
pub(super) async fn upload(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    multipart: Multipart,
) -> poem::Result<Response> {
    let mut form = FileForm::read(multipart).await?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let name = PluginName::parse(form.title.trim())?;
        let (_, wasm) = form.file.take().ok_or_else(|| {
            DomainError::refused(
                portico_tenants::RefusalKind::Missing,
                "file_missing",
                "choose the component's .wasm file",
            )
        })?;
        state
            .services
            .plugin_upload(&signed.caller, &name, wasm)
            .await
    }
    .await;
    signed
        .finish(outcome, "/plugins", "uploaded", |signed, status| {
            plugins_page(&state, &console, signed, DryRunForm::default(), status)
        })
        .await
}

fn parse_plugin(raw: &str) -> poem::Result<PluginId> {
    PluginId::parse(raw).map_err(|_| ApiError::not_found("not_found", "plugin not found").into())
}

/// The prefix of a declared setting's field in the activation form.
const SETTING_FIELD: &str = "setting.";

/// The settings an activation form gives: a declared version's fields
/// (`setting.NAME`), or an undeclared one's `name=value` lines.
fn activation_settings(fields: &[(String, String)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix(SETTING_FIELD)?;
            Some((name.to_owned(), value.clone()))
        })
        .collect();
    if let Some((_, lines)) = fields.iter().find(|(key, _)| key == "settings") {
        pairs.extend(
            lines
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| match l.split_once('=') {
                    Some((k, v)) => (k.trim().to_owned(), v.trim().to_owned()),
                    None => (l.to_owned(), String::new()),
                }),
        );
    }
    pairs
}

#[handler]
pub(super) async fn activate(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> poem::Result<Response> {
    let id = parse_plugin(&id)?;
    let csrf = fields
        .iter()
        .find(|(key, _)| key == "csrf_token")
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    let signed = Signed::posting(&state, req, csrf).await?;
    let outcome = async {
        let settings = PluginSettings::parse(activation_settings(&fields))?;
        state
            .services
            .plugin_activate(&signed.caller, id, Some(&settings))
            .await
    }
    .await;
    signed
        .finish(outcome, "/plugins", "activated", |signed, status| {
            plugins_page(&state, &console, signed, DryRunForm::default(), status)
        })
        .await
}

#[handler]
pub(super) async fn deactivate(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> poem::Result<Response> {
    let id = parse_plugin(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let family = state
            .services
            .plugin_overview(&signed.caller)
            .await?
            .into_iter()
            .find(|o| o.version.id == id)
            .map(|o| o.version.family)
            .ok_or(DomainError::NotFound("plugin"))?;
        state
            .services
            .plugin_deactivate(&signed.caller, family)
            .await
    }
    .await;
    signed
        .finish(outcome, "/plugins", "deactivated", |signed, status| {
            plugins_page(&state, &console, signed, DryRunForm::default(), status)
        })
        .await
}

#[handler]
pub(super) async fn delete(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> poem::Result<Response> {
    let id = parse_plugin(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = state.services.plugin_delete(&signed.caller, id).await;
    signed
        .finish(outcome, "/plugins", "deleted", |signed, status| {
            plugins_page(&state, &console, signed, DryRunForm::default(), status)
        })
        .await
}

#[derive(Deserialize)]
pub(super) struct DryRunPost {
    csrf_token: String,
    plugin: String,
    hook: String,
    input: String,
}

/// Runs a version on the given input with the limits of a real call and
/// shows what came out, including a failure and the guest's log.
#[handler]
pub(super) async fn dry_run(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<DryRunPost>,
) -> poem::Result<Response> {
    let id = parse_plugin(&form.plugin)?;
    let mut signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let hook: Result<Hook, _> = form.hook.parse();
    let own_settings = serde_json::from_str::<serde_json::Value>(&form.input)
        .is_ok_and(|v| v.get("settings").is_some());
    let input = hook.as_ref().map_err(ToString::to_string).and_then(|hook| {
        HookInput::from_json(*hook, &form.input)
            .map_err(|e| format!("The input does not fit the {hook} hook: {e}."))
    });
    let mut dry = DryRunForm {
        result: None,
        hook: form.hook.clone(),
        input: form.input.clone(),
    };
    let (hook, input) = match (hook, input) {
        (Ok(hook), Ok(input)) => (hook, input),
        (_, Err(message)) => {
            signed.frame.error = Some(message);
            return plugins_page(
                &state,
                &console,
                signed,
                dry,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        (Err(_), Ok(_)) => unreachable!("an input is parsed only for a known hook"),
    };
    let name = state
        .services
        .plugin_overview(&signed.caller)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .find(|o| o.version.id == id)
        .map(|o| format!("{} version {}", o.version.name, o.version.version))
        .unwrap_or_default();
    match state
        .services
        .plugin_dry_run(&signed.caller, id, input, own_settings)
        .await
    {
        Ok(run) => {
            let report = &run.report;
            let (outcome, detail, output) = match &report.outcome {
                Ok(output) => (
                    "ok".to_owned(),
                    None,
                    serde_json::to_string_pretty(output).ok(),
                ),
                Err(failure) => (
                    failure.kind.as_str().to_owned(),
                    Some(failure.detail.clone()),
                    None,
                ),
            };
            dry.result = Some(DryRunResult {
                plugin: name,
                hook: hook.as_str().to_owned(),
                outcome,
                detail,
                output,
                log: report
                    .log
                    .lines
                    .iter()
                    // The level in lower case, the plugin's words as it
                    // wrote them.
                    .map(|l| format!("{}: {}", l.level.as_str(), l.message))
                    .collect(),
                fuel_used: grouped(report.fuel_used),
                fuel_limit: grouped(report.fuel_limit),
                fuel_percent: format!("{}%", report.fuel_percent()),
                elapsed_us: report.elapsed.as_micros(),
                settings_from: run.settings_from.in_words().to_owned(),
            });
            plugins_page(&state, &console, signed, dry, StatusCode::OK).await
        }
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            plugins_page(&state, &console, signed, dry, status).await
        }
    }
}
