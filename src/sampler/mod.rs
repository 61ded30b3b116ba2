//! The sampler: the one thread that reads cgroups and host files and publishes
//! snapshots.
//!
//! Rules:
//! * **One writer.** The sampler thread owns the source, the cgroup layout and every
//!   view's history as plain thread-owned data (no lock). Readers never read cgroup
//!   files and never publish: they load the published snapshot of their view, and when
//!   it is missing or too old they send a demand and wait for this thread.
//! * **Freshness.** A read never uses a snapshot older than `max_staleness`: views read
//!   within `active_window` are sampled every `max_staleness / 2`; a view read after a
//!   pause is demanded by its reader and sampled at once.
//! * **One sample time.** A pass reads the host files once and every view's cgroup files
//!   with one clock reading, so ratios between container and host numbers are exact.
//! * **Work follows reads.** Only views read recently are sampled, only the parts their
//!   readers asked for; a view unread for `forget_after` is retired (its history stays
//!   for an hour, or until its cgroup disappears, so its counters continue if it is read
//!   again). With nothing being read the thread sleeps until a demand arrives.
//! * **Histories first, then snapshots.** Each pass saves the histories (when a
//!   [`persist::StateStore`] is given) before publishing what was computed from them, so
//!   a successor process starts from the newest state any reader has seen.

pub(crate) mod collect;
pub(crate) mod history;
pub(crate) mod persist;

use crate::cgroup::Hierarchies;
use crate::clock::{Clock, Timestamp};
use crate::config::Config;
use crate::logger::Throttle;
use crate::snapshot::store::{Demand, Request, Store, View};
use crate::snapshot::{HostCpuFiles, HostView, Parts, Snapshot, ViewKey};
use crate::source::Source;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use history::History;
use persist::StateStore;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// How long the history of a view nobody reads is kept (its cgroup still existing).
const HISTORY_KEEP_NS: u64 = 3_600_000_000_000;
/// Passes between two prunings of the histories of views nobody reads.
const HISTORY_PRUNE_EVERY: u64 = 100;
/// Most tasks one pass counts over all views, so that hundreds of busy containers
/// cannot make a pass take seconds (a view over budget keeps its last counts).
const MAX_TASKS_PER_PASS: u64 = 200_000;

/// Passes that took longer than their period (logged at most once a minute).
static OVERRUN: Throttle = Throttle::new();
/// Views whose load was not counted because the pass's task budget was spent.
static TASK_BUDGET: Throttle = Throttle::new();
/// At most one warning per minute for an event that can repeat on every pass.
const WARN_EVERY_NS: u64 = 60_000_000_000;

/// When the sampler runs passes on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pacing {
    /// Every `max_staleness / 2` while something is being read (the daemon).
    Periodic,
    /// Only on [`Request::Tick`] (tests and `inspect`, which drive time themselves).
    Manual,
}

/// The sampler thread's state.
pub(crate) struct Sampler {
    source: Arc<dyn Source>,
    clock: Arc<dyn Clock>,
    config: Config,
    hierarchies: Option<Arc<Hierarchies>>,
    store: Arc<Store>,
    inbox: Receiver<Request>,
    pacing: Pacing,
    histories: HashMap<ViewKey, History>,
    cpu_files: Option<(u64, Arc<HostCpuFiles>)>,
    generation: u64,
    passes: u64,
    state: Option<Box<dyn StateStore>>,
    /// Hash of the fallbacks last logged per view, so each change is logged once.
    logged_fallbacks: HashMap<ViewKey, u64>,
}

