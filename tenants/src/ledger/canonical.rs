//! The canonical form of an audit event: the bytes its leaf hash is taken
//! over. docs/audit.md describes it for anyone writing a verifier:
//!
//! ```text
//! "portico-audit-event/1"        (21 bytes, no terminator)
//! seq                            u64, big-endian
//! occurred_at                    i64, big-endian, milliseconds since 1970 UTC
//! then, in this order, each as a field:
//!   tenant_id, event_id, actor_kind, actor_id, action, target,
//!   outcome, reason, ip, user_agent
//! field := 0x00                  (absent)
//!        | 0x01 u32-be(len) utf8 (present; len in bytes)
//! ```
//!
//! The leaf hash is SHA-256 of `0x00` followed by these bytes. The sequence
//! number is inside the leaf, so moving an event changes its hash.

use sha2::{Digest, Sha256};

/// What identifies the encoding, so that a later one cannot be mistaken
/// for it.
pub const DOMAIN: &[u8] = b"portico-audit-event/1";

/// SHA-256 output.
pub type LeafHash = [u8; 32];

/// An audit event as the ledger hashes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalEvent<'a> {
    pub seq: u64,
    pub occurred_at: i64,
    pub tenant_id: &'a str,
    pub event_id: &'a str,
    pub actor_kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

impl CanonicalEvent<'_> {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(DOMAIN);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.occurred_at.to_be_bytes());
        for field in [
            Some(self.tenant_id),
            Some(self.event_id),
            Some(self.actor_kind),
            self.actor_id,
            Some(self.action),
            self.target,
            Some(self.outcome),
            self.reason,
            self.ip,
            self.user_agent,
        ] {
            match field {
                None => out.push(0x00),
                Some(text) => {
                    out.push(0x01);
                    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out
    }

    /// SHA-256(0x00 ‖ canonical bytes), RFC 6962's leaf hash.
    pub fn leaf_hash(&self) -> LeafHash {
        let mut hasher = Sha256::new();
        hasher.update([0x00]);
        hasher.update(self.to_bytes());
        hasher.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> CanonicalEvent<'static> {
        CanonicalEvent {
            seq: 7,
            occurred_at: 1_795_000_000_000,
            tenant_id: "t1",
            event_id: "e1",
            actor_kind: "staff",
            actor_id: Some("s1"),
            action: "code.issue",
            target: Some("patient:p1"),
            outcome: "success",
            reason: None,
            ip: Some("192.0.2.1"),
            user_agent: None,
        }
    }

    #[test]
    fn the_bytes_are_the_documented_ones() {
        let bytes = event().to_bytes();
        let mut expected = b"portico-audit-event/1".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(&1_795_000_000_000_i64.to_be_bytes());
        for field in [
            Some("t1"),
            Some("e1"),
            Some("staff"),
            Some("s1"),
            Some("code.issue"),
            Some("patient:p1"),
            Some("success"),
            None,
            Some("192.0.2.1"),
            None,
        ] {
            match field {
                None => expected.push(0),
                Some(t) => {
                    expected.push(1);
                    expected.extend_from_slice(&(t.len() as u32).to_be_bytes());
                    expected.extend_from_slice(t.as_bytes());
                }
            }
        }
        assert_eq!(bytes, expected);
    }

    #[test]
    fn an_absent_field_and_an_empty_one_hash_apart_and_so_do_moved_events() {
        let absent = event();
        let empty = CanonicalEvent {
            reason: Some(""),
            ..event()
        };
        assert_ne!(absent.leaf_hash(), empty.leaf_hash());
        let moved = CanonicalEvent { seq: 8, ..event() };
        assert_ne!(absent.leaf_hash(), moved.leaf_hash());
        // Text cannot run from one field into the next.
        let a = CanonicalEvent {
            action: "ab",
            target: Some("c"),
            ..event()
        };
        let b = CanonicalEvent {
            action: "a",
            target: Some("bc"),
            ..event()
        };
        assert_ne!(a.leaf_hash(), b.leaf_hash());
    }
}
