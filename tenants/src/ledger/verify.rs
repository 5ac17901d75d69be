//! Checking a clinic's log against its events: every place from 1 to the
//! log's size holds an event whose canonical bytes hash to the leaf
//! recorded for it, and every event has a place. The first place that does
//! not hold is named, so an auditor knows from where the trail cannot be
//! trusted.

use std::collections::HashMap;

use super::LeafHash;
use super::heads::SignedHead;
use super::merkle::Frontier;
use super::store::{LedgerEntry, StoredEvent};

/// A log that holds, with what a signed tree head would commit to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheck {
    pub size: u64,
    pub root: LeafHash,
    /// Events before the first one checked: pruned by retention, or left
    /// out of an export; the frontier stands for them.
    pub summarised: u64,
    /// Signed heads whose root was recomputed and whose signature holds.
    pub heads_checked: usize,
    /// Signed heads from before the cut, which can no longer be recomputed.
    pub heads_before_cut: usize,
    /// The newest signed head that was checked.
    pub latest_head: Option<SignedHead>,
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
    /// An event that was never logged: written around the ledger.
    #[error("event {event_id} is not in the log")]
    Unlogged { event_id: String },
    /// The log recomputes to another root than a signed head of it: an
    /// event after `after` and at or before `size` was rewritten together
    /// with its recorded leaf.
    #[error(
        "the signed head {head_id} of {size} events does not match the log: \
         an event after {after} was rewritten"
    )]
    HeadMismatch {
        head_id: String,
        size: u64,
        after: u64,
    },
    /// A signed head whose signature does not hold.
    #[error("the signature of head {head_id} does not hold")]
    BadSignature { head_id: String },
    /// A signed head by a key the platform does not know.
    #[error("head {head_id} is signed by key {key_id}, which is not the platform's")]
    UnknownKey { head_id: String, key_id: String },
    /// The summary of the pruned events is not the signed head it names.
    #[error("the summary of the first {size} events does not match its signed head")]
    CutMismatch { size: u64 },
}

impl Tampering {
    /// The first sequence number that cannot be trusted, when there is one.
    pub fn first_bad_seq(&self) -> Option<u64> {
        match self {
            Self::Missing { seq } | Self::Changed { seq } => Some(*seq),
            Self::HeadMismatch { after, .. } => Some(after + 1),
            Self::CutMismatch { size } => Some(*size),
            Self::Unlogged { .. } | Self::BadSignature { .. } | Self::UnknownKey { .. } => None,
        }
    }
}

/// What a check reads: from the database, or from an export.
#[derive(Debug, Clone, Copy)]
pub struct LogData<'a> {
    pub tenant_id: &'a str,
    /// The size the log says it has.
    pub size: u64,
    /// What precedes the first entry: the pruned events' frontier, or an
    /// export's starting frontier.
    pub before: &'a Frontier,
    /// The signed head the pruned events' frontier must match, when the
    /// log was cut.
    pub cut_head: Option<&'a str>,
    pub entries: &'a [LedgerEntry],
    /// Every event there is: an event not in the log is reported.
    pub events: &'a [StoredEvent],
    pub heads: &'a [SignedHead],
    /// The key ids whose heads are trusted; empty trusts a head's own key
    /// (an export checked without a pinned key).
    pub trusted_keys: &'a [String],
}

