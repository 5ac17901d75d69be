//! Pages across patients: the follow-up list of codes not yet redeemed,
//! and the audit trail with its filters, pages and CSV export.

use portico_tenants::acts;
use std::sync::Arc;

use crate::views::{
    AuditFilterForm, AuditLine, AuditSubject, AuditView, Console, FollowUpRow, FollowUpView,
};
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Request, Response, handler};
use portico_tenants::acts::audit_trail::AuditNames;
use portico_tenants::audit::{AuditFilter, AuditPage, AuditRecord, Outcome};
use portico_tenants::domain::{ClinicTimeZone, CodeDelivery, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Signed, page, render_failed};
use portico_web::AppState;
use portico_web::error::ApiError;

/// How many codes the follow-up list shows.
pub(super) const FOLLOW_UP_LIMIT: u32 = 200;
pub(super) const DAY_MS: i64 = 24 * 3600 * 1000;

#[handler]
pub(super) async fn follow_up(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let signed = Signed::of(&state, req).await?;
    let pending = state
        .services
        .pending_codes(&signed.caller, FOLLOW_UP_LIMIT)
        .await
        .map_err(ApiError::from)?;
    let may_act = signed.may(&state, &acts::CODE_REVOKE).await?;
    let zone = &signed.tenant.tenant.settings.time_zone;
    let soon = Timestamp::now().unix_millis() + DAY_MS;
    let rows = pending
        .iter()
        .map(|p| FollowUpRow {
            code_id: p.code.id.to_string(),
            patient_id: p.code.patient_id.to_string(),
            patient_name: p.patient_name.clone(),
            delivery: match p.code.delivery {
                CodeDelivery::Email => "email".into(),
                CodeDelivery::Print => "handout".into(),
            },
            issued_at: zone.human(p.code.issued_at),
            expires_at: zone.human(p.code.expires_at),
            expires_soon: p.code.expires_at.unix_millis() <= soon,
        })
        .collect();
    let html = console
        .follow_up_page(&FollowUpView {
            frame: signed.frame,
            rows,
            may_act,
        })
        .map_err(render_failed)?;
    Ok(page(html, StatusCode::OK))
}

/// The audit filters as a query string carries them; the same for the page
/// and its export.
#[derive(Deserialize, Serialize, Default)]
pub(super) struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    before: Option<String>,
}

impl AuditQuery {
    /// The domain's filter, or what to fix. Days are whole days on the
    /// clinic's clock.
    fn filter(&self, zone: &ClinicTimeZone) -> Result<AuditFilter, String> {
        let text = |raw: &str| Some(raw.trim().to_owned()).filter(|s| !s.is_empty());
        let day = |field: &str, raw: &str, end: bool| -> Result<Option<Timestamp>, String> {
            let raw = raw.trim();
            if raw.is_empty() {
                return Ok(None);
            }
            let (start, next) = zone
                .day("date", raw)
                .map_err(|_| format!("The {field} date must be a date such as 2026-11-23."))?;
            Ok(Some(if end {
                Timestamp::from_unix_millis(next.unix_millis() - 1)
            } else {
                start
            }))
        };
        let outcome = match self.outcome.trim() {
            "" => None,
            raw => {
                Some(Outcome::parse(raw).ok_or("The outcome must be success, failure or denied.")?)
            }
        };
        Ok(AuditFilter {
            actions: text(&self.action).map(|typed| {
                acts::words::matching(&typed)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            }),
            actor_id: None,
            target: text(&self.target),
            outcome,
            since: day("from", &self.since, false)?,
            until: day("until", &self.until, true)?,
        })
    }

    fn form(&self) -> AuditFilterForm {
        AuditFilterForm {
            known_actions: acts::ALL
                .iter()
                .filter_map(|a| {
                    Some((a.name.to_owned(), acts::words::in_words(a.name)?.to_owned()))
                })
                .collect(),
            action: self.action.clone(),
            outcome: self.outcome.clone(),
            target: self.target.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
        }
    }

    fn query_string(&self, before: Option<String>) -> String {
        serde_urlencoded::to_string(AuditQuery {
            before,
            ..self.form_query()
        })
        .unwrap_or_default()
    }

    fn form_query(&self) -> Self {
        Self {
            action: self.action.clone(),
            outcome: self.outcome.clone(),
            target: self.target.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            before: None,
        }
    }
}

