//! Who is reading: a reader pid → the container whose numbers it sees.
//!
//! LXCFS's rule (default): the cgroup of the **init of the reader's pid namespace**
//! (trailing `/init.scope` removed); a reader in the daemon's own pid namespace uses its
//! own cgroup. `--identity=reader` always uses the reader's own cgroup. Uptime always
//! uses the namespace's init (host pid 1 for readers in the daemon's namespace).
//!
//! The init is found by walking the reader's parent chain while the parent stays in the
//! same pid namespace (the topmost such process is pid 1 of the namespace, confirmed by
//! the last `NSpid` entry); if that fails, `/proc` is scanned. Results are cached per
//! pid namespace (and per pid for the daemon's own namespace) for [`TTL_NS`], then
//! resolved again.
//! This is the one place besides the sampler that reads `/proc` at request time: at
//! most one `readlink` per open while the cache is warm.

use crate::cgroup::Hierarchies;
use crate::config::IdentityMode;
use crate::parse::proc_pid::{parse_nspid, parse_pid_stat};
use crate::snapshot::store::CowMap;
use crate::snapshot::ContainerId;
use crate::source::{read_text, Source};

/// How long a resolved identity is reused without re-reading `/proc/<pid>/cgroup`.
pub const TTL_NS: u64 = 1_000_000_000;

/// The daemon's own pid namespace link.
const SELF_NS_PID: &str = "/proc/self/ns/pid";

/// What the read path needs to know about a reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    /// The container whose numbers it sees.
    pub container: ContainerId,
    /// Start time (clock ticks after boot) of the init of its pid namespace.
    pub init_start_ticks: Option<u64>,
}

#[derive(Clone, Debug)]
struct Cached {
    reader: Reader,
    resolved_ns: u64,
}

/// Reader resolution with its caches.
#[derive(Debug, Default)]
pub struct Identity {
    mode: IdentityMode,
    /// The daemon's own pid namespace (it never changes).
    own_ns: std::sync::OnceLock<Option<String>>,
    cache: CowMap<String, Cached>,
}

fn ns_of(source: &dyn Source, pid: u32) -> Option<String> {
    source.read_link(&format!("/proc/{pid}/ns/pid")).ok()
}

fn innermost_pid(source: &dyn Source, pid: u32) -> Option<u32> {
    let status = read_text(source, &format!("/proc/{pid}/status")).ok()?;
    parse_nspid(&status)?.last().copied()
}

fn start_ticks(source: &dyn Source, pid: u32) -> Option<u64> {
    let text = read_text(source, &format!("/proc/{pid}/stat")).ok()?;
    parse_pid_stat(&text).ok().map(|s| s.start_ticks)
}

/// The host pid of pid 1 of namespace `ns`, starting from a member `pid`.
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
    // The chain left the namespace early (setns'd process): scan /proc.
    source
        .read_dir("/proc")
        .ok()?
        .iter()
        .filter_map(|n| n.parse::<u32>().ok())
        .find(|&p| ns_of(source, p).as_deref() == Some(ns) && innermost_pid(source, p) == Some(1))
}

impl Identity {
    /// A resolver with the given rule.
    pub fn new(mode: IdentityMode) -> Self {
        Identity {
            mode,
            own_ns: std::sync::OnceLock::new(),
            cache: CowMap::default(),
        }
    }

    /// Drop every cached identity (SIGUSR1).
    pub fn clear(&self) {
        self.cache.clear();
    }

    /// Resolve `pid` (as seen from the daemon's pid namespace; 0 = unknown) at `now_ns`.
    pub fn resolve(
        &self,
        source: &dyn Source,
        hierarchies: &Hierarchies,
        pid: u32,
        now_ns: u64,
    ) -> Reader {
        let ns = if pid == 0 { None } else { ns_of(source, pid) };
        let own_ns = self.own_ns.get_or_init(|| ns_of_self(source));
        let shared = ns.is_none() || ns == *own_ns;
        let key = match (&ns, shared, self.mode) {
            (Some(ns), false, IdentityMode::Init) => format!("ns:{ns}"),
            _ => format!("pid:{pid}"),
        };
        // A warm hit costs the readlink above and nothing else; after TTL_NS the whole
        // resolution runs again (a dead or replaced init is then noticed).
        if let Some(c) = self.cache.get(&key) {
            if now_ns.saturating_sub(c.resolved_ns) < TTL_NS {
                return c.reader;
            }
        }
        let init_pid = match &ns {
            Some(ns) if !shared => find_init(source, pid, ns),
            _ => Some(1),
        };
        let target = match (self.mode, shared, init_pid) {
            (IdentityMode::Init, false, Some(init)) => init,
            _ => pid,
        };
        let container = if target == 0 {
            hierarchies.root_container()
        } else {
            hierarchies
                .container_of(source, target)
                .unwrap_or_else(|e| {
                    log::debug!("reader {pid}: {e}; showing the root cgroup");
                    hierarchies.root_container()
                })
        };
        let reader = Reader {
            container,
            init_start_ticks: init_pid.and_then(|p| start_ticks(source, p)),
        };
        self.cache
            .retain(|_, c| now_ns.saturating_sub(c.resolved_ns) < 10 * TTL_NS);
        self.cache.insert(
            &key,
            Cached {
                reader: reader.clone(),
                resolved_ns: now_ns,
            },
        );
        reader
    }
}

