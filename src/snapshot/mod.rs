//! Plain, immutable data: what the sampler collected and the renderers read.
//!
//! A [`Snapshot`] pairs one container's view with the host view taken at the same
//! sample time (so ratios between container and host numbers are exact) and says which
//! [`Parts`] it holds. Nothing here does I/O or reads a clock.

pub mod cpu;
pub mod store;

use crate::clock::Timestamp;
use crate::parse::cgroup::{CpuQuota, Limit};
use crate::parse::cpuinfo::CpuInfo;
use crate::parse::cpuset::CpuSet;
use crate::parse::diskstats::DiskStat;
use crate::parse::meminfo::Meminfo;
use crate::parse::pressure::PressureLine;
use crate::parse::stat::KernelStat;
use crate::parse::swaps::SwapArea;
use crate::parse::uptime::Uptime;
use std::fmt;
use std::sync::Arc;

/// Which pieces of data a snapshot holds; each virtual file needs some of them, and the
/// sampler collects only the parts that readers asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Parts(pub u16);

impl Parts {
    /// Memory and swap (meminfo, swaps).
    pub const MEMORY: Parts = Parts(1);
    /// Visible CPUs: cpuset, quota, host cpuinfo/stat and the sys cpu lists.
    pub const CPUSET: Parts = Parts(1 << 1);
    /// CPU time of the container.
    pub const CPUACCT: Parts = Parts(1 << 2);
    /// Block I/O (diskstats).
    pub const IO: Parts = Parts(1 << 3);
    /// PSI (pressure/*).
    pub const PRESSURE: Parts = Parts(1 << 4);
    /// slabinfo.
    pub const SLAB: Parts = Parts(1 << 5);
    /// Tasks and load (loadavg).
    pub const LOAD: Parts = Parts(1 << 6);
    /// Host uptime.
    pub const UPTIME: Parts = Parts(1 << 7);

    /// Both sets.
    pub const fn union(self, other: Parts) -> Parts {
        Parts(self.0 | other.0)
    }

    /// True when every part of `other` is in `self`.
    pub const fn contains(self, other: Parts) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Parts {
    type Output = Parts;
    fn bitor(self, rhs: Parts) -> Parts {
        self.union(rhs)
    }
}

/// Which cgroup hierarchy version a value came from (formulas differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CgroupVersion {
    /// Legacy per-controller hierarchies.
    V1,
    /// The unified hierarchy.
    V2,
}

/// The cgroup paths that identify one container, per controller. They usually agree;
/// on v1 they may differ (a process can sit in different places per hierarchy).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId {
    /// memory controller path.
    pub memory: Option<String>,
    /// cpu controller path (quota).
    pub cpu: Option<String>,
    /// cpuacct path (v2: the unified path, where `cpu.stat` lives).
    pub cpuacct: Option<String>,
    /// cpuset path.
    pub cpuset: Option<String>,
    /// blkio (v1) / io (v2) path.
    pub io: Option<String>,
    /// The unified hierarchy path (pressure files), if any.
    pub unified: Option<String>,
}

impl ContainerId {
    /// The same path for every controller (tests, the root of a pure v2 host).
    pub fn uniform(path: &str) -> Self {
        let p = Some(path.to_owned());
        ContainerId {
            memory: p.clone(),
            cpu: p.clone(),
            cpuacct: p.clone(),
            cpuset: p.clone(),
            io: p.clone(),
            unified: p,
        }
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = [
            &self.memory,
            &self.cpu,
            &self.cpuacct,
            &self.cpuset,
            &self.io,
        ];
        if all.iter().all(|p| *p == all[0]) {
            return write!(f, "{}", all[0].as_deref().unwrap_or("-"));
        }
        write!(
            f,
            "memory:{} cpu:{} cpuacct:{} cpuset:{} io:{}",
            self.memory.as_deref().unwrap_or("-"),
            self.cpu.as_deref().unwrap_or("-"),
            self.cpuacct.as_deref().unwrap_or("-"),
            self.cpuset.as_deref().unwrap_or("-"),
            self.io.as_deref().unwrap_or("-")
        )
    }
}

