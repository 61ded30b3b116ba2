//! Plain, immutable data: what the sampler collected and the renderers read.
//!
//! A [`Snapshot`] pairs one view's container data with the host data taken at the same
//! sample time (so ratios between container and host numbers are exact) and says which
//! [`Parts`] it holds. Nothing here does I/O or reads a clock.

pub(crate) mod cpu;
pub(crate) mod store;

use crate::cgroup::ContainerId;
use crate::clock::Timestamp;
use crate::parse::cgroup::{CpuQuota, CpuTime, IoCounters, Limit, MemoryStat};
use crate::parse::cpuinfo::CpuInfo;
use crate::parse::cpuset::CpuSet;
use crate::parse::diskstats::DiskStat;
use crate::parse::meminfo::Meminfo;
use crate::parse::pressure::{PerPressure, PressureKind, PressureLine};
use crate::parse::stat::{CpuTimes, KernelStat};
use crate::parse::swaps::SwapArea;
use crate::parse::uptime::Uptime;
use std::fmt;
use std::sync::Arc;

/// Which pieces of data a snapshot holds; each virtual file needs some of them, and the
/// sampler collects only the parts that readers asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Parts(pub(crate) u16);

impl Parts {
    /// Memory and swap (meminfo, swaps).
    pub(crate) const MEMORY: Parts = Parts(1);
    /// Visible CPUs: cpuset, quota, host cpuinfo/stat and the sys cpu lists.
    pub(crate) const CPUSET: Parts = Parts(1 << 1);
    /// CPU time of the container (stat lines, uptime idle).
    pub(crate) const CPUACCT: Parts = Parts(1 << 2);
    /// Block I/O (diskstats).
    pub(crate) const IO: Parts = Parts(1 << 3);
    /// PSI (pressure/*).
    pub(crate) const PRESSURE: Parts = Parts(1 << 4);
    /// slabinfo.
    pub(crate) const SLAB: Parts = Parts(1 << 5);
    /// Tasks and load (loadavg, procs_running).
    pub(crate) const LOAD: Parts = Parts(1 << 6);
    /// Host uptime.
    pub(crate) const UPTIME: Parts = Parts(1 << 7);

    /// Both sets.
    pub(crate) const fn union(self, other: Parts) -> Parts {
        Parts(self.0 | other.0)
    }

    /// True when every part of `other` is in `self`.
    pub(crate) const fn contains(self, other: Parts) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Parts {
    type Output = Parts;
    fn bitor(self, rhs: Parts) -> Parts {
        self.union(rhs)
    }
}

/// What a reader sees: a container's cgroups and the start of its clock.
///
/// Two readers share a view exactly when they would read the same bytes. The anchor is
/// part of the key because `/proc/uptime` and the idle time of `/proc/stat` count from
/// the start of the reader's pid-namespace init.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ViewKey {
    pub(crate) cgroups: ContainerId,
    /// Start time (clock ticks after boot) of the init of the reader's pid namespace;
    /// `None`: unknown (the host's uptime is shown).
    pub(crate) anchor: Option<u64>,
}

impl fmt::Display for ViewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.anchor {
            Some(a) => write!(f, "{} (init started at tick {a})", self.cgroups),
            None => write!(f, "{}", self.cgroups),
        }
    }
}

/// Memory of a container, every fallback already applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemoryView {
    /// Smallest memory limit over the cgroup and its ancestors, bytes.
    pub(crate) limit: Limit,
    /// Memory in use, bytes.
    pub(crate) usage: u64,
    /// `memory.stat` counters.
    pub(crate) stat: MemoryStat,
    /// Swap, when the kernel accounts it (None: no swap accounting).
    pub(crate) swap: Option<SwapView>,
}

/// Swap of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SwapView {
    /// Swap-only limit in bytes, smallest over the ancestors.
    pub(crate) limit: Limit,
    /// Swap in use, bytes.
    pub(crate) usage: u64,
    /// v1 `memory.swappiness` (0 makes LXCFS report a full swap device).
    pub(crate) swappiness: Option<u64>,
}

/// The `/proc/stat` lines of a container, kept by the sampler's history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuLines {
    /// One line per visible CPU, in the order of [`cpu::VisibleCpus::physical`].
    pub(crate) lines: Vec<CpuTimes>,
    /// Sum of the lines' idle column: also `/proc/uptime`'s idle.
    pub(crate) idle_ticks: u64,
}

/// Fixed-point shift of the kernel's load averages (`avenrun`).
pub(crate) const FSHIFT: u32 = 11;
/// 1.0 in that fixed point.
pub(crate) const FIXED_1: u64 = 1 << FSHIFT;

/// Tasks of a container for loadavg.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LoadView {
    /// avenrun, kernel fixed point (FSHIFT 11), for 1, 5 and 15 minutes.
    pub(crate) avenrun: [u64; 3],
    /// Tasks in state R or D (what the load average counts).
    pub(crate) running: u64,
    /// Tasks in state D (`procs_blocked`).
    pub(crate) blocked: u64,
    /// All tasks (threads).
    pub(crate) total: u64,
    /// Largest thread id seen.
    pub(crate) last_pid: u64,
}

