//! A bounded cache whose entries are only answered while fresh.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;

use super::{Coherence, Stamp, Subject};

/// A bounded map (moka) in front of a hot read. Each entry carries the
/// [`Stamp`] taken before its value was read and the [`Subject`]s the
/// value came from; [`CoherentCache::get`] answers it only while
/// [`Coherence::is_fresh`] says so.
///
/// The read-through pattern is:
///
/// ```ignore
/// if let Some(hit) = cache.get(&key) { return hit }
/// let stamp = cache.stamp();          // before the read
/// let value = read_from_database().await?;
/// cache.insert(key, value.clone(), stamp, subjects);
/// ```
pub struct CoherentCache<K, V> {
    /// The cache's name in metrics.
    name: &'static str,
    coherence: Coherence,
    entries: moka::sync::Cache<K, Arc<Entry<V>>>,
}

struct Entry<V> {
    value: V,
    stamp: Stamp,
    subjects: Vec<Subject>,
}

impl<K, V> Clone for CoherentCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            coherence: self.coherence.clone(),
            entries: self.entries.clone(),
        }
    }
}

impl<K, V> CoherentCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// At most `capacity` entries, each living at most the coherence's
    /// lifetime.
    pub fn new(name: &'static str, coherence: &Coherence, capacity: u64) -> Self {
        Self {
            name,
            coherence: coherence.clone(),
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(coherence.lifetime())
                .build(),
        }
    }

    /// The value kept for `key`, if it is still fresh. Looked up by a
    /// borrowed form (`&str` for a `String` key), so a hit allocates
    /// nothing.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(entry) = self.entries.get(key) else {
            self.count("miss");
            return None;
        };
        if self.coherence.is_fresh(&entry.stamp, &entry.subjects) {
            self.count("hit");
            Some(entry.value.clone())
        } else {
            self.entries.invalidate(key);
            self.count("stale");
            None
        }
    }

    /// To be taken before reading the value that will be inserted.
    pub fn stamp(&self) -> Option<Stamp> {
        self.coherence.stamp()
    }

    /// Keeps `value`, read under `stamp` from `subjects`; does nothing
    /// when there is no stamp (the node distrusts its news) or when a
    /// change already made the value stale.
    pub fn insert(&self, key: K, value: V, stamp: Option<Stamp>, subjects: Vec<Subject>) {
        let Some(stamp) = stamp else { return };
        if self.coherence.is_fresh(&stamp, &subjects) {
            self.entries.insert(
                key,
                Arc::new(Entry {
                    value,
                    stamp,
                    subjects,
                }),
            );
        }
    }

    fn count(&self, outcome: &'static str) {
        metrics::counter!("portico_cache_lookups_total", "cache" => self.name, "outcome" => outcome)
            .increment(1);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::coherence::Change;
    use crate::domain::TenantId;

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let node = Coherence::in_process(Duration::from_secs(60));
        let cache = CoherentCache::new("test", &node, 10);
        let tenant = TenantId::generate();
        let stamp = cache.stamp();
        // The change commits while the old value is being read...
        node.apply(&[Change::Clinic { tenant }]);
        // ...and the reader comes back with it.
        cache.insert("k", "old", stamp, vec![Subject::Clinic(tenant)]);
        assert_eq!(cache.get(&"k"), None);
        let stamp = cache.stamp();
        cache.insert("k", "new", stamp, vec![Subject::Clinic(tenant)]);
        assert_eq!(cache.get(&"k"), Some("new"));
        node.apply(&[Change::Clinic { tenant }]);
        assert_eq!(cache.get(&"k"), None, "stale after the next change");
    }

    #[test]
    fn nothing_is_kept_or_answered_while_news_may_be_missing() {
        let node = Coherence::over_listener(Duration::from_secs(60));
        let cache = CoherentCache::new("test", &node, 10);
        cache.insert(1, 1, cache.stamp(), vec![]);
        assert_eq!(cache.get(&1), None);
        node.trust_again();
        cache.insert(1, 1, cache.stamp(), vec![]);
        assert_eq!(cache.get(&1), Some(1));
        node.distrust();
        assert_eq!(cache.get(&1), None);
        node.trust_again();
        assert_eq!(cache.get(&1), None, "read before the loss");
    }
}