fn actor(r: &AuditRecord) -> String {
    match &r.actor_id {
        Some(id) => format!("{}:{id}", r.actor_kind),
        None => r.actor_kind.clone(),
    }
}

/// A refusal's reason code (`wrong_password`) as words; a success's
/// details (`time_zone=Europe/Berlin ...`) as they are.
fn reason_in_words(reason: &str) -> String {
    if reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return reason.replace('_', " ");
    }
    // `code=<uuid>` and the like are for the export; a page shows no ids.
    let is_id = |v: &str| v.len() == 36 && v.matches('-').count() == 4;
    reason
        .split(' ')
        .filter(|part| !part.split_once('=').is_some_and(|(_, v)| is_id(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Who acted, as a person reads it.
fn actor_in_words(r: &AuditRecord, names: &AuditNames) -> String {
    let named = r
        .actor_id
        .as_deref()
        .and_then(|id| names.of(&r.actor_kind, id));
    match (r.actor_kind.as_str(), named) {
        ("staff", Some(name)) => name.to_owned(),
        ("staff", None) => "a staff member".to_owned(),
        ("account", Some(name)) => format!("{name} (patient)"),
        ("account", None) => "a patient account".to_owned(),
        ("operator", _) => "a platform operator".to_owned(),
        ("system", _) => "Portico".to_owned(),
        _ => "someone not logged in".to_owned(),
    }
}

/// What an event was about, a part each: names where the clinic knows
/// them, a short id otherwise.
fn subjects(signed: &Signed, target: Option<&str>, names: &AuditNames) -> Vec<AuditSubject> {
    target
        .into_iter()
        .flat_map(str::split_whitespace)
        .map(|part| {
            let (kind, id) = part.split_once(':').unwrap_or(("", part));
            // A page shows names, never ids: a thing with no name (a code,
            // a mail) is said by its kind, its id kept for the export and
            // the hover text.
            let label = match names.of(kind, id) {
                Some(name) => name.to_owned(),
                None if id.len() > 24 => String::new(),
                None => id.to_owned(),
            };
            AuditSubject {
                kind: match kind {
                    "account" => "patient account",
                    "patient" => "patient",
                    "staff" => "staff",
                    "code" => "code",
                    "grant" => "record access",
                    "form" => "form",
                    "assignment" => "form assignment",
                    "plugin" => "plugin",
                    "mail" => "mail",
                    "role" => "role",
                    other => other,
                }
                .to_owned(),
                label,
                full: part.to_owned(),
                link: (kind == "patient" && names.of(kind, id).is_some())
                    .then(|| signed.path(&format!("/patients/{id}"))),
            }
        })
        .collect()
}

const AUDIT_PAGE: u32 = 100;

#[handler]
pub(super) async fn audit(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Query(q): Query<AuditQuery>,
) -> poem::Result<Response> {
    let mut signed = Signed::of(&state, req).await?;
    let zone = signed.tenant.tenant.settings.time_zone.clone();
    let (lines, next_page, status) = match q.filter(&zone) {
        Ok(filter) => {
            let records = state
                .services
                .audit_trail(
                    &signed.caller,
                    &filter,
                    &AuditPage {
                        limit: AUDIT_PAGE,
                        before: q.before.clone(),
                    },
                )
                .await
                .map_err(ApiError::from)?;
            let names = state
                .services
                .audit_names(&signed.caller, &records)
                .await
                .map_err(ApiError::from)?;
            let next = (records.len() as u32 == AUDIT_PAGE)
                .then(|| records.last().map(|r| q.query_string(Some(r.id.clone()))))
                .flatten();
            let lines = records
                .iter()
                .map(|r| AuditLine {
                    at: zone.human(r.occurred_at),
                    action: acts::words::in_words(&r.action)
                        .map_or_else(|| r.action.clone(), str::to_owned),
                    action_name: r.action.clone(),
                    actor: actor_in_words(r, &names),
                    about: subjects(&signed, r.target.as_deref(), &names),
                    outcome: r.outcome.clone(),
                    reason: reason_in_words(r.reason.as_deref().unwrap_or_default()),
                    ip: r.ip.clone().unwrap_or_default(),
                })
                .collect();
            (lines, next, StatusCode::OK)
        }
        Err(message) => {
            signed.frame.error = Some(message);
            (Vec::new(), None, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let html = console
        .audit_page(&AuditView {
            frame: signed.frame,
            filter: q.form(),
            lines,
            next_page,
            export_query: q.query_string(None),
        })
        .map_err(render_failed)?;
    Ok(page(html, status))
}

/// The most events one export carries; a narrower filter gets the rest.
const EXPORT_LIMIT: usize = 50_000;

/// A cell a spreadsheet will not run as a formula.
fn cell(raw: &str) -> String {
    if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    }
}

/// The filtered trail as CSV, oldest page last, as far as `EXPORT_LIMIT`.
/// The export itself is read under the same permission as the page.
#[handler]
pub(super) async fn audit_csv(
    req: &Request,
    state: Data<&AppState>,
    Query(q): Query<AuditQuery>,
) -> poem::Result<Response> {
    let signed = Signed::of(&state, req).await?;
    let filter = q
        .filter(&signed.tenant.tenant.settings.time_zone)
        .map_err(|message| ApiError::unprocessable("invalid_filter", message))?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "occurred_at",
        "action",
        "actor",
        "target",
        "outcome",
        "reason",
        "ip",
        "user_agent",
    ];
    let written = |e: csv::Error| {
        tracing::error!(error = %e, "audit export failed");
        ApiError::internal()
    };
    out.write_record(header).map_err(written)?;
    let mut before = None;
    let mut count = 0;
    loop {
        let records = state
            .services
            .audit_trail(
                &signed.caller,
                &filter,
                &AuditPage {
                    limit: AuditPage::MAX_LIMIT,
                    before: before.clone(),
                },
            )
            .await
            .map_err(ApiError::from)?;
        for r in &records {
            out.write_record([
                r.occurred_at.to_rfc3339(),
                cell(&r.action),
                cell(&actor(r)),
                cell(r.target.as_deref().unwrap_or_default()),
                cell(&r.outcome),
                cell(r.reason.as_deref().unwrap_or_default()),
                cell(r.ip.as_deref().unwrap_or_default()),
                cell(r.user_agent.as_deref().unwrap_or_default()),
            ])
            .map_err(written)?;
        }
        count += records.len();
        if (records.len() as u32) < AuditPage::MAX_LIMIT || count >= EXPORT_LIMIT {
            break;
        }
        before = records.last().map(|r| r.id.clone());
    }
    let body = out
        .into_inner()
        .map_err(|e| written(e.into_error().into()))?;
    let name = format!(
        "audit-{}-{}.csv",
        signed.tenant.tenant.slug,
        Timestamp::now().to_rfc3339().get(..10).unwrap_or("export")
    );
    Ok(super::download(body, "text/csv; charset=utf-8", &name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_keep_their_words_and_lose_their_ids() {
        assert_eq!(reason_in_words("wrong_password"), "wrong password");
        assert_eq!(
            reason_in_words(
                "kind=medical_records delivery=email code=01a21d92-17ca-74cf-b4be-0e8eecb9738b"
            ),
            "kind=medical_records delivery=email"
        );
        assert_eq!(
            reason_in_words("renamed from \"A\" to \"B\""),
            "renamed from \"A\" to \"B\""
        );
    }

    #[test]
    fn a_cell_never_starts_a_formula() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("code.issue"), "code.issue");
    }

    #[test]
    fn dates_filter_whole_days_on_the_clinics_clock() {
        let q = AuditQuery {
            since: "2026-11-23".into(),
            until: "2026-11-23".into(),
            ..AuditQuery::default()
        };
        let f = q.filter(&ClinicTimeZone::utc()).unwrap();
        let (since, until) = (f.since.unwrap(), f.until.unwrap());
        assert_eq!(since.to_rfc3339(), "2026-11-23T00:00:00Z");
        assert_eq!(until.unix_millis() - since.unix_millis(), DAY_MS - 1);
        let bad = AuditQuery {
            outcome: "maybe".into(),
            ..AuditQuery::default()
        };
        assert!(bad.filter(&ClinicTimeZone::utc()).is_err());
        let berlin = ClinicTimeZone::parse("Europe/Berlin").unwrap();
        let f = AuditQuery {
            since: "2026-11-23".into(),
            ..AuditQuery::default()
        }
        .filter(&berlin)
        .unwrap();
        assert_eq!(
            f.since.unwrap().to_rfc3339(),
            "2026-11-22T23:00:00Z",
            "midnight in Berlin"
        );
    }
}
