//! The sampler: collects cgroup and host data and publishes snapshots.
//!
//! Rules:
//! * **Freshness.** A read never uses a snapshot older than `max_staleness`: the sampler
//!   refreshes every container read within `active_window` every `max_staleness / 2`,
//!   and a reader that finds no usable snapshot (a container seen for the first time, or
//!   one not read for a while) builds one synchronously, once, and publishes it.
//! * **One sample time.** A snapshot's container and host data are read in one pass
//!   stamped with one clock reading, so ratios between reads stay exact.
//! * **Work follows reads.** Only containers read recently are sampled, only the parts
//!   their readers asked for; a container unread for `forget_after` is dropped.
//! * **Publication.** Whole snapshots are swapped in (copy-on-write); readers never lock.
//!
//! [`Engine::tick`] is one sampler pass and is what tests call; [`Engine::spawn_sampler`]
//! runs it on a thread and serves refresh requests from readers over a channel.

pub mod collect;
pub mod history;

use crate::cgroup::Hierarchies;
use crate::clock::{Clock, Timestamp};
use crate::config::Config;
use crate::identity::{Identity, Reader};
use crate::snapshot::store::{CowMap, Entry, Published, SnapshotStore};
use crate::snapshot::{ContainerId, ContainerView, HostView, Parts, Snapshot};
use crate::source::Source;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use history::History;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// Messages to the sampler thread.
#[derive(Debug)]
pub enum Request {
    /// A reader saw this container's snapshot half-way to stale: refresh it now.
    Refresh(ContainerId),
    /// Re-detect the cgroup layout and drop every cache (SIGUSR1).
    Redetect,
    /// End the thread.
    Stop,
}

/// The engine: everything the read path needs, shared by FUSE workers and the sampler.
pub struct Engine {
    source: Arc<dyn Source>,
    clock: Arc<dyn Clock>,
    config: Config,
    hierarchies: Published<Option<Hierarchies>>,
    identity: Identity,
    store: SnapshotStore,
    histories: CowMap<ContainerId, Arc<Mutex<History>>>,
    passes: AtomicU64,
    requests: Sender<Request>,
    inbox: Receiver<Request>,
}

/// Passes between two prunings of the histories of containers nobody reads.
const HISTORY_PRUNE_EVERY: u64 = 100;
/// How long the history of a container nobody reads is kept (its cgroup still existing).
const HISTORY_KEEP_NS: u64 = 3_600_000_000_000;

/// Most tasks one sampler pass counts over all containers, so that hundreds of busy
/// containers cannot make a pass take seconds.
pub const MAX_TASKS_PER_PASS: u64 = 200_000;

/// A history's lock; a poisoned lock (a panic elsewhere) still yields the data.
fn lock_history(h: &Mutex<History>) -> std::sync::MutexGuard<'_, History> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

fn detect(source: &dyn Source) -> Option<Hierarchies> {
    match Hierarchies::detect(source) {
        Ok(h) => {
            log::info!("cgroup layout: {:?}", h.layout);
            Some(h)
        }
        Err(e) => {
            log::warn!("no cgroup hierarchy found ({e}); every file shows host values");
            None
        }
    }
}

impl Engine {
    /// An engine over `source`, with time from `clock`.
    pub fn new(source: Arc<dyn Source>, clock: Arc<dyn Clock>, config: Config) -> Arc<Engine> {
        let (requests, inbox) = bounded(1024);
        Arc::new(Engine {
            hierarchies: Published::new(detect(source.as_ref())),
            identity: Identity::new(config.identity),
            source,
            clock,
            config,
            store: SnapshotStore::default(),
            histories: CowMap::default(),
            passes: AtomicU64::new(0),
            requests,
            inbox,
        })
    }

