//! Publication: where the sampler hands snapshots to readers (with `arc-swap`).
//!
//! * The sampler thread is the only writer of views and snapshots: it creates a
//!   [`View`] when a reader first demands one, publishes whole snapshots into it
//!   (copy-on-write), and retires views nobody reads.
//! * Readers load without locks. A reader that finds no snapshot fresh enough for what it
//!   needs sends a [`Demand`] and waits for the sampler's answer, at most its time
//!   budget ([`Store::demand`]).
//! * Each view memoises its rendered files per snapshot generation ([`View::rendered`]):
//!   any reader may fill a slot, because the bytes are a pure function of the published
//!   snapshot, so filling it never changes what a reader sees.

use super::{Parts, Snapshot, ViewKey};
use crate::error::{Error, Result};
use arc_swap::{ArcSwap, ArcSwapOption};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Render-cache slots per view (one per virtual file; `render::VirtualFile::index`).
pub(crate) const RENDER_SLOTS: usize = 16;

/// Rendered bytes of one file of one view, for one snapshot generation.
#[derive(Debug)]
pub struct Rendered {
    /// The generation of the snapshot rendered (0: a host file read as is).
    pub(crate) generation: u64,
    /// The file's content.
    pub bytes: Box<[u8]>,
}

/// One view: its published snapshot, its render cache and its demand bookkeeping.
#[derive(Debug)]
pub(crate) struct View {
    key: ViewKey,
    snapshot: ArcSwapOption<Snapshot>,
    rendered: [ArcSwapOption<Rendered>; RENDER_SLOTS],
    /// Monotonic ns of the last read.
    last_read_ns: AtomicU64,
    /// Parts readers asked for (the sampler collects these).
    wanted: AtomicU16,
    /// Set by the sampler when it stops sampling the view; a reader holding it demands a
    /// live one.
    retired: AtomicBool,
}

impl View {
    fn new(key: ViewKey, now_ns: u64, parts: Parts) -> View {
        View {
            key,
            snapshot: ArcSwapOption::empty(),
            rendered: Default::default(),
            last_read_ns: AtomicU64::new(now_ns),
            wanted: AtomicU16::new(parts.0),
            retired: AtomicBool::new(false),
        }
    }

    /// What the view shows.
    pub(crate) fn key(&self) -> &ViewKey {
        &self.key
    }

    /// The current snapshot if it holds `parts`, is at most `max_age_ns` old at `now_ns`
    /// and the view is live. Records the read either way.
    pub(crate) fn fresh_snapshot(
        &self,
        now_ns: u64,
        max_age_ns: u64,
        parts: Parts,
    ) -> Option<Arc<Snapshot>> {
        self.last_read_ns.fetch_max(now_ns, Ordering::Relaxed);
        if !Parts(self.wanted.load(Ordering::Relaxed)).contains(parts) {
            self.wanted.fetch_or(parts.0, Ordering::Relaxed);
        }
        let snap = self.snapshot.load_full()?;
        let fresh = snap.parts.contains(parts)
            && now_ns.saturating_sub(snap.taken.mono_ns) <= max_age_ns
            && !self.retired.load(Ordering::Acquire);
        fresh.then_some(snap)
    }

    /// The current snapshot, whatever its age (the sampler and tests).
    pub(crate) fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    /// The render-cache slot `slot`.
    pub(crate) fn rendered(&self, slot: usize) -> &ArcSwapOption<Rendered> {
        &self.rendered[slot % RENDER_SLOTS]
    }

    /// Monotonic ns of the last read.
    pub(crate) fn last_read_ns(&self) -> u64 {
        self.last_read_ns.load(Ordering::Relaxed)
    }

    /// Parts readers asked for.
    pub(crate) fn wanted(&self) -> Parts {
        Parts(self.wanted.load(Ordering::Relaxed))
    }

    /// Whether the sampler retired the view.
    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }
}

/// A reader's request for a view holding `parts`, fresh as of now.
#[derive(Debug)]
pub(crate) struct Demand {
    pub(crate) key: ViewKey,
    pub(crate) parts: Parts,
    pub(crate) reply: Sender<Arc<View>>,
}

