//! What a node may keep in memory, and when it must forget it.
//!
//! Sessions, clinics and active plugins are read on nearly every request;
//! each node keeps them in bounded caches ([`CoherentCache`]) so that a
//! request costs one database round trip instead of three. A cache is only
//! as good as its news of change, so every write that could make an entry
//! wrong names a [`Change`] on its transaction (`TenantTx::changed`), and
//! at commit:
//!
//! - the node that wrote applies it at once, so its next request sees it;
//! - on PostgreSQL, the transaction also sends it with `pg_notify`, which
//!   PostgreSQL delivers to every listening node when (and only when) the
//!   transaction commits, and every other node applies it on arrival
//!   ([`listener`]);
//! - on SQLite there is one server node; a command run beside it (`portico
//!   tenant suspend`) is seen when the entries' short life
//!   ([`Coherence::in_process`]) runs out, a second at most.
//!
//! Applying a change does not remove entries: it records, per
//! [`Subject`], the sequence number at which it was applied (a *mark*).
//! Every entry carries the [`Stamp`] taken *before* its value was read,
//! and is fresh only while no mark on its subjects is newer. That also
//! covers a read that was already under way when the change arrived: it
//! would otherwise put the old value back after the change had been
//! applied.
//!
//! A node that may have missed news trusts nothing it holds: while its
//! listener is down every lookup goes to the database, and when the
//! listener is back every entry read before is discarded (the *floor*).
//! Entries also die after a backstop lifetime, whatever happens.

mod cache;
mod change;
pub mod listener;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use cache::CoherentCache;
use change::Stales;
pub use change::{Change, Subject};

/// This node's knowledge of what changed, shared by all of its caches.
/// Cloning is cheap.
#[derive(Clone)]
pub struct Coherence {
    inner: Arc<Inner>,
}

struct Inner {
    /// Names this node in its notifications, so it skips its own.
    node: String,
    /// Counts applied changes; stamps and marks are read from it.
    sequence: AtomicU64,
    /// Entries stamped below it were read before the node last lost news.
    floor: AtomicU64,
    trusted: AtomicBool,
    marks: moka::sync::Cache<Subject, u64>,
    /// The longest an entry lives, news or none.
    lifetime: Duration,
    listener_reconnects: AtomicU64,
}

/// When an entry's value was read, by this node's count of changes.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    sequence: u64,
    taken: Instant,
}

impl Coherence {
    /// One node alone on its database (SQLite): its own writes are all the
    /// news there is, applied at commit. Another process writing the same
    /// file (the command line) is seen when entries age out after
    /// `lifetime`.
    pub fn in_process(lifetime: Duration) -> Self {
        Self::new(lifetime, true)
    }

    /// A node among others (PostgreSQL): it trusts nothing until its
    /// listener runs ([`listener::follow`]).
    pub fn over_listener(lifetime: Duration) -> Self {
        Self::new(lifetime, false)
    }

    fn new(lifetime: Duration, trusted: bool) -> Self {
        Self {
            inner: Arc::new(Inner {
                node: uuid::Uuid::new_v4().simple().to_string(),
                sequence: AtomicU64::new(1),
                floor: AtomicU64::new(0),
                trusted: AtomicBool::new(trusted),
                // A mark outlives every entry it could make stale: an entry
                // dies `lifetime` after its stamp, which is older than the
                // mark. Never evicted for size: a lost mark would revive
                // stale entries.
                marks: moka::sync::Cache::builder()
                    .time_to_live(lifetime * 2 + Duration::from_secs(1))
                    .build(),
                lifetime,
                listener_reconnects: AtomicU64::new(0),
            }),
        }
    }

    /// This node's name in notifications.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// The longest an entry lives.
    pub fn lifetime(&self) -> Duration {
        self.inner.lifetime
    }

    /// Whether this node may answer from its caches now.
    pub fn is_trusted(&self) -> bool {
        self.inner.trusted.load(Ordering::SeqCst)
    }

    /// How many times the listener connected again after losing its
    /// connection.
    pub fn listener_reconnects(&self) -> u64 {
        self.inner.listener_reconnects.load(Ordering::Relaxed)
    }

    /// Taken before reading a value to cache; `None` while the node cannot
    /// trust its news, and then nothing read is kept.
    pub fn stamp(&self) -> Option<Stamp> {
        if !self.is_trusted() {
            return None;
        }
        Some(Stamp {
            sequence: self.inner.sequence.load(Ordering::SeqCst),
            taken: Instant::now(),
        })
    }

    /// Whether a value read under `stamp` still holds for `subjects`.
    pub fn is_fresh(&self, stamp: &Stamp, subjects: &[Subject]) -> bool {
        self.is_trusted()
            && stamp.sequence >= self.inner.floor.load(Ordering::SeqCst)
            && stamp.taken.elapsed() < self.inner.lifetime
            && subjects.iter().all(|subject| {
                self.inner
                    .marks
                    .get(subject)
                    .is_none_or(|mark| mark <= stamp.sequence)
            })
    }