/// Checks a log: every place after the summarised prefix holds the event
/// logged there, every event has a place, and every signed head's root and
/// signature hold.
pub fn check(data: LogData<'_>) -> Result<LedgerCheck, Tampering> {
    let by_id: HashMap<&str, &StoredEvent> =
        data.events.iter().map(|e| (e.id.as_str(), e)).collect();
    let by_seq: HashMap<u64, &LedgerEntry> = data.entries.iter().map(|e| (e.seq, e)).collect();
    let mut heads: Vec<&SignedHead> = data.heads.iter().collect();
    heads.sort_by_key(|h| (h.head.size, h.head.signed_at));
    for head in &heads {
        if !head.signature_holds() {
            return Err(Tampering::BadSignature {
                head_id: head.id.clone(),
            });
        }
        if !data.trusted_keys.is_empty() && !data.trusted_keys.contains(&head.key_id) {
            return Err(Tampering::UnknownKey {
                head_id: head.id.clone(),
                key_id: head.key_id.clone(),
            });
        }
    }
    let start = data.before.size();
    if let Some(cut_head) = data.cut_head {
        let holds = heads
            .iter()
            .any(|h| h.id == cut_head && h.head.size == start && h.head.root == data.before.root());
        if !holds {
            return Err(Tampering::CutMismatch { size: start });
        }
    }
    let heads_before_cut = heads.iter().filter(|h| h.head.size < start).count();
    let mut pending = heads.iter().filter(|h| h.head.size >= start).peekable();
    let last = data
        .entries
        .iter()
        .map(|e| e.seq)
        .max()
        .unwrap_or(0)
        .max(data.size)
        .max(heads.last().map(|h| h.head.size).unwrap_or(0))
        .max(start);
    let mut frontier = data.before.clone();
    let mut heads_checked = 0;
    let mut latest_head = None;
    // The last size at which a signed head held: a head that fails names
    // the events after it.
    let mut held_up_to = start;
    let mut seq = start;
    loop {
        while let Some(head) = pending.next_if(|h| h.head.size == seq) {
            if head.head.root != frontier.root() {
                return Err(Tampering::HeadMismatch {
                    head_id: head.id.clone(),
                    size: head.head.size,
                    after: held_up_to,
                });
            }
            held_up_to = seq;
            heads_checked += 1;
            latest_head = Some((*head).clone());
        }
        if seq == last {
            break;
        }
        seq += 1;
        let entry = by_seq.get(&seq).ok_or(Tampering::Missing { seq })?;
        let event = by_id
            .get(entry.event_id.as_str())
            .ok_or(Tampering::Missing { seq })?;
        let leaf = event.canonical(data.tenant_id, seq).leaf_hash();
        if hex::encode(leaf) != entry.leaf_hash {
            return Err(Tampering::Changed { seq });
        }
        frontier.push(leaf);
    }
    let logged: std::collections::HashSet<&str> =
        data.entries.iter().map(|e| e.event_id.as_str()).collect();
    if let Some(stray) = data.events.iter().find(|e| !logged.contains(e.id.as_str())) {
        return Err(Tampering::Unlogged {
            event_id: stray.id.clone(),
        });
    }
    Ok(LedgerCheck {
        size: last,
        root: frontier.root(),
        summarised: start,
        heads_checked,
        heads_before_cut,
        latest_head,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{AuditKey, TreeHead, merkle, store};
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

    fn check(
        tenant: &str,
        size: u64,
        entries: &[LedgerEntry],
        events: &[StoredEvent],
    ) -> Result<LedgerCheck, Tampering> {
        super::check(LogData {
            tenant_id: tenant,
            size,
            before: &Frontier::new(),
            cut_head: None,
            entries,
            events,
            heads: &[],
            trusted_keys: &[],
        })
    }

    fn signed(key: &AuditKey, id: &str, events: &[StoredEvent], size: u64) -> SignedHead {
        let mut frontier = Frontier::new();
        for (i, e) in events[..size as usize].iter().enumerate() {
            frontier.push(e.canonical("t1", i as u64 + 1).leaf_hash());
        }
        key.sign(
            id.into(),
            TreeHead {
                tenant_id: "t1".into(),
                size,
                root: frontier.root(),
                signed_at: 1000 + size as i64,
            },
        )
    }

    #[test]
    fn signed_heads_catch_a_rewrite_that_kept_its_leaf_a_cut_tail_and_a_forged_key() {
        let key = AuditKey::from_hex(&hex::encode([9; 32])).unwrap();
        let events: Vec<StoredEvent> = (1..=8).map(|i| event(&format!("e{i}"), i)).collect();
        let entries = logged(&events);
        let heads = vec![
            signed(&key, "h3", &events, 3),
            signed(&key, "h6", &events, 6),
        ];
        let trusted = vec![key.key_id()];
        let data = LogData {
            tenant_id: "t1",
            size: 8,
            before: &Frontier::new(),
            cut_head: None,
            entries: &entries,
            events: &events,
            heads: &heads,
            trusted_keys: &trusted,
        };
        let sound = super::check(data).unwrap();
        assert_eq!(sound.heads_checked, 2);
        assert_eq!(sound.latest_head.unwrap().id, "h6");

        // Event 5 rewritten, and its leaf recomputed to match.
        let mut rewritten = events.clone();
        rewritten[4].outcome = "failure".into();
        let releafed = logged(&rewritten);
        let err = super::check(LogData {
            entries: &releafed,
            events: &rewritten,
            ..data
        })
        .unwrap_err();
        assert!(matches!(err, Tampering::HeadMismatch { ref head_id, .. } if head_id == "h6"));
        assert_eq!(err.first_bad_seq(), Some(4));

        // The tail cut off, size row included: the head of 6 remembers it.
        let err = super::check(LogData {
            size: 4,
            entries: &entries[..4],
            events: &events[..4],
            ..data
        })
        .unwrap_err();
        assert_eq!(err, Tampering::Missing { seq: 5 });

        // A head signed by a key that is not the platform's.
        let forged = vec![signed(
            &AuditKey::from_hex(&hex::encode([1; 32])).unwrap(),
            "hx",
            &events,
            8,
        )];
        assert!(matches!(
            super::check(LogData {
                heads: &forged,
                ..data
            }),
            Err(Tampering::UnknownKey { .. })
        ));

        // Pruned up to the head of 3: the rest still checks, and a summary
        // that is not that head's is caught.
        let mut before = Frontier::new();
        for e in &entries[..3] {
            before.push(store::parse_hash(&e.leaf_hash).unwrap());
        }
        let pruned = LogData {
            before: &before,
            cut_head: Some("h3"),
            entries: &entries[3..],
            events: &events[3..],
            ..data
        };
        let after_cut = super::check(pruned).unwrap();
        assert_eq!((after_cut.summarised, after_cut.heads_checked), (3, 2));
        assert_eq!(after_cut.root, sound.root);
        assert_eq!(
            super::check(LogData {
                cut_head: Some("h6"),
                ..pruned
            }),
            Err(Tampering::CutMismatch { size: 3 })
        );
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
