//! Who is reading: a reader's thread id → the view whose numbers it sees.
//!
//! LXCFS's rule (default): the cgroup of the **init of the reader's pid namespace**
//! (trailing `/init.scope` removed); a reader in the daemon's own pid namespace uses its
//! own cgroup. `--identity=reader` always uses the reader's own cgroup. The view's clock
//! (uptime, stat idle) starts with the namespace's init (host pid 1 for readers in the
//! daemon's namespace).
//!
//! What is guaranteed, and how it is kept cheap:
//! * **An answer always belongs to the reader.** Every cached answer holds a pin of the
//!   reader's thread ([`Source::pin_task`]: a pidfd, or its start time). While the pin
//!   says the thread lives, its pid cannot name another task, and a task's pid namespace
//!   never changes; a dead pin means resolving again. The init of a pid namespace is
//!   pinned the same way, so a namespace inode the kernel hands to a new namespace is
//!   never mistaken for the old one.
//! * **Moves are seen within `max_staleness`.** An answer older than that re-reads the
//!   cgroup of its target (the init, or the reader itself) before it is used: one small
//!   read per reader and interval.
//! * **A warm hit** is a lock-free table lookup by thread id plus one `poll` of the pin:
//!   no allocation, no path lookup.
//! * **Unknown readers** (pid 0: not visible from the daemon's pid namespace; or a task
//!   that exited before it could be resolved) see the host's files, as with LXCFS;
//!   logged once at debug level.
//! * **Nothing is kept alive.** A pidfd keeps its task's pid namespace allocated, so the
//!   pidfds of exited readers are closed as soon as the kernel says they exited (an
//!   epoll set of every pidfd, [`Identity::reap`]); pins that cannot be watched (start
//!   times) are swept every few seconds.

use crate::cgroup::Hierarchies;
use crate::clock::Clock;
use crate::config::IdentityMode;
use crate::parse::proc_pid::{parse_nspid, parse_pid_stat};
use crate::snapshot::store::View;
use crate::snapshot::ViewKey;
use crate::source::{read_text, task_start_ticks, Source, TaskPin};
use arc_swap::ArcSwapOption;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The daemon's own pid namespace link.
const SELF_NS_PID: &str = "/proc/self/ns/pid";
/// The largest pid the kernel hands out.
const PID_MAX: &str = "/proc/sys/kernel/pid_max";
/// Thread ids per table chunk.
const CHUNK: usize = 1024;
/// Most cached readers; beyond this, readers are resolved without caching until a
/// sweep frees entries of exited threads.
const MAX_CACHED: usize = 1 << 16;
/// Epoll token bit of a namespace init (else the token is a reader's thread id).
const INIT_TOKEN: u64 = 1 << 63;

/// What a reader sees and the proof that it still applies.
#[derive(Debug)]
pub(crate) struct ReaderEntry {
    pub(crate) key: ViewKey,
    /// The reader's thread id.
    pid: u32,
    /// The reader's thread (None: an unknown reader).
    pin: Option<TaskPin>,
    /// Whose cgroup the view follows (the namespace init or the reader), re-read when
    /// the answer is older than the move-check interval.
    target: Option<(u32, Arc<NsInit>)>,
    /// When the target's cgroup was last read (monotonic ns).
    checked_ns: AtomicU64,
    /// The view's published form, filled by the read path (a cache; the sampler may
    /// retire it, then the read path demands a new one).
    pub(crate) view: ArcSwapOption<View>,
}

/// The init of a pid namespace, pinned.
#[derive(Debug)]
struct NsInit {
    pid: u32,
    pin: Option<TaskPin>,
    start_ticks: Option<u64>,
}

/// One chunk of the table: a slot per thread id.
type Chunk = Box<[ArcSwapOption<ReaderEntry>]>;

/// A lock-free table indexed by thread id: chunks of slots allocated on first use.
struct TaskTable {
    chunks: Box<[OnceLock<Chunk>]>,
    cached: AtomicUsize,
}

impl TaskTable {
    fn new(pid_max: usize) -> TaskTable {
        TaskTable {
            chunks: (0..pid_max.div_ceil(CHUNK))
                .map(|_| OnceLock::new())
                .collect(),
            cached: AtomicUsize::new(0),
        }
    }

