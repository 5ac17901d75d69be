//! When the database last cut this node's connections, so that neither pool
//! lends a connection opened before then.
//!
//! A restart or a failover ends every connection at once, but a pool only
//! finds that out one connection at a time: each idle connection would fail
//! the one request it is lent to. Instead, the first sign of a cut (the
//! listener's connection lost, a read connection that no longer answers)
//! is recorded here, and both pools then replace every connection older
//! than it before lending one. A sign that was only one connection's
//! trouble costs the others a reconnect each, once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The moment of the last cut, shared by a node's pools. Cloning is cheap.
#[derive(Clone)]
pub(crate) struct ConnectionCuts {
    inner: Arc<Inner>,
}

struct Inner {
    /// Instants are stored as nanoseconds after this one.
    origin: Instant,
    /// Nanoseconds after `origin` of the last cut; 0 while there was none.
    last_cut: AtomicU64,
}

impl ConnectionCuts {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                origin: Instant::now(),
                last_cut: AtomicU64::new(0),
            }),
        }
    }

    /// Records that connections opened until now may be dead.
    pub(crate) fn mark(&self) {
        let since = self.since_origin(Instant::now()).max(1);
        self.inner.last_cut.fetch_max(since, Ordering::AcqRel);
    }

    /// Whether a connection opened at `opened` predates the last cut.
    pub(crate) fn predates_last(&self, opened: Instant) -> bool {
        let cut = self.inner.last_cut.load(Ordering::Acquire);
        cut != 0 && self.since_origin(opened) <= cut
    }

    /// The same, for a connection that has been open for `age`.
    pub(crate) fn older_than_last(&self, age: Duration) -> bool {
        // A connection older than the process predates every cut it saw.
        let opened = Instant::now().checked_sub(age).unwrap_or(self.inner.origin);
        self.predates_last(opened)
    }

    fn since_origin(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.inner.origin).as_nanos())
            .unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_predates_a_cut_that_never_happened() {
        let cuts = ConnectionCuts::new();
        assert!(!cuts.predates_last(Instant::now()));
        assert!(!cuts.older_than_last(Duration::from_secs(3600)));
    }

    #[test]
    fn connections_opened_before_a_cut_are_old_and_later_ones_are_not() {
        let cuts = ConnectionCuts::new();
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        cuts.mark();
        std::thread::sleep(Duration::from_millis(2));
        let after = Instant::now();
        assert!(cuts.predates_last(before));
        assert!(!cuts.predates_last(after));
        assert!(cuts.older_than_last(Duration::from_secs(3600)));
        assert!(!cuts.older_than_last(Duration::ZERO));
    }

    #[test]
    fn a_cut_is_seen_by_every_clone() {
        let cuts = ConnectionCuts::new();
        let pool_view = cuts.clone();
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        cuts.mark();
        assert!(pool_view.predates_last(before));
    }
}