impl Sampler {
    /// A sampler over `source`; its histories start from `state` when that holds one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        source: Arc<dyn Source>,
        clock: Arc<dyn Clock>,
        config: Config,
        hierarchies: Option<Arc<Hierarchies>>,
        store: Arc<Store>,
        inbox: Receiver<Request>,
        pacing: Pacing,
        mut state: Option<Box<dyn StateStore>>,
    ) -> Sampler {
        let histories = state
            .as_mut()
            .and_then(|s| s.load())
            .map(|blob| persist::decode_state(&String::from_utf8_lossy(&blob)))
            .unwrap_or_default();
        if !histories.is_empty() {
            log::info!(
                "continuing the load averages and CPU counters of {} views",
                histories.len()
            );
        }
        Sampler {
            source,
            clock,
            config,
            hierarchies,
            store,
            inbox,
            pacing,
            histories,
            cpu_files: None,
            generation: 0,
            passes: 0,
            state,
            logged_fallbacks: HashMap::new(),
        }
    }

    /// Time between two passes while something is being read: half the freshness
    /// bound, so a read never waits for data older than `--max-staleness`.
    fn period_ns(&self) -> u64 {
        (self.config.max_staleness_ns / 2).max(1_000_000)
    }

    /// Serve demands and run passes until [`Request::Stop`] or until every sender is gone.
    pub(crate) fn run(mut self) {
        let period_ns = self.period_ns();
        let mut next_pass = self.clock.now().mono_ns.saturating_add(period_ns);
        // A request met while gathering demands, handled next (never dropped: it may be
        // a Stop that an upgrade waits for).
        let mut pending: Option<Request> = None;
        loop {
            let idle = self.pacing == Pacing::Manual || self.store.len() == 0;
            let message = if let Some(r) = pending.take() {
                Ok(r)
            } else if idle {
                self.inbox
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                let wait = next_pass.saturating_sub(self.clock.now().mono_ns);
                self.inbox.recv_timeout(Duration::from_nanos(wait))
            };
            match message {
                Ok(Request::Demand(first)) => {
                    // Demands that arrived together are served by one pass.
                    let mut demands = vec![first];
                    while let Ok(r) = self.inbox.try_recv() {
                        match r {
                            Request::Demand(d) => demands.push(d),
                            other => {
                                pending = Some(other);
                                break;
                            }
                        }
                    }
                    self.serve(demands);
                }
                Ok(Request::Tick(done)) => {
                    self.pass();
                    let _ = done.send(());
                }
                Ok(Request::Stop(done)) => {
                    self.save();
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.pass();
                    next_pass = self.clock.now().mono_ns.saturating_add(period_ns);
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn cpu_files(&mut self, now_ns: u64) -> Arc<HostCpuFiles> {
        match &self.cpu_files {
            Some((at, files)) if now_ns.saturating_sub(*at) < collect::CPU_FILES_MAX_AGE_NS => {
                Arc::clone(files)
            }
            _ => {
                let files = Arc::new(collect::collect_host_cpu_files(self.source.as_ref()));
                self.cpu_files = Some((now_ns, Arc::clone(&files)));
                files
            }
        }
    }

    fn host(&mut self, parts: Parts, now: Timestamp) -> Arc<HostView> {
        let cpu_files = if parts.contains(Parts::CPUSET) || parts.contains(Parts::CPUACCT) {
            self.cpu_files(now.mono_ns)
        } else {
            Arc::default()
        };
        Arc::new(collect::collect_host(
            self.source.as_ref(),
            parts,
            cpu_files,
        ))
    }

    /// Sample one view (cgroup files, history) at `now` with the pass's host data.
    fn sample(
        &mut self,
        key: &ViewKey,
        parts: Parts,
        now: Timestamp,
        host: &Arc<HostView>,
        tasks_scanned: &mut u64,
    ) -> Snapshot {
        let hierarchies = self.hierarchies.as_deref();
        let mut container = collect::collect_container(
            self.source.as_ref(),
            hierarchies,
            &key.cgroups,
            parts,
            &host.cpu_online,
        );
        let history = self.histories.entry(key.clone()).or_default();
        let options = &self.config.render;
        if parts.contains(Parts::LOAD) && options.enable_loadavg {
            let due = history.load_due(now.mono_ns);
            let counts = if due && *tasks_scanned < MAX_TASKS_PER_PASS {
                collect::collect_load(self.source.as_ref(), hierarchies, &key.cgroups)
            } else {
                if due {
                    if let Some(left_out) = TASK_BUDGET.allow(now.mono_ns, WARN_EVERY_NS) {
                        log::warn!(
                            "load averages: over {MAX_TASKS_PER_PASS} tasks counted in one pass; container {} keeps its last counts ({left_out} more since the last warning)",
                            key.cgroups
                        );
                    }
                }
                None
            };
            container.load = match counts {
                Some(c) => {
                    *tasks_scanned += c.total;
                    Some(history.apply_load(now.mono_ns, c))
                }
                None => history.last_load(),
            };
        }
        if parts.contains(Parts::CPUSET) && parts.contains(Parts::CPUACCT) {
            container.cpu = history.apply_cpu(
                now.mono_ns,
                now.boot_ns,
                key.anchor,
                &container,
                host,
                options,
            );
        }
        self.log_fallbacks(key, &container.fallbacks);
        self.generation += 1;
        Snapshot {
            taken: now,
            generation: self.generation,
            parts,
            anchor: key.anchor,
            host: Arc::clone(host),
            container: Arc::new(container),
        }
    }

    fn log_fallbacks(&mut self, key: &ViewKey, fallbacks: &[crate::snapshot::Fallback]) {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        fallbacks.hash(&mut hasher);
        let hash = hasher.finish();
        if self.logged_fallbacks.insert(key.clone(), hash) != Some(hash) {
            for f in fallbacks {
                log::warn!("container {}: {}: {}", key.cgroups, f.kind, f.reason);
            }
        }
    }

    /// Save every history (before the snapshots computed from them are published).
    fn save(&mut self) {
        if let Some(state) = &mut self.state {
            let blob = persist::encode_state(&self.histories);
            if let Err(e) = state.save(blob.as_bytes()) {
                log::warn!("cannot save the soft state ({e}); a restart would reset load averages");
            }
        }
    }

    /// Sample `views` at `now` (one host sample shared by all), save the histories,
    /// then publish: a successor never continues from state older than what readers
    /// saw. Returns the tasks counted for load averages.
    fn sample_and_publish(&mut self, views: &[Arc<View>], now: Timestamp) -> u64 {
        let all = views.iter().fold(Parts::default(), |p, v| p | v.wanted());
        let host = self.host(all, now);
        let mut scanned = 0;
        let snapshots: Vec<Snapshot> = views
            .iter()
            .map(|v| self.sample(v.key(), v.wanted(), now, &host, &mut scanned))
            .collect();
        self.save();
        for (view, snap) in views.iter().zip(snapshots) {
            self.store.publish(view, Arc::new(snap));
        }
        scanned
    }

    /// Answer demands: sample each demanded view now and reply with it.
    fn serve(&mut self, demands: Vec<Demand>) {
        let now = self.clock.now();
        let views: Vec<Arc<View>> = demands
            .iter()
            .map(|d| self.store.get_or_create(&d.key, now.mono_ns, d.parts))
            .collect();
        self.sample_and_publish(&views, now);
        for (view, demand) in views.iter().zip(demands) {
            let _ = demand.reply.send(Arc::clone(view));
        }
    }

    /// One periodic pass: retire views nobody reads (or whose cgroup is gone), sample
    /// those read recently, prune old histories. Logs its cost at debug level.
    pub(crate) fn pass(&mut self) {
        let now = self.clock.now();
        let config = self.config;
        let source = Arc::clone(&self.source);
        let hierarchies = self.hierarchies.clone();
        let exists = |key: &ViewKey| match &hierarchies {
            Some(h) => collect::cgroup_exists(source.as_ref(), h, &key.cgroups),
            None => true,
        };
        let mut vanished = Vec::new();
        let mut unread = 0usize;
        self.store.retire(|v| {
            let idle = now.mono_ns.saturating_sub(v.last_read_ns());
            if idle > config.forget_after_ns {
                unread += 1;
                true
            } else if idle <= config.active_window_ns && !exists(v.key()) {
                vanished.push(v.key().clone());
                true
            } else {
                false
            }
        });
        for key in &vanished {
            self.histories.remove(key);
            self.logged_fallbacks.remove(key);
        }
        self.passes += 1;
        if self.passes % HISTORY_PRUNE_EVERY == 0 {
            let live: Vec<ViewKey> = self.store.views().iter().map(|v| v.key().clone()).collect();
            self.histories.retain(|key, h| {
                live.contains(key)
                    || (h.last_sample_ns().saturating_add(HISTORY_KEEP_NS) >= now.mono_ns
                        && exists(key))
            });
            self.logged_fallbacks.retain(|key, _| live.contains(key));
        }
        let active: Vec<Arc<View>> = self
            .store
            .views()
            .into_iter()
            .filter(|v| now.mono_ns.saturating_sub(v.last_read_ns()) <= config.active_window_ns)
            .collect();
        if active.is_empty() {
            return;
        }
        let scanned = self.sample_and_publish(&active, now);
        let spent = self.clock.now().mono_since(&now);
        // A pass longer than its period delays every read that waits for a sample.
        if spent > self.period_ns() {
            if let Some(left_out) = OVERRUN.allow(now.mono_ns, WARN_EVERY_NS) {
                log::warn!(
                    "sampler overrun: a pass over {} views took {:.1} ms, more than its {} ms period ({left_out} more since the last warning)",
                    active.len(),
                    spent as f64 / 1e6,
                    self.period_ns() / 1_000_000
                );
            }
        }
        if log::log_enabled!(log::Level::Debug) {
            log::debug!(
                "sampler pass: {} views, {unread} unread, {} vanished, {scanned} tasks scanned, {} µs",
                active.len(),
                vanished.len(),
                spent / 1000
            );
        }
    }
}
