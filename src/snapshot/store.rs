//! Publication: the one place that uses `arc-swap`.
//!
//! Readers `load` without locks. Writers replace whole values (copy-on-write), so a
//! reader never sees a half-built value. Writers are the sampler thread and, for a
//! container seen for the first time or not read for a while, the reader that needs it
//! (a synchronous build); of two racing snapshot publications the newer sample wins.

use super::{ContainerId, Parts, Snapshot};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

/// A map read without locks and updated by copying (for small, read-mostly maps:
/// snapshots per container, identities per pid namespace).
#[derive(Debug)]
pub struct CowMap<K, V> {
    map: ArcSwap<HashMap<K, V>>,
}

impl<K, V> Default for CowMap<K, V> {
    fn default() -> Self {
        CowMap {
            map: ArcSwap::from_pointee(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> CowMap<K, V> {
    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        self.map.load().get(key).cloned()
    }

    /// Insert unless present; returns the value in the map afterwards.
    pub fn get_or_insert(&self, key: &K, value: V) -> V {
        if let Some(v) = self.get(key) {
            return v;
        }
        let mut result = value.clone();
        self.map.rcu(|map| {
            let mut map = HashMap::clone(map);
            result = map
                .entry(key.clone())
                .or_insert_with(|| value.clone())
                .clone();
            map
        });
        result
    }

    /// Insert or replace.
    pub fn insert(&self, key: &K, value: V) {
        self.map.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.insert(key.clone(), value.clone());
            map
        });
    }

    /// Keep only what `keep` accepts.
    pub fn retain(&self, keep: impl Fn(&K, &V) -> bool) {
        if self.map.load().iter().all(|(k, v)| keep(k, v)) {
            return;
        }
        self.map.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.retain(|k, v| keep(k, v));
            map
        });
    }

    /// Every entry.
    pub fn entries(&self) -> Vec<(K, V)> {
        self.map
            .load()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Empty the map.
    pub fn clear(&self) {
        self.map.store(Arc::new(HashMap::new()));
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.load().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One container's published snapshot and its demand bookkeeping.
#[derive(Debug)]
pub struct Entry {
    snapshot: ArcSwap<Snapshot>,
    /// Monotonic ns of the last open that used this entry.
    last_read_ns: AtomicU64,
    /// Parts that readers asked for (the sampler collects these).
    wanted: AtomicU16,
    /// Hash of the fallbacks last logged, so each change is logged once.
    logged_fallbacks: AtomicU64,
}

impl Entry {
    /// A new entry holding `snapshot`, read at `now_ns`.
    pub fn new(snapshot: Arc<Snapshot>, now_ns: u64) -> Self {
        Entry {
            wanted: AtomicU16::new(snapshot.parts.0),
            snapshot: ArcSwap::new(snapshot),
            last_read_ns: AtomicU64::new(now_ns),
            logged_fallbacks: AtomicU64::new(0),
        }
    }

    /// The current snapshot (a full `Arc`: guards are never held across calls).
    pub fn load(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Replace the snapshot unless the current one is newer and holds at least the
    /// same parts.
    pub fn publish(&self, new: Arc<Snapshot>) {
        self.snapshot.rcu(|cur| {
            if cur.taken > new.taken && cur.parts.contains(new.parts) {
                Arc::clone(cur)
            } else {
                Arc::clone(&new)
            }
        });
    }

    /// Record a read at `now_ns` that needs `parts`.
    pub fn touch(&self, now_ns: u64, parts: Parts) {
        self.last_read_ns.fetch_max(now_ns, Ordering::Relaxed);
        self.wanted.fetch_or(parts.0, Ordering::Relaxed);
    }

    /// Monotonic ns of the last read.
    pub fn last_read_ns(&self) -> u64 {
        self.last_read_ns.load(Ordering::Relaxed)
    }

    /// Parts readers asked for.
    pub fn wanted(&self) -> Parts {
        Parts(self.wanted.load(Ordering::Relaxed))
    }

    /// True exactly once per change of the fallback set (by hash): the caller logs then.
    pub fn fallbacks_changed(&self, hash: u64) -> bool {
        self.logged_fallbacks.swap(hash, Ordering::Relaxed) != hash
    }
}

/// All published snapshots, by container.
pub type SnapshotStore = CowMap<ContainerId, Arc<Entry>>;

/// One value replaced as a whole (the detected cgroup layout, re-detected on SIGUSR1).
#[derive(Debug)]
pub struct Published<T> {
    value: ArcSwap<T>,
}

impl<T> Published<T> {
    /// Publish an initial value.
    pub fn new(value: T) -> Self {
        Published {
            value: ArcSwap::from_pointee(value),
        }
    }

    /// The current value.
    pub fn load(&self) -> Arc<T> {
        self.value.load_full()
    }

    /// Replace the value.
    pub fn store(&self, value: T) {
        self.value.store(Arc::new(value));
    }
}