/// The memory counters vproc shows, in bytes, normalised from v1 (`total_*`) and v2
/// `memory.stat` keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStat {
    /// Page cache (v1 `total_cache`, v2 `file`).
    pub cache: u64,
    /// Shared memory (`total_shmem` / `shmem`).
    pub shmem: u64,
    /// Mapped files (`total_mapped_file` / `file_mapped`).
    pub mapped_file: u64,
    /// Dirty pages (`total_dirty` / `file_dirty`).
    pub dirty: u64,
    /// Under writeback (`total_writeback` / `file_writeback`).
    pub writeback: u64,
    /// Active anonymous.
    pub active_anon: u64,
    /// Inactive anonymous.
    pub inactive_anon: u64,
    /// Active file.
    pub active_file: u64,
    /// Inactive file.
    pub inactive_file: u64,
    /// Unevictable.
    pub unevictable: u64,
    /// Transparent huge pages of anonymous memory (`total_rss_huge` / `anon_thp`).
    pub anon_thp: u64,
    /// Slab total (v2 `slab`; 0 on v1, which has no per-cgroup figure).
    pub slab: u64,
    /// Reclaimable slab (v2 `slab_reclaimable`).
    pub slab_reclaimable: u64,
    /// Unreclaimable slab (v2 `slab_unreclaimable`).
    pub slab_unreclaimable: u64,
    /// Compressed size in zswap (v2 `zswap`), when the kernel reports it.
    pub zswap: Option<u64>,
    /// Original size of what zswap holds (v2 `zswapped`).
    pub zswapped: Option<u64>,
}

impl MemoryStat {
    /// Usage estimated from the counters, for when the usage file cannot be read:
    /// anonymous + file LRU pages + unevictable + slab.
    pub fn estimated_usage(&self) -> u64 {
        [
            self.active_anon,
            self.inactive_anon,
            self.active_file,
            self.inactive_file,
            self.unevictable,
            self.slab,
        ]
        .iter()
        .fold(0u64, |a, v| a.saturating_add(*v))
    }
}

/// Swap of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwapView {
    /// Swap-only limit in bytes, smallest over the ancestors (v1: memsw limit − memory
    /// limit, saturating; v2: `memory.swap.max`).
    pub limit: Limit,
    /// Swap in use, bytes (v1: memsw usage − usage, saturating; v2: `memory.swap.current`).
    pub usage: u64,
    /// `memory.swappiness` (v1 only).
    pub swappiness: Option<u64>,
}

/// Memory of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryView {
    /// Which formulas apply.
    pub version: CgroupVersion,
    /// Smallest memory limit over the cgroup and its ancestors, bytes.
    pub limit: Limit,
    /// Memory in use, bytes.
    pub usage: u64,
    /// memory.stat counters.
    pub stat: MemoryStat,
    /// Swap, when the kernel accounts it (None: no swap accounting).
    pub swap: Option<SwapView>,
}

/// CPU time of a container, nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuUsage {
    /// All CPU time (v1 `cpuacct.usage`, v2 `cpu.stat usage_usec`).
    pub total_ns: u64,
    /// User time (v1 sum of `usage_all`, v2 `user_usec`).
    pub user_ns: u64,
    /// System time.
    pub system_ns: u64,
    /// Per physical CPU (v1 only): (cpu, user ns, system ns).
    pub per_cpu: Option<Vec<(u32, u64, u64)>>,
}

/// Block I/O of a container on one device, in diskstats units before scaling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoDevice {
    /// major:minor.
    pub dev: (u32, u32),
    /// Completed reads.
    pub reads: u64,
    /// Merged reads.
    pub reads_merged: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Time reading, ms.
    pub read_ms: u64,
    /// Completed writes.
    pub writes: u64,
    /// Merged writes.
    pub writes_merged: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Time writing, ms.
    pub write_ms: u64,
    /// Time doing I/O, ms.
    pub io_ms: u64,
    /// Completed discards.
    pub discards: u64,
    /// Merged discards.
    pub discards_merged: u64,
    /// Bytes discarded.
    pub discard_bytes: u64,
    /// Time discarding, ms.
    pub discard_ms: u64,
}

