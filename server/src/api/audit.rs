use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi, ResponseContent};
use portico_tenants::audit::{AuditFilter, AuditPage, Outcome};
use portico_tenants::domain::Timestamp;
use portico_tenants::ledger::{SignedHead, StoredEvent};

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

impl From<StoredEvent> for AuditEventView {
    fn from(e: StoredEvent) -> Self {
        Self {
            id: e.id,
            occurred_at: Timestamp::from_unix_millis(e.occurred_at).to_rfc3339(),
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            action: e.action,
            target: e.target,
            outcome: e.outcome,
            reason: e.reason,
            ip: e.ip,
            user_agent: e.user_agent,
        }
    }
}

/// A signed tree head: the clinic's log held `size` events with root
/// `root_hash` at `signed_at`. docs/audit.md gives the signed bytes.
#[derive(Object)]
pub struct HeadView {
    pub id: String,
    pub tenant_id: String,
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub root_hash: String,
    /// Milliseconds since 1970 UTC, as signed.
    pub signed_at: i64,
    /// `signed_at` as an RFC 3339 time, for people.
    pub signed_at_time: String,
    /// The first 8 bytes of SHA-256 of the public key, hex.
    pub key_id: String,
    /// The Ed25519 public key, hex (also at `/.well-known/portico-audit-key`).
    pub public_key: String,
    /// The Ed25519 signature, hex.
    pub signature: String,
}

impl From<&SignedHead> for HeadView {
    fn from(h: &SignedHead) -> Self {
        Self {
            id: h.id.clone(),
            tenant_id: h.head.tenant_id.clone(),
            size: h.head.size,
            root_hash: hex::encode(h.head.root),
            signed_at: h.head.signed_at,
            signed_at_time: Timestamp::from_unix_millis(h.head.signed_at).to_rfc3339(),
            key_id: h.key_id.clone(),
            public_key: hex::encode(h.public_key),
            signature: hex::encode(h.signature),
        }
    }
}

#[derive(Object)]
pub struct HeadListView {
    /// The platform's current signing key, hex.
    pub public_key: String,
    pub key_id: String,
    /// Newest first.
    pub heads: Vec<HeadView>,
}

#[derive(Object)]
pub struct LedgerEntryView {
    /// The event's place in the clinic's log, from 1.
    pub seq: u64,
    /// SHA-256 of 0x00 and the event's canonical bytes, hex.
    pub leaf_hash: String,
    pub event: AuditEventView,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LedgerPageView {
    /// Events in the log now.
    pub size: u64,
    /// Events pruned by retention; the log starts after them.
    pub pruned: u64,
    pub entries: Vec<LedgerEntryView>,
    /// Pass as `from` for the next page; absent on the last.
    pub next_from: Option<u64>,
}

#[derive(Object)]
pub struct InclusionProofView {
    pub seq: u64,
    /// `seq` − 1: the leaf's index as RFC 9162 counts.
    pub leaf_index: u64,
    pub leaf_hash: String,
    pub head: HeadView,
    /// RFC 9162's inclusion path, from the leaf up, hex.
    pub path: Vec<String>,
}

#[derive(Object)]
pub struct ConsistencyProofView {
    pub first: HeadView,
    pub second: HeadView,
    /// RFC 9162's consistency proof, hex.
    pub path: Vec<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct VerifyView {
    /// Whether the log recomputes from its events and every signed head
    /// holds.
    pub verified: bool,
    /// Events in the log, pruned ones included.
    pub size: u64,
    /// The recomputed root, hex; absent when the log does not verify.
    pub root_hash: Option<String>,
    pub pruned: u64,
    pub heads_checked: u64,
    /// The newest signed head that was checked.
    pub latest_head: Option<HeadView>,
    /// What does not hold, in plain words.
    pub problem: Option<String>,
    /// The first event that cannot be trusted.
    pub first_bad_seq: Option<u64>,
}

#[derive(ResponseContent)]
pub enum ExportBody {
    /// One JSON object per line; docs/audit.md describes each.
    #[oai(content_type = "application/jsonl")]
    Lines(PlainText<String>),
}

#[derive(ApiResponse)]
pub enum ExportResponse {
    /// The export, with what checks it offline.
    #[oai(status = 200)]
    Ok(ExportBody, #[oai(header = "content-disposition")] String),
}

fn head_id(field: &'static str, raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::try_parse(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            let mut e = ApiError::bad_request(
                "invalid_parameter",
                format!(
                    "{field} must be the id of a signed head, as GET /v1/audit/heads lists them"
                ),
            );
            e.field = Some(field.into());
            e
        })
}