    /// The kernel the engine reads.
    pub fn source(&self) -> &dyn Source {
        self.source.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The detected hierarchies (None: no cgroups at all).
    pub fn hierarchies(&self) -> Arc<Option<Hierarchies>> {
        self.hierarchies.load()
    }

    /// The current time of the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Who `pid` is (see [`crate::identity`]).
    pub fn reader(&self, pid: u32) -> Reader {
        let h = self.hierarchies.load();
        match h.as_ref() {
            Some(h) => {
                self.identity
                    .resolve(self.source.as_ref(), h, pid, self.clock.now().mono_ns)
            }
            None => Reader {
                container: ContainerId::default(),
                init_start_ticks: None,
            },
        }
    }

    /// Number of containers with a published snapshot.
    pub fn containers(&self) -> usize {
        self.store.len()
    }

    fn history(&self, id: &ContainerId) -> Arc<Mutex<History>> {
        self.histories
            .get_or_insert(id, Arc::new(Mutex::new(History::default())))
    }

    fn collect(&self, id: &ContainerId, parts: Parts, host: &HostView) -> ContainerView {
        let h = self.hierarchies.load();
        collect::collect_container(
            self.source.as_ref(),
            h.as_ref().as_ref(),
            id,
            parts,
            &host.cpu_online,
            &self.config.render,
        )
    }

    /// Take one sample of container `id` at `taken` (with the host data `host` of the same
    /// pass), apply its history and publish it. Returns `None` when a newer sample was
    /// applied meanwhile (the published one is then the one to use). The history lock is
    /// held only by writers (the sampler, a reader building a missing snapshot), never on
    /// the read path of a fresh snapshot.
    fn sample(
        &self,
        id: &ContainerId,
        parts: Parts,
        taken: Timestamp,
        host: Arc<HostView>,
        tasks_scanned: &mut u64,
    ) -> Option<Arc<Snapshot>> {
        let mut container = self.collect(id, parts, &host);
        let history = self.history(id);
        let wants_load = parts.contains(Parts::LOAD) && self.config.render.enable_loadavg;
        // Tasks are counted (I/O) outside the lock, only when a load sample is due and the
        // pass's budget allows (a container over budget keeps its last counts and is
        // sampled on the next pass).
        let counts = if wants_load
            && *tasks_scanned < MAX_TASKS_PER_PASS
            && lock_history(&history).load_due(taken.mono_ns)
        {
            let h = self.hierarchies.load();
            collect::collect_load(self.source.as_ref(), h.as_ref().as_ref(), id)
        } else {
            None
        };
        let mut h = lock_history(&history);
        if h.is_stale(taken.mono_ns) {
            return None;
        }
        if wants_load {
            container.load = match counts {
                Some(c) => {
                    *tasks_scanned += c.total;
                    Some(h.apply_load(taken.mono_ns, c))
                }
                None => h.last_load(),
            };
        }
        if parts.contains(Parts::CPUSET) && parts.contains(Parts::CPUACCT) {
            container.cpu_lines =
                Some(h.apply_cpu(taken.mono_ns, &container, &host, &self.config.render));
        }
        let snap = Snapshot {
            taken,
            parts,
            host,
            container: Arc::new(container),
        };
        // Published under the history lock, so publication order = history order.
        Some(self.publish(id, snap, taken.mono_ns))
    }

    fn publish(&self, id: &ContainerId, snap: Snapshot, now_ns: u64) -> Arc<Snapshot> {
        let snap = Arc::new(snap);
        let entry = match self.store.get(id) {
            Some(e) => {
                e.publish(Arc::clone(&snap));
                e
            }
            None => self
                .store
                .get_or_insert(id, Arc::new(Entry::new(Arc::clone(&snap), now_ns))),
        };
        entry.publish(Arc::clone(&snap));
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        snap.container.fallbacks.hash(&mut hasher);
        if entry.fallbacks_changed(hasher.finish()) {
            for f in &snap.container.fallbacks {
                log::warn!("container {id}: {}: {}", f.what, f.reason);
            }
        }
        snap
    }

    fn build(&self, id: &ContainerId, parts: Parts, taken: Timestamp) -> Arc<Snapshot> {
        let host = Arc::new(collect::collect_host(self.source.as_ref(), parts));
        let mut scanned = 0;
        match self.sample(id, parts, taken, host, &mut scanned) {
            Some(s) => s,
            None => match self.store.get(id) {
                Some(e) => e.load(),
                // Unreachable in practice (a newer sample implies a published one); build
                // without history rather than fail.
                None => {
                    let host = Arc::new(collect::collect_host(self.source.as_ref(), parts));
                    let container = self.collect(id, parts, &host);
                    Arc::new(Snapshot {
                        taken,
                        parts,
                        host,
                        container: Arc::new(container),
                    })
                }
            },
        }
    }

    /// The snapshot a read of a file needing `parts` uses for container `id`: the
    /// published one if fresh enough, else one built now (and published).
    pub fn snapshot(&self, id: &ContainerId, parts: Parts) -> Arc<Snapshot> {
        let now = self.clock.now();
        let max = self.config.max_staleness_ns;
        if let Some(entry) = self.store.get(id) {
            entry.touch(now.mono_ns, parts);
            let snap = entry.load();
            let age = now.mono_since(&snap.taken);
            if snap.parts.contains(parts) && age <= max {
                if age > max / 2 {
                    let _ = self.requests.try_send(Request::Refresh(id.clone()));
                }
                return snap;
            }
            let wanted = entry.wanted().union(parts);
            return self.build(id, wanted, now);
        }
        self.build(id, parts, now)
    }

    /// Whether the cgroup of `id` still exists (the cpu hierarchy, else memory).
    fn cgroup_exists(&self, id: &ContainerId) -> bool {
        let h = self.hierarchies.load();
        let Some(h) = h.as_ref() else {
            return true;
        };
        let probe = [
            (crate::cgroup::Controller::Cpu, &id.cpu),
            (crate::cgroup::Controller::Memory, &id.memory),
        ];
        for (c, path) in probe {
            if let (Some(m), Some(p)) = (h.controller(c), path) {
                return self.source.metadata(&m.dir(p)).is_ok();
            }
        }
        true
    }

    /// One sampler pass: forget containers nobody reads (or whose cgroup is gone),
    /// refresh those read recently. Logs its cost at debug level.
    pub fn tick(&self) {
        let now = self.clock.now();
        let forget = self.config.forget_after_ns;
        // Unread containers leave the store (no more sampling); their history stays, so
        // a container read again later continues its counters instead of starting over,
        // until its cgroup disappears or an hour passes.
        let mut gone: Vec<ContainerId> = Vec::new();
        let mut vanished: Vec<ContainerId> = Vec::new();
        for (id, e) in self.store.entries() {
            let idle = now.mono_ns.saturating_sub(e.last_read_ns());
            if idle <= self.config.active_window_ns && !self.cgroup_exists(&id) {
                vanished.push(id);
            } else if idle > forget {
                gone.push(id);
            }
        }
        if !gone.is_empty() || !vanished.is_empty() {
            self.store
                .retain(|id, _| !gone.contains(id) && !vanished.contains(id));
            self.histories.retain(|id, _| !vanished.contains(id));
        }
        if self.passes.fetch_add(1, Ordering::Relaxed) % HISTORY_PRUNE_EVERY == 0 {
            let stored: Vec<ContainerId> =
                self.store.entries().into_iter().map(|(id, _)| id).collect();
            self.histories.retain(|id, h| {
                stored.contains(id)
                    || (lock_history(h)
                        .last_sample_ns()
                        .saturating_add(HISTORY_KEEP_NS)
                        >= now.mono_ns
                        && self.cgroup_exists(id))
            });
        }
        let active: Vec<_> = self
            .store
            .entries()
            .into_iter()
            .filter(|(_, e)| {
                now.mono_ns.saturating_sub(e.last_read_ns()) <= self.config.active_window_ns
            })
            .collect();
        if active.is_empty() {
            return;
        }
        let all = active
            .iter()
            .fold(Parts::default(), |p, (_, e)| p.union(e.wanted()));
        let host = Arc::new(collect::collect_host(self.source.as_ref(), all));
        let mut scanned = 0;
        for (id, entry) in &active {
            self.sample(id, entry.wanted(), now, Arc::clone(&host), &mut scanned);
        }
        if log::log_enabled!(log::Level::Debug) {
            let spent = self.clock.now().mono_since(&now);
            log::debug!(
                "sampler tick: {} containers, {} unread, {} vanished, {scanned} tasks scanned, {} µs",
                active.len(),
                gone.len(),
                vanished.len(),
                spent / 1000
            );
        }
    }

    fn refresh(&self, id: &ContainerId) {
        let Some(entry) = self.store.get(id) else {
            return;
        };
        let now = self.clock.now();
        if now.mono_since(&entry.load().taken) < self.config.max_staleness_ns / 4 {
            return;
        }
        self.build(id, entry.wanted(), now);
    }

    /// Re-detect the cgroup layout and drop every cached identity, snapshot and history.
    pub fn redetect(&self) {
        self.hierarchies.store(detect(self.source.as_ref()));
        self.identity.clear();
        self.store.clear();
        self.histories.clear();
    }

    /// Ask the sampler thread for something (non-blocking).
    pub fn request(&self, r: Request) {
        let _ = self.requests.try_send(r);
    }

    /// Run the sampler on its own thread until [`Request::Stop`].
    pub fn spawn_sampler(self: &Arc<Self>) -> thread::JoinHandle<()> {
        let engine = Arc::clone(self);
        let period_ns = (self.config.max_staleness_ns / 2).max(1_000_000);
        thread::Builder::new()
            .name("vproc-sampler".into())
            .spawn(move || {
                let mut next_tick = engine.clock.now().mono_ns.saturating_add(period_ns);
                loop {
                    // Refresh requests are served between ticks; they never postpone one.
                    let wait = next_tick.saturating_sub(engine.clock.now().mono_ns);
                    match engine.inbox.recv_timeout(Duration::from_nanos(wait)) {
                        Ok(Request::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                        Ok(Request::Refresh(id)) => engine.refresh(&id),
                        Ok(Request::Redetect) => engine.redetect(),
                        Err(RecvTimeoutError::Timeout) => {
                            engine.tick();
                            next_tick = engine.clock.now().mono_ns.saturating_add(period_ns);
                        }
                    }
                }
            })
            .expect("spawning the sampler thread")
    }
}
