//! Pages across patients: the follow-up list of codes not yet redeemed,
//! and the audit trail with its filters, pages and CSV export.

use portico_tenants::acts;
use std::sync::Arc;

use crate::views::{AuditFilterForm, AuditLine, AuditView, Console, FollowUpRow, FollowUpView};
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Request, Response, handler};
use portico_tenants::audit::{AuditFilter, AuditPage, AuditRecord, Outcome};
use portico_tenants::domain::{CodeDelivery, Timestamp};
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
    /// The domain's filter, or the field that is not a valid value.
    fn filter(&self) -> Result<AuditFilter, String> {
        let text = |raw: &str| Some(raw.trim().to_owned()).filter(|s| !s.is_empty());
        let day = |field: &str, raw: &str, end: bool| -> Result<Option<Timestamp>, String> {
            let raw = raw.trim();
            if raw.is_empty() {
                return Ok(None);
            }
            let start = Timestamp::parse_rfc3339(&format!("{raw}T00:00:00Z"))
                .ok_or_else(|| format!("The {field} date must be a date such as 2026-11-23."))?;
            Ok(Some(if end {
                Timestamp::from_unix_millis(start.unix_millis() + DAY_MS - 1)
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
            action: text(&self.action),
            actor_id: None,
            target: text(&self.target),
            outcome,
            since: day("from", &self.since, false)?,
            until: day("until", &self.until, true)?,
        })
    }

    fn form(&self) -> AuditFilterForm {
        AuditFilterForm {
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

const AUDIT_PAGE: u32 = 100;

#[handler]
pub(super) async fn audit(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Query(q): Query<AuditQuery>,
) -> poem::Result<Response> {
    let mut signed = Signed::of(&state, req).await?;
    let (lines, next_page, status) = match q.filter() {
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
            let next = (records.len() as u32 == AUDIT_PAGE)
                .then(|| records.last().map(|r| q.query_string(Some(r.id.clone()))))
                .flatten();
            let zone = &signed.tenant.tenant.settings.time_zone;
            let lines = records
                .iter()
                .map(|r| AuditLine {
                    at: zone.human(r.occurred_at),
                    action: r.action.clone(),
                    actor: actor(r),
                    target: r.target.clone().unwrap_or_default(),
                    outcome: r.outcome.clone(),
                    reason: r.reason.clone().unwrap_or_default(),
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
        .filter()
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
    Ok(Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header(
            "content-disposition",
            format!("attachment; filename=\"{name}\""),
        )
        .header("cache-control", "no-store")
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_never_starts_a_formula() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("code.issue"), "code.issue");
    }

    #[test]
    fn dates_filter_whole_days_in_utc() {
        let q = AuditQuery {
            since: "2026-11-23".into(),
            until: "2026-11-23".into(),
            ..AuditQuery::default()
        };
        let f = q.filter().unwrap();
        let (since, until) = (f.since.unwrap(), f.until.unwrap());
        assert_eq!(since.to_rfc3339(), "2026-11-23T00:00:00Z");
        assert_eq!(until.unix_millis() - since.unix_millis(), DAY_MS - 1);
        let bad = AuditQuery {
            outcome: "maybe".into(),
            ..AuditQuery::default()
        };
        assert!(bad.filter().is_err());
    }
}