fn hexes(path: &[[u8; 32]]) -> Vec<String> {
    path.iter().map(hex::encode).collect()
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

    /// The clinic's audit log: events with their places, oldest first.
    #[oai(path = "/ledger", method = "get")]
    async fn ledger(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        /// The first place to list; 1 (or the first kept) by default.
        #[oai(validator(minimum(value = "1")))]
        from: Query<Option<u64>>,
        /// Events per page, 1 to 1000; 100 by default.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<LedgerPageView>> {
        let limit = limit.0.unwrap_or(100);
        let page = state
            .services
            .audit_ledger_page(&session.caller, from.0.unwrap_or(1), limit)
            .await?;
        let next_from = page
            .entries
            .last()
            .map(|(e, _)| e.seq + 1)
            .filter(|next| *next <= page.size);
        Ok(Json(LedgerPageView {
            size: page.size,
            pruned: page.pruned,
            next_from,
            entries: page
                .entries
                .into_iter()
                .map(|(entry, event)| LedgerEntryView {
                    seq: entry.seq,
                    leaf_hash: entry.leaf_hash,
                    event: AuditEventView::from(event),
                })
                .collect(),
        }))
    }

    /// The clinic's signed tree heads, newest first, with the platform's
    /// signing key.
    #[oai(path = "/heads", method = "get")]
    async fn heads(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<HeadListView>> {
        let heads = state.services.audit_heads(&session.caller).await?;
        let key = &state.services.audit_key;
        Ok(Json(HeadListView {
            public_key: hex::encode(key.public_key()),
            key_id: key.key_id(),
            heads: heads.iter().map(HeadView::from).collect(),
        }))
    }

    /// Sign the clinic's tree head now (the server also does so every
    /// hour the log grew).
    #[oai(path = "/heads", method = "post")]
    async fn sign_head(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<HeadView>> {
        let head = state.services.sign_audit_head(&session.caller).await?;
        Ok(Json(HeadView::from(&head)))
    }

    /// One signed head, to keep: later proofs are made against it.
    #[oai(path = "/heads/:id", method = "get")]
    async fn head(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        #[oai(validator(max_length = 64))] id: Path<String>,
    ) -> ApiResult<Json<HeadView>> {
        let id = head_id("id", &id.0)?;
        let head = state.services.audit_head(&session.caller, &id).await?;
        Ok(Json(HeadView::from(&head)))
    }

    /// Proof that event `seq` is in the log a signed head commits to.
    #[oai(path = "/proofs/inclusion", method = "get")]
    async fn inclusion(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        /// The event's place in the log.
        #[oai(validator(minimum(value = "1")))]
        seq: Query<u64>,
        /// The id of a signed head of at least `seq` events.
        #[oai(validator(max_length = 64))]
        head: Query<String>,
    ) -> ApiResult<Json<InclusionProofView>> {
        let head = head_id("head", &head.0)?;
        let proof = state
            .services
            .audit_inclusion_proof(&session.caller, seq.0, &head)
            .await?;
        Ok(Json(InclusionProofView {
            seq: proof.seq,
            leaf_index: proof.seq - 1,
            leaf_hash: hex::encode(proof.leaf_hash),
            head: HeadView::from(&proof.head),
            path: hexes(&proof.path),
        }))
    }

    /// Proof that the log of signed head `first` is a prefix of the log of
    /// signed head `second`: it only grew in between.
    #[oai(path = "/proofs/consistency", method = "get")]
    async fn consistency(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        /// The id of the earlier (smaller) signed head.
        #[oai(validator(max_length = 64))]
        first: Query<String>,
        /// The id of the later (larger) signed head.
        #[oai(validator(max_length = 64))]
        second: Query<String>,
    ) -> ApiResult<Json<ConsistencyProofView>> {
        let first = head_id("first", &first.0)?;
        let second = head_id("second", &second.0)?;
        let proof = state
            .services
            .audit_consistency_proof(&session.caller, &first, &second)
            .await?;
        Ok(Json(ConsistencyProofView {
            first: HeadView::from(&proof.first),
            second: HeadView::from(&proof.second),
            path: hexes(&proof.path),
        }))
    }

    /// The log as JSON Lines with everything needed to check it offline
    /// (`portico audit verify --export`, or any verifier written from
    /// docs/audit.md): the summary of earlier events, the events, and the
    /// signed heads.
    #[oai(path = "/export", method = "get")]
    async fn export(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        /// The first event; the first kept by default.
        #[oai(validator(minimum(value = "1")))]
        from: Query<Option<u64>>,
        /// The id of the signed head to export up to; the newest by default.
        #[oai(validator(max_length = 64))]
        head: Query<Option<String>>,
    ) -> ApiResult<ExportResponse> {
        let head = head.0.map(|h| head_id("head", &h)).transpose()?;
        let export = state
            .services
            .audit_export(&session.caller, from.0, head.as_deref())
            .await?;
        let name = portico_web::files::content_disposition(
            false,
            &format!(
                "audit-{}-{}-{}.jsonl",
                session.tenant().slug,
                export.before.size() + 1,
                export.head.head.size
            ),
        );
        Ok(ExportResponse::Ok(
            ExportBody::Lines(PlainText(export.to_json_lines())),
            name,
        ))
    }

    /// Recompute the clinic's log from its events and check every signed
    /// head, as `portico audit verify` does.
    #[oai(path = "/verify", method = "get")]
    async fn verify(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<VerifyView>> {
        let verdict = state.services.audit_verify(&session.caller).await?;
        Ok(Json(match verdict {
            Ok(log) => VerifyView {
                verified: true,
                size: log.size,
                root_hash: Some(log.root_hex()),
                pruned: log.summarised,
                heads_checked: log.heads_checked as u64,
                latest_head: log.latest_head.as_ref().map(HeadView::from),
                problem: None,
                first_bad_seq: None,
            },
            Err(tampering) => VerifyView {
                verified: false,
                size: 0,
                root_hash: None,
                pruned: 0,
                heads_checked: 0,
                latest_head: None,
                problem: Some(tampering.to_string()),
                first_bad_seq: tampering.first_bad_seq(),
            },
        }))
    }
}
