//! The export: part of a clinic's log as JSON Lines, with everything
//! needed to check it offline (docs/audit.md, "The export"):
//!
//! 1. `{"type":"export", "format":"portico-audit-export/1", "tenant_id", "from", "to"}`
//! 2. `{"type":"frontier", "size", "hashes"}`: the perfect subtrees that
//!    cover events 1 to `size` (= `from` − 1), largest first.
//! 3. one `{"type":"event", "seq", "leaf_hash", …the event's fields}` per
//!    event from `from` to `to`;
//! 4. one `{"type":"head", …}` per signed head in that span; the last is
//!    the head of `to` events the export was made against.
//!
//! Times are milliseconds since 1970 UTC, as the canonical bytes hold
//! them; hashes, keys and signatures are lowercase hex.

use serde::{Deserialize, Serialize};

use super::heads::{SignedHead, TreeHead};
use super::merkle::Frontier;
use super::store::{LedgerEntry, StoredEvent};
use super::{LeafHash, store};

pub const FORMAT: &str = "portico-audit-export/1";

/// Part of a log with what checks it.
#[derive(Debug, Clone)]
pub struct LedgerExport {
    pub tenant_id: String,
    /// The head the export runs up to.
    pub head: SignedHead,
    /// The events before the first one exported, summarised.
    pub before: Frontier,
    pub entries: Vec<(LedgerEntry, StoredEvent)>,
    /// Every signed head from `before`'s size to the head's, oldest first.
    pub heads: Vec<SignedHead>,
}

/// A signed head as JSON: one line of an export, or a file of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadJson {
    /// `head`; a head saved from the API may leave it out.
    #[serde(rename = "type", default)]
    pub kind: String,
    pub id: String,
    pub tenant_id: String,
    pub size: u64,
    pub root_hash: String,
    pub signed_at: i64,
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

impl From<&SignedHead> for HeadJson {
    fn from(h: &SignedHead) -> Self {
        Self {
            kind: "head".into(),
            id: h.id.clone(),
            tenant_id: h.head.tenant_id.clone(),
            size: h.head.size,
            root_hash: hex::encode(h.head.root),
            signed_at: h.head.signed_at,
            key_id: h.key_id.clone(),
            public_key: hex::encode(h.public_key),
            signature: hex::encode(h.signature),
        }
    }
}