/// Tasks of a container for loadavg.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadView {
    /// avenrun, kernel fixed point (FSHIFT 11), for 1, 5 and 15 minutes.
    pub avenrun: [u64; 3],
    /// Tasks in state R or D (what the load average counts).
    pub running: u64,
    /// Tasks in state D (`procs_blocked`).
    pub blocked: u64,
    /// All tasks (threads).
    pub total: u64,
    /// Largest thread id seen.
    pub last_pid: u64,
}

/// A value that could not be read and what was shown instead.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fallback {
    /// The quantity (`memory limit`, `cpuset`, ...).
    pub what: &'static str,
    /// Why (the error), for the log line.
    pub reason: String,
}

/// Everything collected for one container. `None` means "not virtualised here": the
/// renderer shows the host's file or value, as LXCFS does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerView {
    /// Memory and swap.
    pub memory: Option<MemoryView>,
    /// CPUs the container may run on (already intersected with the host's online CPUs).
    pub cpuset: Option<CpuSet>,
    /// Tightest CFS quota over the cgroup and its ancestors.
    pub quota: Option<CpuQuota>,
    /// CPU time.
    pub cpu_usage: Option<CpuUsage>,
    /// Block I/O per device.
    pub io: Option<Vec<IoDevice>>,
    /// cpu, memory, io pressure (v2).
    pub pressure: [Option<Vec<PressureLine>>; 3],
    /// Per-cgroup slabinfo (v1 `memory.kmem.slabinfo` when non-empty).
    pub slabinfo: Option<String>,
    /// Tasks and load (with `--enable-loadavg`).
    pub load: Option<LoadView>,
    /// The per-CPU lines of `/proc/stat` in display order, made monotonic across reads
    /// by the sampler's history (None: computed statelessly by the renderer).
    pub cpu_lines: Option<Vec<crate::parse::stat::CpuTimes>>,
    /// Values that fell back, for logging and tests.
    pub fallbacks: Vec<Fallback>,
}

/// The host's files, raw (for pass-through) and parsed (for computation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostView {
    /// Raw `/proc/meminfo`.
    pub meminfo_text: String,
    /// Parsed meminfo.
    pub meminfo: Meminfo,
    /// Raw `/proc/stat`.
    pub stat_text: String,
    /// Parsed stat.
    pub stat: KernelStat,
    /// Raw `/proc/cpuinfo`.
    pub cpuinfo_text: String,
    /// Parsed cpuinfo.
    pub cpuinfo: CpuInfo,
    /// Raw `/proc/diskstats`.
    pub diskstats_text: String,
    /// Parsed diskstats.
    pub diskstats: Vec<DiskStat>,
    /// Raw `/proc/swaps`.
    pub swaps_text: String,
    /// Parsed swaps.
    pub swaps: Vec<SwapArea>,
    /// Parsed `/proc/uptime` (None if unreadable).
    pub uptime: Option<Uptime>,
    /// Raw `/proc/loadavg`.
    pub loadavg_text: String,
    /// Raw `/proc/pressure/{cpu,memory,io}` (empty when the kernel has no PSI).
    pub pressure_text: [String; 3],
    /// Raw `/proc/slabinfo`.
    pub slabinfo_text: String,
    /// CPUs the host has online (`/sys/devices/system/cpu/online`; else from stat).
    pub cpu_online: CpuSet,
    /// Raw `/sys/devices/system/cpu/possible`.
    pub cpu_possible_text: String,
    /// Raw `/sys/devices/system/cpu/present`.
    pub cpu_present_text: String,
    /// Raw `/sys/devices/system/cpu/offline`.
    pub cpu_offline_text: String,
}

/// One container's view with the host view of the same sample.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// When the sample was taken.
    pub taken: Timestamp,
    /// Which parts were collected.
    pub parts: Parts,
    /// Host data of the same sample.
    pub host: Arc<HostView>,
    /// The container's data.
    pub container: Arc<ContainerView>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Snapshot>();
    assert_send_sync::<HostView>();
    assert_send_sync::<ContainerView>();
};