/// A value that could not be read, and so what a file shows instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FallbackKind {
    /// The memory cgroup is unreadable or gone: the host's meminfo and swaps.
    MemoryCgroup,
    /// `memory.stat`: its counters are shown as 0.
    MemoryStat,
    /// The memory limit: the host's MemTotal.
    MemoryLimit,
    /// The memory usage: estimated from `memory.stat`.
    MemoryUsage,
    /// The swap files exist but cannot be read: swap shown as 0.
    SwapAccounting,
    /// The swap usage: shown as 0.
    SwapUsage,
    /// The swap limit: the host's swap.
    SwapLimit,
    /// The cpuset (unreadable, or no online CPU in it): the host's CPUs.
    Cpuset,
    /// The CFS quota: none assumed.
    CpuQuota,
    /// The CPU time: the host's times.
    CpuUsage,
    /// Block I/O: the host's diskstats.
    BlockIo,
    /// Pressure of one kind: the host's PSI.
    Pressure(PressureKind),
}

impl fmt::Display for FallbackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            FallbackKind::MemoryCgroup => "memory cgroup (host meminfo shown)",
            FallbackKind::MemoryStat => "memory.stat counters (shown as 0)",
            FallbackKind::MemoryLimit => "memory limit (host MemTotal shown)",
            FallbackKind::MemoryUsage => "memory usage (estimated from memory.stat)",
            FallbackKind::SwapAccounting => "swap accounting (swap shown as 0)",
            FallbackKind::SwapUsage => "swap usage (shown as 0)",
            FallbackKind::SwapLimit => "swap limit (host swap shown)",
            FallbackKind::Cpuset => "cpuset (host CPUs shown)",
            FallbackKind::CpuQuota => "CPU quota (none assumed)",
            FallbackKind::CpuUsage => "CPU usage (host times shown)",
            FallbackKind::BlockIo => "block I/O (host diskstats shown)",
            FallbackKind::Pressure(k) => {
                return write!(f, "{} pressure (host PSI shown)", k.name());
            }
        };
        f.write_str(text)
    }
}

/// A fallback and why it happened.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fallback {
    /// What fell back.
    pub kind: FallbackKind,
    /// Why (the error), for the log line.
    pub reason: String,
}

/// Everything collected for one view. `None` means "not virtualised here": the renderer
/// shows the host's file or value, as LXCFS does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ContainerView {
    /// Memory and swap.
    pub(crate) memory: Option<MemoryView>,
    /// CPUs the container may run on (already intersected with the host's online CPUs).
    pub(crate) cpuset: Option<CpuSet>,
    /// Tightest CFS quota over the cgroup and its ancestors.
    pub(crate) quota: Option<CpuQuota>,
    /// Cumulative CPU time.
    pub(crate) cpu_time: Option<CpuTime>,
    /// The `/proc/stat` lines (None: the host's are shown).
    pub(crate) cpu: Option<CpuLines>,
    /// Block I/O per device (None: the host file).
    pub(crate) io: Option<Vec<IoCounters>>,
    /// Pressure (v2; None: the host file).
    pub(crate) pressure: PerPressure<Option<Vec<PressureLine>>>,
    /// Per-cgroup slabinfo (v1 `memory.kmem.slabinfo` when non-empty).
    pub(crate) slabinfo: Option<String>,
    /// Tasks and load (with `--enable-loadavg`).
    pub(crate) load: Option<LoadView>,
    /// Values that fell back.
    pub(crate) fallbacks: Vec<Fallback>,
}

/// The host's files, raw (for pass-through) and parsed (for computation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HostView {
    pub(crate) meminfo_text: String,
    pub(crate) meminfo: Meminfo,
    pub(crate) stat_text: String,
    pub(crate) stat: KernelStat,
    /// cpuinfo, possible and present: re-read at most once a second and shared by every
    /// snapshot taken meanwhile.
    pub(crate) cpu_files: Arc<HostCpuFiles>,
    pub(crate) diskstats_text: String,
    pub(crate) diskstats: Vec<DiskStat>,
    pub(crate) swaps_text: String,
    pub(crate) swaps: Vec<SwapArea>,
    /// Parsed `/proc/uptime` (None if unreadable).
    pub(crate) uptime: Option<Uptime>,
    pub(crate) uptime_text: String,
    pub(crate) loadavg_text: String,
    /// `/proc/pressure/*` (empty when the kernel has no PSI).
    pub(crate) pressure_text: PerPressure<String>,
    pub(crate) slabinfo_text: String,
    /// CPUs the host has online (`/sys/devices/system/cpu/online`, kept consistent with
    /// the CPUs `/proc/stat` lists).
    pub(crate) cpu_online: CpuSet,
    pub(crate) cpu_offline_text: String,
}

/// Host CPU files that change rarely: `possible` and `present` only with hotplug,
/// cpuinfo only in its `cpu MHz` lines. The sampler re-reads them at most once a second
/// (`sampler::collect::CPU_FILES_MAX_AGE_NS`) instead of for every sample.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HostCpuFiles {
    pub(crate) cpuinfo_text: String,
    pub(crate) cpuinfo: CpuInfo,
    pub(crate) cpu_possible_text: String,
    pub(crate) cpu_present_text: String,
}

/// One view's data with the host data of the same sample.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    /// When the sample was taken.
    pub(crate) taken: Timestamp,
    /// Increases with every snapshot the sampler publishes (render caches compare it).
    pub(crate) generation: u64,
    /// Which parts were collected.
    pub(crate) parts: Parts,
    /// Start (clock ticks after boot) of the reader's pid-namespace init (the view's
    /// anchor); `None`: unknown, the host's uptime is shown.
    pub(crate) anchor: Option<u64>,
    /// Host data of the same sample.
    pub(crate) host: Arc<HostView>,
    /// The container's data.
    pub(crate) container: Arc<ContainerView>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Snapshot>();
};