impl HeadJson {
    pub fn to_head(&self) -> Result<SignedHead, ExportError> {
        let bad = |what: &str| ExportError::Malformed(format!("head {}: {what}", self.id));
        Ok(SignedHead {
            id: self.id.clone(),
            head: TreeHead {
                tenant_id: self.tenant_id.clone(),
                size: self.size,
                root: hash(&self.root_hash).ok_or_else(|| bad("root_hash"))?,
                signed_at: self.signed_at,
            },
            key_id: self.key_id.clone(),
            public_key: hex::decode(&self.public_key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("public_key"))?,
            signature: hex::decode(&self.signature)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("signature"))?,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    #[serde(rename = "type")]
    kind: String,
    format: String,
    tenant_id: String,
    from: u64,
    to: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct FrontierJson {
    #[serde(rename = "type")]
    kind: String,
    size: u64,
    hashes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct EventJson {
    #[serde(rename = "type")]
    kind: String,
    seq: u64,
    leaf_hash: String,
    id: String,
    occurred_at: i64,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    target: Option<String>,
    outcome: String,
    reason: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// An export that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("{0}")]
    Malformed(String),
}

fn hash(text: &str) -> Option<LeafHash> {
    store::parse_hash(text).ok()
}

impl LedgerExport {
    pub fn to_json_lines(&self) -> String {
        let mut out = String::new();
        line(
            &mut out,
            &Header {
                kind: "export".into(),
                format: FORMAT.into(),
                tenant_id: self.tenant_id.clone(),
                from: self.before.size() + 1,
                to: self.head.head.size,
            },
        );
        line(
            &mut out,
            &FrontierJson {
                kind: "frontier".into(),
                size: self.before.size(),
                hashes: self.before.blocks().iter().map(hex::encode).collect(),
            },
        );
        for (entry, e) in &self.entries {
            line(
                &mut out,
                &EventJson {
                    kind: "event".into(),
                    seq: entry.seq,
                    leaf_hash: entry.leaf_hash.clone(),
                    id: e.id.clone(),
                    occurred_at: e.occurred_at,
                    actor_kind: e.actor_kind.clone(),
                    actor_id: e.actor_id.clone(),
                    action: e.action.clone(),
                    target: e.target.clone(),
                    outcome: e.outcome.clone(),
                    reason: e.reason.clone(),
                    ip: e.ip.clone(),
                    user_agent: e.user_agent.clone(),
                },
            );
        }
        let mut heads: Vec<&SignedHead> =
            self.heads.iter().filter(|h| h.id != self.head.id).collect();
        heads.push(&self.head);
        for h in heads {
            line(&mut out, &HeadJson::from(h));
        }
        out
    }

    /// Reads an export back; its content is checked by
    /// [`super::verify::check`], not here.
    pub fn parse(text: &str) -> Result<Self, ExportError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let at = |line: usize, reason: String| ExportError::Line {
            line: line + 1,
            reason,
        };
        let (n, first) = lines
            .next()
            .ok_or_else(|| ExportError::Malformed("the export is empty".into()))?;
        let header: Header = serde_json::from_str(first)
            .map_err(|e| at(n, format!("not the export's header: {e}")))?;
        if header.kind != "export" || header.format != FORMAT {
            return Err(at(n, format!("not a {FORMAT} export")));
        }
        let (n, second) = lines
            .next()
            .ok_or_else(|| ExportError::Malformed("the export has no frontier".into()))?;
        let frontier: FrontierJson =
            serde_json::from_str(second).map_err(|e| at(n, format!("not the frontier: {e}")))?;
        let blocks = frontier
            .hashes
            .iter()
            .map(|h| hash(h).ok_or_else(|| at(n, format!("{h:?} is not a SHA-256 hash"))))
            .collect::<Result<Vec<_>, _>>()?;
        let before =
            Frontier::from_parts(frontier.size, blocks).map_err(|e| at(n, e.to_string()))?;
        let mut entries = Vec::new();
        let mut heads = Vec::new();
        for (n, text) in lines {
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| at(n, e.to_string()))?;
            match value.get("type").and_then(|t| t.as_str()) {
                Some("event") => {
                    let e: EventJson =
                        serde_json::from_value(value).map_err(|e| at(n, e.to_string()))?;
                    entries.push((
                        LedgerEntry {
                            seq: e.seq,
                            event_id: e.id.clone(),
                            leaf_hash: e.leaf_hash,
                        },
                        StoredEvent {
                            id: e.id,
                            occurred_at: e.occurred_at,
                            actor_kind: e.actor_kind,
                            actor_id: e.actor_id,
                            action: e.action,
                            target: e.target,
                            outcome: e.outcome,
                            reason: e.reason,
                            ip: e.ip,
                            user_agent: e.user_agent,
                        },
                    ));
                }
                Some("head") => {
                    let h: HeadJson =
                        serde_json::from_value(value).map_err(|e| at(n, e.to_string()))?;
                    heads.push(h.to_head()?);
                }
                other => return Err(at(n, format!("unknown line type {other:?}"))),
            }
        }
        let head = heads
            .last()
            .cloned()
            .ok_or_else(|| ExportError::Malformed("the export has no signed head".into()))?;
        if head.head.size != header.to || header.from != before.size() + 1 {
            return Err(ExportError::Malformed(format!(
                "the header says events {} to {}, the frontier and last head say {} to {}",
                header.from,
                header.to,
                before.size() + 1,
                head.head.size
            )));
        }
        if head.head.tenant_id != header.tenant_id {
            return Err(ExportError::Malformed(
                "the last head is another clinic's".into(),
            ));
        }
        Ok(Self {
            tenant_id: header.tenant_id,
            head,
            before,
            entries,
            heads,
        })
    }
}

/// Appends `value` as one line of JSON.
fn line<T: Serialize>(out: &mut String, value: &T) {
    out.push_str(&serde_json::to_string(value).expect("plain data serialises"));
    out.push('\n');
}

impl LedgerExport {
    /// Checks the export on its own: every event's leaf, the frontier and
    /// events against every head in it, and each head's signature. The
    /// heads must be signed by one of `keys`; with none given, by the key
    /// of `trusted`, a head the auditor kept from earlier (or downloaded
    /// apart from the export), which must fall within the export's span.
    pub fn check(
        &self,
        trusted: &SignedHead,
        keys: &[String],
    ) -> Result<Result<super::LedgerCheck, super::Tampering>, ExportError> {
        let span = self.before.size()..=self.head.head.size;
        if !span.contains(&trusted.head.size) {
            return Err(ExportError::Malformed(format!(
                "the trusted head is of {} events; the export holds events {} to {}",
                trusted.head.size,
                self.before.size() + 1,
                self.head.head.size
            )));
        }
        if trusted.head.tenant_id != self.tenant_id {
            return Err(ExportError::Malformed(
                "the trusted head is another clinic's".into(),
            ));
        }
        let mut heads = self.heads.clone();
        heads.push(trusted.clone());
        let own_key = [trusted.key_id.clone()];
        let keys = if keys.is_empty() { &own_key[..] } else { keys };
        let (entries, events): (Vec<_>, Vec<_>) = self.entries.iter().cloned().unzip();
        Ok(super::verify::check(super::verify::LogData {
            tenant_id: &self.tenant_id,
            size: self.head.head.size,
            before: &self.before,
            cut_head: None,
            entries: &entries,
            events: &events,
            heads: &heads,
            trusted_keys: keys,
        }))
    }
}
