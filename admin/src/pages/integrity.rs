//! The audit trail's integrity page: the verdict of recomputing the
//! clinic's Merkle log, its signed tree heads, retention, and the proof
//! bundle an auditor takes away.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use portico_tenants::acts;
use portico_tenants::domain::Timestamp;
use portico_tenants::ledger::HeadJson;

use super::{CsrfOnly, Signed, download, page, render_failed};
use crate::views::{Console, HeadRow, IntegrityView};
use portico_web::AppState;
use portico_web::error::ApiError;
use portico_web::wording::sentence;

#[handler]
pub(super) async fn show(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let mut signed = Signed::of(&state, req).await?;
    signed.notice_from(
        req,
        &[(
            "signed",
            "Tree head signed. Download it to keep: later proofs are checked against it.",
        )],
    );
    integrity_page(&state, &console, signed, StatusCode::OK).await
}

async fn integrity_page(
    state: &AppState,
    console: &Console,
    signed: Signed,
    status: StatusCode,
) -> poem::Result<Response> {
    let verdict = state
        .services
        .audit_verify(&signed.caller)
        .await
        .map_err(ApiError::from)?;
    let heads = state
        .services
        .audit_heads(&signed.caller)
        .await
        .map_err(ApiError::from)?;
    let may_sign = signed.may(state, &acts::AUDIT_HEAD_SIGN).await?;
    let zone = &signed.tenant.tenant.settings.time_zone;
    let key = &state.services.audit_key;
    let retention = signed
        .tenant
        .tenant
        .settings
        .audit_retention
        .map_or_else(|| "forever".to_owned(), |r| r.days().to_string());
    let (verified, size, up_to, signed_at, problem, first_bad_seq, pruned) = match &verdict {
        Ok(log) => (
            true,
            log.size,
            log.latest_head.as_ref().map(|h| h.head.size),
            log.latest_head
                .as_ref()
                .map(|h| zone.human(Timestamp::from_unix_millis(h.head.signed_at))),
            None,
            None,
            log.summarised,
        ),
        Err(t) => (
            false,
            0,
            None,
            None,
            Some(sentence(&t.to_string())),
            t.first_bad_seq(),
            0,
        ),
    };
    let view = IntegrityView {
        has_head: !heads.is_empty(),
        heads: heads
            .iter()
            .map(|h| HeadRow {
                id: h.id.clone(),
                size: h.head.size,
                signed_at: zone.human(Timestamp::from_unix_millis(h.head.signed_at)),
                root_hash: hex::encode(h.head.root),
                key_id: h.key_id.clone(),
            })
            .collect(),
        frame: signed.frame,
        verified,
        size,
        verified_up_to: up_to,
        signed_at,
        problem,
        first_bad_seq,
        pruned,
        retention,
        key_id: key.key_id(),
        public_key: hex::encode(key.public_key()),
        may_sign,
    };
    let html = console.integrity_page(&view).map_err(render_failed)?;
    Ok(page(html, status))
}

/// Signs the clinic's tree head now.
#[handler]
pub(super) async fn sign(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<CsrfOnly>,
) -> poem::Result<Response> {
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = state.services.sign_audit_head(&signed.caller).await;
    signed
        .finish(outcome, "/audit/integrity", "signed", |signed, status| {
            integrity_page(&state, &console, signed, status)
        })
        .await
}

/// The proof bundle: the export of every kept event up to the newest
/// signed head, as JSON Lines.
#[handler]
pub(super) async fn proof_bundle(req: &Request, state: Data<&AppState>) -> poem::Result<Response> {
    let signed = Signed::of(&state, req).await?;
    let export = state
        .services
        .audit_export(&signed.caller, None, None)
        .await
        .map_err(ApiError::from)?;
    let name = format!(
        "audit-proof-{}-{}.jsonl",
        signed.tenant.tenant.slug, export.head.head.size
    );
    Ok(download(export.to_json_lines(), "application/jsonl", &name))
}

/// One signed head as a file of its own, `{id}.json`.
#[handler]
pub(super) async fn head_file(
    req: &Request,
    state: Data<&AppState>,
    Path(file): Path<String>,
) -> poem::Result<Response> {
    let signed = Signed::of(&state, req).await?;
    let id = file.strip_suffix(".json").unwrap_or(&file);
    let head = state
        .services
        .audit_head(&signed.caller, id)
        .await
        .map_err(ApiError::from)?;
    let json = serde_json::to_string_pretty(&HeadJson::from(&head)).map_err(|e| {
        tracing::error!(error = %e, "a signed head did not serialise");
        ApiError::internal()
    })?;
    let name = format!(
        "audit-head-{}-{}.json",
        signed.tenant.tenant.slug, head.head.size
    );
    Ok(download(json, "application/json", &name))
}