    fn slot(&self, pid: u32) -> Option<&ArcSwapOption<ReaderEntry>> {
        let pid = usize::try_from(pid).ok()?;
        let chunk = self.chunks.get(pid / CHUNK)?;
        let chunk = chunk.get_or_init(|| (0..CHUNK).map(|_| ArcSwapOption::empty()).collect());
        Some(&chunk[pid % CHUNK])
    }

    fn set(&self, slot: &ArcSwapOption<ReaderEntry>, entry: Option<Arc<ReaderEntry>>) {
        let adds = entry.is_some();
        let old = slot.swap(entry);
        match (old.is_some(), adds) {
            (false, true) => {
                self.cached.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.cached.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// Reader resolution with its caches.
pub(crate) struct Identity {
    mode: IdentityMode,
    source: Arc<dyn Source>,
    clock: Arc<dyn Clock>,
    hierarchies: Option<Arc<Hierarchies>>,
    /// How old an answer may be before the target's cgroup is read again.
    move_check_ns: u64,
    own_ns: Option<String>,
    host_init: Arc<NsInit>,
    readers: TaskTable,
    namespaces: Mutex<HashMap<String, Arc<NsInit>>>,
    unknown: Arc<ReaderEntry>,
    unknown_logged: AtomicBool,
    /// Every pidfd pin, watched for the exit of its task.
    exits: Option<Epoll>,
}

fn ns_of(source: &dyn Source, pid: u32) -> Option<String> {
    source.read_link(&format!("/proc/{pid}/ns/pid")).ok()
}

fn innermost_pid(source: &dyn Source, pid: u32) -> Option<u32> {
    let status = read_text(source, &format!("/proc/{pid}/status")).ok()?;
    parse_nspid(&status)?.last().copied()
}

/// The pid (as seen from the daemon) of pid 1 of namespace `ns`, starting from a
/// member `pid`: up the parent chain while the parent shares the namespace, else a scan.
fn find_init(source: &dyn Source, pid: u32, ns: &str) -> Option<u32> {
    let mut cur = pid;
    for _ in 0..4096 {
        let stat = read_text(source, &format!("/proc/{cur}/stat")).ok()?;
        let ppid = parse_pid_stat(&stat).ok()?.ppid;
        if ppid == 0 || ns_of(source, ppid).as_deref() != Some(ns) {
            break;
        }
        cur = ppid;
    }
    if innermost_pid(source, cur) == Some(1) {
        return Some(cur);
    }
    // The chain left the namespace early (a process that joined it with setns).
    source
        .read_dir("/proc")
        .ok()?
        .iter()
        .filter_map(|n| n.parse::<u32>().ok())
        .find(|&p| ns_of(source, p).as_deref() == Some(ns) && innermost_pid(source, p) == Some(1))
}

impl Identity {
    /// A resolver with `mode`; answers older than `move_check_ns` re-read the cgroup.
    pub(crate) fn new(
        mode: IdentityMode,
        source: Arc<dyn Source>,
        clock: Arc<dyn Clock>,
        hierarchies: Option<Arc<Hierarchies>>,
        move_check_ns: u64,
    ) -> Identity {
        let pid_max = read_text(source.as_ref(), PID_MAX)
            .ok()
            .and_then(|t| t.trim().parse::<usize>().ok())
            .unwrap_or(1 << 22)
            .clamp(1 << 15, 1 << 22);
        let root_key = ViewKey {
            cgroups: hierarchies
                .as_ref()
                .map(|h| h.root_container())
                .unwrap_or_default(),
            anchor: None,
        };
        Identity {
            mode,
            own_ns: source.read_link(SELF_NS_PID).ok(),
            host_init: Arc::new(NsInit {
                pid: 1,
                pin: None,
                start_ticks: task_start_ticks(source.as_ref(), 1),
            }),
            readers: TaskTable::new(pid_max),
            namespaces: Mutex::new(HashMap::new()),
            unknown: Arc::new(ReaderEntry {
                key: root_key,
                pid: 0,
                pin: None,
                target: None,
                checked_ns: AtomicU64::new(0),
                view: ArcSwapOption::empty(),
            }),
            unknown_logged: AtomicBool::new(false),
            exits: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
                .map_err(|e| {
                    log::warn!("no epoll ({e}): exited readers are swept every few seconds")
                })
                .ok(),
            source,
            clock,
            hierarchies,
            move_check_ns,
        }
    }

    /// What reader `pid` (a thread id as seen from the daemon; 0 = unknown) sees.
    pub(crate) fn resolve(&self, pid: u32) -> Arc<ReaderEntry> {
        let slot = self.readers.slot(pid).filter(|_| pid != 0);
        if let Some(slot) = slot {
            if let Some(entry) = slot.load_full() {
                if entry
                    .pin
                    .as_ref()
                    .is_some_and(|p| self.source.task_alive(p))
                {
                    return self.check_move(slot, entry);
                }
                self.readers.set(slot, None);
            }
        }
        match self.resolve_cold(pid) {
            Some(entry) => {
                let entry = Arc::new(entry);
                if let Some(slot) = slot {
                    if self.readers.cached.load(Ordering::Relaxed) < MAX_CACHED {
                        self.watch(entry.pin.as_ref(), u64::from(pid));
                        self.readers.set(slot, Some(Arc::clone(&entry)));
                    }
                }
                entry
            }
            None => {
                if !self.unknown_logged.swap(true, Ordering::Relaxed) {
                    log::debug!(
                        "reader pid {pid} cannot be resolved (gone, or not visible from vproc's pid namespace): it sees the host's files (logged once)"
                    );
                }
                Arc::clone(&self.unknown)
            }
        }
    }

    /// The view key of `pid` and how it was found (for `inspect --explain`), or `None`
    /// when there is no such task.
    pub(crate) fn explain(&self, pid: u32) -> Option<(ViewKey, String)> {
        let e = self.resolve_cold(pid)?;
        let ns = ns_of(self.source.as_ref(), pid).unwrap_or_default();
        let own = self.own_ns.as_deref() == Some(ns.as_str());
        let (target, init) = e.target.as_ref()?;
        let rule = match (self.mode, own) {
            (_, true) => "a reader in vproc's own pid namespace sees its own cgroup".to_owned(),
            (IdentityMode::Init, false) => format!(
                "a reader in pid namespace {ns} sees the cgroup of that namespace's init, pid {}",
                init.pid
            ),
            (IdentityMode::Reader, false) => {
                "--identity=reader: the reader's own cgroup".to_owned()
            }
        };
        let text = format!(
            "reader pid {pid}: {rule}; cgroups from /proc/{target}/cgroup (trailing /init.scope removed): {}; clock from pid {}'s start (tick {})",
            e.key.cgroups,
            init.pid,
            init.start_ticks.map_or("unknown".into(), |t| t.to_string())
        );
        Some((e.key, text))
    }

    /// Re-read the target's cgroup when the answer is older than the move-check interval;
    /// a changed cgroup replaces the entry.
    fn check_move(
        &self,
        slot: &ArcSwapOption<ReaderEntry>,
        entry: Arc<ReaderEntry>,
    ) -> Arc<ReaderEntry> {
        let now = self.clock.now().mono_ns;
        let checked = entry.checked_ns.load(Ordering::Relaxed);
        if now.saturating_sub(checked) <= self.move_check_ns {
            return entry;
        }
        let Some((target, init)) = &entry.target else {
            return entry;
        };
        let pin_ok = || {
            entry
                .pin
                .as_ref()
                .is_some_and(|p| self.source.task_alive(p))
                && init.pin.as_ref().is_none_or(|p| self.source.task_alive(p))
        };
        let cgroups = self.cgroups_of(*target);
        match cgroups {
            Some(c) if pin_ok() && c == entry.key.cgroups => {
                entry.checked_ns.store(now, Ordering::Relaxed);
                entry
            }
            _ => {
                // Moved (or the target is gone): resolve from scratch.
                self.readers.set(slot, None);
                self.resolve(entry.pid)
            }
        }
    }

    fn cgroups_of(&self, pid: u32) -> Option<crate::cgroup::ContainerId> {
        let h = self.hierarchies.as_ref()?;
        let text = read_text(self.source.as_ref(), &format!("/proc/{pid}/cgroup")).ok()?;
        h.container_of(&text)
    }

    /// The init of namespace `ns` (link text), found from member `pid` and pinned.
    fn ns_init(&self, ns: &str, pid: u32) -> Option<Arc<NsInit>> {
        {
            let mut namespaces = self.namespaces.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(init) = namespaces.get(ns) {
                if init.pin.as_ref().is_some_and(|p| self.source.task_alive(p)) {
                    return Some(Arc::clone(init));
                }
                namespaces.remove(ns);
            }
        }
        // Found without the lock: the search may scan /proc, and other containers'
        // readers must not wait for it. Two finders of one namespace find the same init.
        let src = self.source.as_ref();
        let init_pid = find_init(src, pid, ns)?;
        let pin = src.pin_task(init_pid).ok()?;
        // Pinned first, checked after: the pid could have been reused in between.
        let start_ticks = task_start_ticks(src, init_pid);
        if ns_of(src, init_pid).as_deref() != Some(ns) || !src.task_alive(&pin) {
            return None;
        }
        self.watch(Some(&pin), INIT_TOKEN | u64::from(init_pid));
        let init = Arc::new(NsInit {
            pid: init_pid,
            pin: Some(pin),
            start_ticks,
        });
        self.namespaces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ns.to_owned(), Arc::clone(&init));
        Some(init)
    }

    fn resolve_cold(&self, pid: u32) -> Option<ReaderEntry> {
        if pid == 0 {
            return None;
        }
        let src = self.source.as_ref();
        let pin = src.pin_task(pid).ok()?;
        let ns = ns_of(src, pid)?;
        let foreign = self.own_ns.as_deref().is_some_and(|own| own != ns);
        let init = if foreign {
            self.ns_init(&ns, pid)?
        } else {
            Arc::clone(&self.host_init)
        };
        let target = match (self.mode, foreign) {
            (IdentityMode::Init, true) => init.pid,
            _ => pid,
        };
        let now = self.clock.now().mono_ns;
        let cgroups = match &self.hierarchies {
            Some(_) => self.cgroups_of(target)?,
            None => Default::default(),
        };
        // Read after pinning and checked again now: while the reader lives its namespace
        // (and so the namespace's init) is the one resolved; the init's own pin covers
        // the read of its cgroup.
        let alive = src.task_alive(&pin) && init.pin.as_ref().is_none_or(|p| src.task_alive(p));
        if !alive {
            return None;
        }
        Some(ReaderEntry {
            key: ViewKey {
                cgroups,
                anchor: init.start_ticks,
            },
            pid,
            pin: Some(pin),
            target: Some((target, init)),
            checked_ns: AtomicU64::new(now),
            view: ArcSwapOption::empty(),
        })
    }

    /// Watch a pidfd pin for its task's exit.
    fn watch(&self, pin: Option<&TaskPin>, token: u64) {
        if let (Some(ep), Some(TaskPin::Fd(fd))) = (&self.exits, pin) {
            let _ = ep.add(fd.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, token));
        }
    }

    /// Wait up to `timeout_ms` for readers or namespace inits to exit and drop their
    /// cached answers (closing their pidfds, which would keep the namespace allocated).
    pub(crate) fn reap(&self, timeout_ms: u16) {
        let Some(ep) = &self.exits else {
            std::thread::sleep(std::time::Duration::from_millis(u64::from(timeout_ms)));
            return;
        };
        let mut events = [EpollEvent::empty(); 64];
        let n = ep
            .wait(&mut events, EpollTimeout::from(timeout_ms))
            .unwrap_or(0);
        for e in &events[..n] {
            let token = e.data();
            if token & INIT_TOKEN != 0 {
                let pid = (token & !INIT_TOKEN) as u32;
                self.namespaces
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|_, init| {
                        init.pid != pid
                            || init.pin.as_ref().is_some_and(|p| self.source.task_alive(p))
                    });
            } else if let Some(slot) = self.readers.slot(token as u32) {
                self.forget_if_exited(slot);
            }
        }
    }

    /// Empty `slot` if the thread its answer was resolved for has exited (closing its
    /// pidfd).
    fn forget_if_exited(&self, slot: &ArcSwapOption<ReaderEntry>) {
        let dead = slot
            .load()
            .as_ref()
            .is_some_and(|e| !e.pin.as_ref().is_some_and(|p| self.source.task_alive(p)));
        if dead {
            self.readers.set(slot, None);
        }
    }

    /// Drop the cached answers of threads that exited (closing their pidfds). Returns
    /// how many remain.
    pub(crate) fn sweep(&self) -> usize {
        for chunk in self.readers.chunks.iter().filter_map(|c| c.get()) {
            for slot in chunk.iter() {
                self.forget_if_exited(slot);
            }
        }
        self.namespaces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, init| init.pin.as_ref().is_some_and(|p| self.source.task_alive(p)));
        self.readers.cached.load(Ordering::Relaxed)
    }
}
