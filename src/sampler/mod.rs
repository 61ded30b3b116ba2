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

use crate::cgroup::Hierarchies;
use crate::clock::{Clock, Timestamp};
use crate::config::Config;
use crate::identity::{Identity, Reader};
use crate::snapshot::store::{Entry, Published, SnapshotStore};
use crate::snapshot::{ContainerId, ContainerView, HostView, Parts, Snapshot};
use crate::source::Source;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
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
    requests: Sender<Request>,
    inbox: Receiver<Request>,
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

    fn build(&self, id: &ContainerId, parts: Parts, taken: Timestamp) -> Snapshot {
        let host = Arc::new(collect::collect_host(self.source.as_ref(), parts));
        let container = self.collect(id, parts, &host);
        Snapshot {
            taken,
            parts,
            host,
            container: Arc::new(container),
        }
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
                    match self.requests.try_send(Request::Refresh(id.clone())) {
                        Ok(()) | Err(TrySendError::Full(_)) => {}
                        Err(TrySendError::Disconnected(_)) => {}
                    }
                }
                return snap;
            }
            let wanted = entry.wanted().union(parts);
            return self.publish(id, self.build(id, wanted, now), now.mono_ns);
        }
        self.publish(id, self.build(id, parts, now), now.mono_ns)
    }

    /// One sampler pass: forget containers nobody reads, refresh those read recently.
    pub fn tick(&self) {
        let now = self.clock.now();
        let forget = self.config.forget_after_ns;
        self.store
            .retain(|_, e| now.mono_ns.saturating_sub(e.last_read_ns()) <= forget);
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
        for (id, entry) in active {
            let parts = entry.wanted();
            let snap = Snapshot {
                taken: now,
                parts,
                container: Arc::new(self.collect(&id, parts, &host)),
                host: Arc::clone(&host),
            };
            self.publish(&id, snap, now.mono_ns);
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
        self.publish(id, self.build(id, entry.wanted(), now), now.mono_ns);
    }

    /// Re-detect the cgroup layout and drop every cached identity and snapshot.
    pub fn redetect(&self) {
        self.hierarchies.store(detect(self.source.as_ref()));
        self.identity.clear();
        self.store.clear();
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