fn ns_of_self(source: &dyn Source) -> Option<String> {
    source.read_link(SELF_NS_PID).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::mem::MemSource;

    fn stat(pid: u32, ppid: u32, start: u64) -> String {
        format!("{pid} (sh) S {ppid} 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 1 1")
    }

    fn kernel() -> MemSource {
        let mut m = MemSource::new();
        m.file(
            "/proc/self/mountinfo",
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        m.file(
            "/sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory\n",
        );
        m.link("/proc/self/ns/pid", "pid:[1]");
        // host init
        m.link("/proc/1/ns/pid", "pid:[1]");
        m.file("/proc/1/stat", stat(1, 0, 5));
        m.file("/proc/1/status", "NSpid:\t1\n");
        m.file("/proc/1/cgroup", "0::/init.scope\n");
        // container: init 100 (in /ctr/init.scope), shell 101 in /ctr/sub
        m.link("/proc/100/ns/pid", "pid:[2]");
        m.file("/proc/100/stat", stat(100, 1, 500));
        m.file("/proc/100/status", "NSpid:\t100\t1\n");
        m.file("/proc/100/cgroup", "0::/ctr/init.scope\n");
        m.link("/proc/101/ns/pid", "pid:[2]");
        m.file("/proc/101/stat", stat(101, 100, 700));
        m.file("/proc/101/status", "NSpid:\t101\t2\n");
        m.file("/proc/101/cgroup", "0::/ctr/sub\n");
        // host process 50
        m.link("/proc/50/ns/pid", "pid:[1]");
        m.file("/proc/50/stat", stat(50, 1, 40));
        m.file("/proc/50/status", "NSpid:\t50\n");
        m.file("/proc/50/cgroup", "0::/user.slice\n");
        m
    }

    #[test]
    fn container_reader_sees_its_init_cgroup() {
        let m = kernel();
        let h = Hierarchies::detect(&m).unwrap();
        let id = Identity::new(IdentityMode::Init);
        let r = id.resolve(&m, &h, 101, 0);
        assert_eq!(r.container.memory.as_deref(), Some("/ctr"));
        assert_eq!(r.init_start_ticks, Some(500));
        let own = Identity::new(IdentityMode::Reader).resolve(&m, &h, 101, 0);
        assert_eq!(own.container.memory.as_deref(), Some("/ctr/sub"));
        assert_eq!(own.init_start_ticks, Some(500));
    }

    #[test]
    fn host_reader_uses_own_cgroup_and_host_init() {
        let m = kernel();
        let h = Hierarchies::detect(&m).unwrap();
        let r = Identity::new(IdentityMode::Init).resolve(&m, &h, 50, 0);
        assert_eq!(r.container.memory.as_deref(), Some("/user.slice"));
        assert_eq!(r.init_start_ticks, Some(5));
        let unknown = Identity::new(IdentityMode::Init).resolve(&m, &h, 0, 0);
        assert_eq!(unknown.container.memory.as_deref(), Some("/"));
    }

    #[test]
    fn cache_expires_and_follows_moves() {
        let mut m = kernel();
        let h = Hierarchies::detect(&m).unwrap();
        let id = Identity::new(IdentityMode::Init);
        assert_eq!(
            id.resolve(&m, &h, 101, 0).container.memory.as_deref(),
            Some("/ctr")
        );
        m.file("/proc/100/cgroup", "0::/moved\n");
        assert_eq!(
            id.resolve(&m, &h, 101, 10).container.memory.as_deref(),
            Some("/ctr")
        );
        assert_eq!(
            id.resolve(&m, &h, 101, 2 * TTL_NS)
                .container
                .memory
                .as_deref(),
            Some("/moved")
        );
    }
}