    /// Applies committed changes: every entry read before, on their
    /// subjects, is stale from now on.
    pub fn apply(&self, changes: &[Change]) {
        for change in changes {
            match change.stales() {
                Stales::Subjects(subjects) => {
                    for subject in subjects.into_iter().flatten() {
                        let mark = self.inner.sequence.fetch_add(1, Ordering::SeqCst) + 1;
                        self.inner.marks.insert(subject, mark);
                    }
                }
                Stales::Everything => self.forget_everything(),
            }
        }
    }

    /// Applies a notification's payload, unless this node sent it (it
    /// applied its own changes at commit).
    pub(crate) fn apply_message(&self, payload: &str) {
        let message = change::decode_message(payload);
        if message.node != self.inner.node {
            self.apply(&message.changes);
        }
    }

    /// The node may have missed news: from now until [`Self::trust_again`]
    /// no entry is fresh and none is kept.
    pub fn distrust(&self) {
        self.inner.trusted.store(false, Ordering::SeqCst);
    }

    /// News flows again (the listener is back): what was read before
    /// stays stale, what is read from now on may be kept.
    pub fn trust_again(&self) {
        self.forget_everything();
        self.inner.trusted.store(true, Ordering::SeqCst);
    }

    fn forget_everything(&self) {
        let floor = self.inner.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.floor.fetch_max(floor, Ordering::SeqCst);
    }

    pub(crate) fn count_reconnect(&self) {
        self.inner
            .listener_reconnects
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The payloads that tell other nodes of `changes`.
    pub(crate) fn payloads(&self, changes: &[Change]) -> Vec<String> {
        change::encode_batches(&self.inner.node, changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{StaffId, TenantId};

    fn staff_change(tenant: TenantId, staff: StaffId) -> Change {
        Change::Staff { tenant, staff }
    }

    #[test]
    fn a_change_stales_what_was_read_before_it_and_only_that() {
        let node = Coherence::in_process(Duration::from_secs(60));
        let (tenant, staff, other) = (
            TenantId::generate(),
            StaffId::generate(),
            StaffId::generate(),
        );
        let before = node.stamp().unwrap();
        node.apply(&[staff_change(tenant, staff)]);
        let after = node.stamp().unwrap();
        assert!(!node.is_fresh(&before, &[Subject::Staff(tenant, staff)]));
        assert!(node.is_fresh(&before, &[Subject::Staff(tenant, other)]));
        assert!(node.is_fresh(&before, &[Subject::Clinic(tenant)]));
        assert!(node.is_fresh(&after, &[Subject::Staff(tenant, staff)]));
    }

    #[test]
    fn a_clinic_change_stales_lookups_that_found_no_clinic() {
        let node = Coherence::in_process(Duration::from_secs(60));
        let before = node.stamp().unwrap();
        node.apply(&[Change::Clinic {
            tenant: TenantId::generate(),
        }]);
        assert!(!node.is_fresh(&before, &[Subject::Directory]));
    }

    #[test]
    fn a_node_that_lost_news_trusts_nothing_until_it_is_back() {
        let node = Coherence::over_listener(Duration::from_secs(60));
        assert!(node.stamp().is_none(), "no listener yet");
        node.trust_again();
        let read = node.stamp().unwrap();
        assert!(node.is_fresh(&read, &[]));
        node.distrust();
        assert!(!node.is_fresh(&read, &[]));
        assert!(node.stamp().is_none());
        node.trust_again();
        assert!(!node.is_fresh(&read, &[]), "read before the loss");
        assert!(node.is_fresh(&node.stamp().unwrap(), &[]));
    }

    #[test]
    fn entries_die_after_their_lifetime_whatever_the_news() {
        let node = Coherence::in_process(Duration::from_millis(30));
        let read = node.stamp().unwrap();
        assert!(node.is_fresh(&read, &[]));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!node.is_fresh(&read, &[]));
    }

    #[test]
    fn a_node_skips_its_own_notifications_and_applies_others() {
        let a = Coherence::over_listener(Duration::from_secs(60));
        let b = Coherence::over_listener(Duration::from_secs(60));
        a.trust_again();
        b.trust_again();
        let (tenant, staff) = (TenantId::generate(), StaffId::generate());
        let (read_a, read_b) = (a.stamp().unwrap(), b.stamp().unwrap());
        let sent = a.payloads(&[staff_change(tenant, staff)]);
        for payload in &sent {
            a.apply_message(payload);
            b.apply_message(payload);
        }
        let subject = [Subject::Staff(tenant, staff)];
        assert!(a.is_fresh(&read_a, &subject), "a applied it at commit");
        assert!(!b.is_fresh(&read_b, &subject));
    }

    #[test]
    fn news_a_node_cannot_read_forgets_everything() {
        let node = Coherence::in_process(Duration::from_secs(60));
        let read = node.stamp().unwrap();
        node.apply_message("another-node\nrecolour 42");
        assert!(!node.is_fresh(&read, &[]));
    }
}