/// What the sampler thread receives.
#[derive(Debug)]
pub(crate) enum Request {
    /// A reader needs a view.
    Demand(Demand),
    /// Run one sampler pass now and answer when done (manual mode: tests, inspect).
    Tick(Sender<()>),
    /// Persist the soft state and end the thread (a server stopping for an upgrade).
    Stop(Sender<()>),
}

/// The published views and the way to the sampler.
#[derive(Debug)]
pub(crate) struct Store {
    views: CowMap<ViewKey, Arc<View>>,
    requests: Sender<Request>,
}

impl Store {
    /// A store and the receiving end of its requests (for the sampler).
    pub(crate) fn new() -> (Arc<Store>, Receiver<Request>) {
        let (requests, inbox) = bounded(4096);
        (
            Arc::new(Store {
                views: CowMap::default(),
                requests,
            }),
            inbox,
        )
    }

    /// The published view of `key`, if any.
    pub(crate) fn view(&self, key: &ViewKey) -> Option<Arc<View>> {
        self.views.get(key)
    }

    /// Ask the sampler for a live view of `key` whose snapshot holds `parts`, sampled
    /// now; wait at most `budget`.
    pub(crate) fn demand(
        &self,
        key: &ViewKey,
        parts: Parts,
        budget: Duration,
    ) -> Result<Arc<View>> {
        let (reply, answer) = bounded(1);
        let demand = Demand {
            key: key.clone(),
            parts,
            reply,
        };
        self.requests
            .send_timeout(Request::Demand(demand), budget)
            .map_err(|_| Error::SamplerTimeout)?;
        answer
            .recv_timeout(budget)
            .map_err(|_| Error::SamplerTimeout)
    }

    /// Send the sampler a request (manual ticks, stop).
    pub(crate) fn request(&self, r: Request) -> bool {
        self.requests.send(r).is_ok()
    }

    /// Number of live views.
    pub(crate) fn len(&self) -> usize {
        self.views.len()
    }

    // --- the sampler's side ---

    /// The view of `key` for a reader's demand, created (and published) if missing; a
    /// demand counts as a read (it keeps the view sampled).
    pub(crate) fn get_or_create(&self, key: &ViewKey, now_ns: u64, parts: Parts) -> Arc<View> {
        if let Some(v) = self.views.get(key) {
            v.wanted.fetch_or(parts.0, Ordering::Relaxed);
            v.last_read_ns.fetch_max(now_ns, Ordering::Relaxed);
            return v;
        }
        let view = Arc::new(View::new(key.clone(), now_ns, parts));
        self.views.insert(key, Arc::clone(&view));
        view
    }

    /// Publish a new snapshot of `view`.
    pub(crate) fn publish(&self, view: &View, snapshot: Arc<Snapshot>) {
        view.snapshot.store(Some(snapshot));
    }

    /// Every live view.
    pub(crate) fn views(&self) -> Vec<Arc<View>> {
        self.views.values()
    }

    /// Stop publishing the views `retire` selects: readers holding one demand a new one.
    pub(crate) fn retire(&self, mut retire: impl FnMut(&View) -> bool) {
        self.views.retain(|_, v| {
            let gone = retire(v);
            if gone {
                v.retired.store(true, Ordering::Release);
            }
            !gone
        });
    }
}

/// A map read without locks and updated by copying: for small, read-mostly maps written
/// by one thread (the views, by the sampler).
#[derive(Debug)]
pub(crate) struct CowMap<K, V> {
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
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.map.load().get(key).cloned()
    }

    /// Insert or replace.
    pub(crate) fn insert(&self, key: &K, value: V) {
        self.map.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.insert(key.clone(), value.clone());
            map
        });
    }

    /// Keep only what `keep` accepts.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        let current = self.map.load_full();
        let kept: HashMap<K, V> = current
            .iter()
            .filter(|(k, v)| keep(k, v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if kept.len() != current.len() {
            self.map.store(Arc::new(kept));
        }
    }

    pub(crate) fn values(&self) -> Vec<V> {
        self.map.load().values().cloned().collect()
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.map.load().len()
    }
}
