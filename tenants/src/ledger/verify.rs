//! Checking a clinic's log against its events: every place from 1 to the
//! log's size holds an event whose canonical bytes hash to the leaf
//! recorded for it, and every event has a place. The first place that does
//! not hold is named, so an auditor knows from where the trail cannot be
//! trusted.

use std::collections::HashMap;

use super::LeafHash;
use super::merkle;
use super::store::{LedgerEntry, StoredEvent};

/// A log that holds, with what a signed tree head would commit to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheck {
    pub size: u64,
    pub root: LeafHash,
}

impl LedgerCheck {
    /// The root as lowercase hex, as docs/audit.md writes hashes.
    pub fn root_hex(&self) -> String {
        hex::encode(self.root)
    }
}

/// Where, and how, a log does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Tampering {
    /// The log should have an event at `seq` and has none (deleted, or the
    /// log was cut short).
    #[error("event {seq} is missing from the log")]
    Missing { seq: u64 },
    /// The event at `seq` is not the one that was logged there (changed,
    /// or moved).
    #[error("event {seq} is not the event that was logged there")]
    Changed { seq: u64 },
    /// The log names event `event_id` at `seq`, and there is no such event.
    #[error("event {seq} ({event_id}) was deleted")]
    EventGone { seq: u64, event_id: String },
    /// An event that was never logged: written around the ledger.
    #[error("event {event_id} is not in the log")]
    Unlogged { event_id: String },
}

impl Tampering {
    /// The first sequence number that cannot be trusted, when there is one.
    pub fn first_bad_seq(&self) -> Option<u64> {
        match self {
            Self::Missing { seq } | Self::Changed { seq } | Self::EventGone { seq, .. } => {
                Some(*seq)
            }
            Self::Unlogged { .. } => None,
        }
    }
}

/// Checks the log of `tenant_id`, which says it holds `size` events.
pub fn check(
    tenant_id: &str,
    size: u64,
    entries: &[LedgerEntry],
    events: &[StoredEvent],
) -> Result<LedgerCheck, Tampering> {
    let by_id: HashMap<&str, &StoredEvent> = events.iter().map(|e| (e.id.as_str(), e)).collect();
    let by_seq: HashMap<u64, &LedgerEntry> = entries.iter().map(|e| (e.seq, e)).collect();
    let last = entries.iter().map(|e| e.seq).max().unwrap_or(0).max(size);
    let mut leaves = Vec::with_capacity(last as usize);
    for seq in 1..=last {
        let entry = by_seq.get(&seq).ok_or(Tampering::Missing { seq })?;
        let event = by_id
            .get(entry.event_id.as_str())
            .ok_or_else(|| Tampering::EventGone {
                seq,
                event_id: entry.event_id.clone(),
            })?;
        let leaf = event.canonical(tenant_id, seq).leaf_hash();
        if hex::encode(leaf) != entry.leaf_hash {
            return Err(Tampering::Changed { seq });
        }
        leaves.push(leaf);
    }
    let logged: std::collections::HashSet<&str> =
        entries.iter().map(|e| e.event_id.as_str()).collect();
    if let Some(stray) = events.iter().find(|e| !logged.contains(e.id.as_str())) {
        return Err(Tampering::Unlogged {
            event_id: stray.id.clone(),
        });
    }
    Ok(LedgerCheck {
        size: last,
        root: merkle::root(&leaves),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, at: i64) -> StoredEvent {
        StoredEvent {
            id: id.into(),
            occurred_at: at,
            actor_kind: "staff".into(),
            actor_id: Some("s1".into()),
            action: "staff.login".into(),
            target: None,
            outcome: "success".into(),
            reason: None,
            ip: Some("192.0.2.1".into()),
            user_agent: None,
        }
    }

    fn logged(events: &[StoredEvent]) -> Vec<LedgerEntry> {
        events
            .iter()
            .enumerate()
            .map(|(i, e)| LedgerEntry {
                seq: i as u64 + 1,
                event_id: e.id.clone(),
                leaf_hash: hex::encode(e.canonical("t1", i as u64 + 1).leaf_hash()),
            })
            .collect()
    }

    #[test]
    fn a_sound_log_gives_its_root_and_each_kind_of_tampering_names_its_first_place() {
        let events: Vec<StoredEvent> = (1..=5).map(|i| event(&format!("e{i}"), i)).collect();
        let entries = logged(&events);
        let sound = check("t1", 5, &entries, &events).unwrap();
        assert_eq!(sound.size, 5);
        let leaves: Vec<LeafHash> = events
            .iter()
            .enumerate()
            .map(|(i, e)| e.canonical("t1", i as u64 + 1).leaf_hash())
            .collect();
        assert_eq!(sound.root, merkle::root(&leaves));

        let mut changed = events.clone();
        changed[2].reason = Some("rewritten".into());
        assert_eq!(
            check("t1", 5, &entries, &changed),
            Err(Tampering::Changed { seq: 3 })
        );

        let mut swapped = entries.clone();
        let (a, b) = (swapped[1].event_id.clone(), swapped[3].event_id.clone());
        swapped[1].event_id = b;
        swapped[3].event_id = a;
        assert_eq!(
            check("t1", 5, &swapped, &events),
            Err(Tampering::Changed { seq: 2 })
        );

        let mut gap = entries.clone();
        gap.remove(1);
        assert_eq!(
            check("t1", 5, &gap, &events).unwrap_err().first_bad_seq(),
            Some(2)
        );

        let cut = &entries[..3];
        assert_eq!(
            check("t1", 5, cut, &events[..3]),
            Err(Tampering::Missing { seq: 4 })
        );

        let mut extra = events.clone();
        extra.push(event("sneaked", 9));
        assert_eq!(
            check("t1", 5, &entries, &extra),
            Err(Tampering::Unlogged {
                event_id: "sneaked".into()
            })
        );

        assert!(
            check("t2", 5, &entries, &events).is_err(),
            "a log is bound to its clinic"
        );
    }
}
