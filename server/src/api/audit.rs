use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use portico_tenants::audit::{AuditFilter, AuditPage, Outcome};
use portico_tenants::domain::Timestamp;

use super::ApiTags;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::{ApiError, ApiResult};

pub struct AuditApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditEventView {
    pub id: String,
    pub occurred_at: String,
    /// `staff`, `account` (a patient's portal account), `operator`, `anonymous` or `system`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditPageView {
    pub events: Vec<AuditEventView>,
    /// Pass as `before` to get the next (older) page; absent on the last.
    pub next_before: Option<String>,
}

fn parse_time(field: &'static str, raw: Option<String>) -> Result<Option<Timestamp>, ApiError> {
    raw.map(|r| {
        Timestamp::parse_rfc3339(&r).ok_or_else(|| {
            let mut e = ApiError::bad_request(
                "invalid_parameter",
                format!("{field} must be an RFC 3339 time such as 2026-11-23T10:00:00Z"),
            );
            e.field = Some(field.into());
            e
        })
    })
    .transpose()
}

#[OpenApi(prefix_path = "/v1/audit", tag = "ApiTags::Audit")]
impl AuditApi {
    /// The clinic's audit trail, newest first, filtered and paged.
    #[oai(path = "/", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        /// Only actions whose name or description contains this, ignoring
        /// case: `staff.login`, `redeem` or `password` (every act about one).
        #[oai(validator(max_length = 64))]
        action: Query<Option<String>>,
        /// Only events by this actor id.
        #[oai(validator(max_length = 128))]
        actor: Query<Option<String>>,
        /// Only events about this target, such as `staff:<id>`.
        #[oai(validator(max_length = 256))]
        target: Query<Option<String>>,
        /// `success`, `failure` or `denied`.
        outcome: Query<Option<String>>,
        /// From this time on (RFC 3339).
        since: Query<Option<String>>,
        /// Before this time (RFC 3339).
        until: Query<Option<String>>,
        /// The `next_before` of the previous page.
        #[oai(validator(max_length = 64))]
        before: Query<Option<String>>,
        /// Events per page, 1 to 500; 50 by default.
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<AuditPageView>> {
        let outcome = outcome
            .0
            .map(|o| {
                Outcome::parse(&o).ok_or_else(|| {
                    let mut e = ApiError::bad_request(
                        "invalid_parameter",
                        "outcome must be success, failure or denied",
                    );
                    e.field = Some("outcome".into());
                    e
                })
            })
            .transpose()?;
        let filter = AuditFilter {
            actions: action.0.filter(|a| !a.trim().is_empty()).map(|typed| {
                portico_tenants::acts::words::matching(&typed)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            }),
            actor_id: actor.0,
            target: target.0,
            outcome,
            since: parse_time("since", since.0)?,
            until: parse_time("until", until.0)?,
        };
        let limit = limit.0.unwrap_or(50);
        let page = AuditPage {
            limit,
            before: before.0,
        };
        let records = state
            .services
            .audit_trail(&session.caller, &filter, &page)
            .await?;
        let next_before = (records.len() as u32 == limit)
            .then(|| records.last().map(|r| r.id.clone()))
            .flatten();
        Ok(Json(AuditPageView {
            events: records
                .into_iter()
                .map(|r| AuditEventView {
                    id: r.id,
                    occurred_at: r.occurred_at.to_rfc3339(),
                    actor_kind: r.actor_kind,
                    actor_id: r.actor_id,
                    action: r.action,
                    target: r.target,
                    outcome: r.outcome,
                    reason: r.reason,
                    ip: r.ip,
                    user_agent: r.user_agent,
                })
                .collect(),
            next_before,
        }))
    }
}
