//! cgroup v1 file names and the readings that are v1-specific.

use super::{Cgroups, Controller};
use crate::error::{Error, Result};
use crate::parse::cgroup::{
    parse_blkio, parse_cfs_quota, parse_flat_keyed, parse_limit, parse_single_u64, parse_usage_all,
    parse_usage_percpu, BlkioRow, CpuQuota, Limit,
};
use crate::snapshot::{
    CgroupVersion, CpuUsage, Fallback, IoDevice, MemoryStat, MemoryView, SwapView,
};

/// Member processes (same name on v2).
pub const CGROUP_PROCS: &str = "cgroup.procs";
/// Memory limit.
pub const MEMORY_LIMIT_IN_BYTES: &str = "memory.limit_in_bytes";
/// Memory usage.
pub const MEMORY_USAGE_IN_BYTES: &str = "memory.usage_in_bytes";
/// Memory + swap limit.
pub const MEMORY_MEMSW_LIMIT_IN_BYTES: &str = "memory.memsw.limit_in_bytes";
/// Memory + swap usage.
pub const MEMORY_MEMSW_USAGE_IN_BYTES: &str = "memory.memsw.usage_in_bytes";
/// Swappiness.
pub const MEMORY_SWAPPINESS: &str = "memory.swappiness";
/// Counters (`total_*` are hierarchical).
pub const MEMORY_STAT: &str = "memory.stat";
/// Per-cgroup slab caches.
pub const MEMORY_KMEM_SLABINFO: &str = "memory.kmem.slabinfo";
/// Configured CPUs.
pub const CPUSET_CPUS: &str = "cpuset.cpus";
/// Effective CPUs.
pub const CPUSET_EFFECTIVE_CPUS: &str = "cpuset.effective_cpus";
/// CFS quota (µs, -1 = none).
pub const CPU_CFS_QUOTA_US: &str = "cpu.cfs_quota_us";
/// CFS period (µs).
pub const CPU_CFS_PERIOD_US: &str = "cpu.cfs_period_us";
/// Total CPU time (ns).
pub const CPUACCT_USAGE: &str = "cpuacct.usage";
/// Per-CPU user and system time (ns).
pub const CPUACCT_USAGE_ALL: &str = "cpuacct.usage_all";
/// Per-CPU total time (ns).
pub const CPUACCT_USAGE_PERCPU: &str = "cpuacct.usage_percpu";
/// CFQ-era recursive blkio tables (kernels < 5.0).
pub const BLKIO_IO_SERVICED_RECURSIVE: &str = "blkio.io_serviced_recursive";
/// CFQ: merged requests.
pub const BLKIO_IO_MERGED_RECURSIVE: &str = "blkio.io_merged_recursive";
/// CFQ: bytes.
pub const BLKIO_IO_SERVICE_BYTES_RECURSIVE: &str = "blkio.io_service_bytes_recursive";
/// CFQ: wait time (ns).
pub const BLKIO_IO_WAIT_TIME_RECURSIVE: &str = "blkio.io_wait_time_recursive";
/// CFQ: service time (ns).
pub const BLKIO_IO_SERVICE_TIME_RECURSIVE: &str = "blkio.io_service_time_recursive";
/// Throttle layer: requests (present on every modern v1 kernel).
pub const BLKIO_THROTTLE_IO_SERVICED_RECURSIVE: &str = "blkio.throttle.io_serviced_recursive";
/// Throttle layer: bytes.
pub const BLKIO_THROTTLE_IO_SERVICE_BYTES_RECURSIVE: &str =
    "blkio.throttle.io_service_bytes_recursive";

fn num(cg: &Cgroups, c: Controller, path: &str, file: &str) -> Result<u64> {
    let t = cg.read(c, path, file)?;
    parse_single_u64(&t).map_err(|e| Error::parse(&cg.path(c, path, file), e.what))
}

/// v1 memory: `memory.limit_in_bytes` (min over ancestors), `memory.usage_in_bytes`,
/// `memory.stat` `total_*`, memsw files for swap.
pub(super) fn memory(cg: &Cgroups, path: &str, fb: &mut Vec<Fallback>) -> Result<MemoryView> {
    let m = Controller::Memory;
    let (owned, limit, usage, stat) = cg.memory_basics(
        path,
        MEMORY_STAT,
        memory_stat,
        MEMORY_LIMIT_IN_BYTES,
        MEMORY_USAGE_IN_BYTES,
        fb,
    )?;
    let path = owned.as_str();
    let swap = match (
        cg.min_limit_over_ancestors(m, path, MEMORY_MEMSW_LIMIT_IN_BYTES),
        num(cg, m, path, MEMORY_MEMSW_USAGE_IN_BYTES),
    ) {
        (Ok(memsw_limit), Ok(memsw_usage)) => {
            // memsw counts RAM + swap; the swap share is what exceeds the RAM figures.
            let swap_limit = match (memsw_limit, limit) {
                (Limit::Max, _) => Limit::Max,
                (Limit::Value(v), Limit::Max) => Limit::Value(v),
                (Limit::Value(v), Limit::Value(l)) => Limit::Value(v.saturating_sub(l)),
            };
            let swappiness = cg
                .read(m, path, MEMORY_SWAPPINESS)
                .ok()
                .and_then(|t| parse_single_u64(&t).ok());
            Some(SwapView {
                limit: swap_limit,
                usage: memsw_usage.saturating_sub(usage),
                swappiness,
            })
        }
        (Err(e), _) | (_, Err(e)) => {
            if !e.is_not_found() {
                fb.push(Fallback {
                    what: "swap accounting (swap shown as 0)",
                    reason: e.to_string(),
                });
            }
            None
        }
    };
    Ok(MemoryView {
        version: CgroupVersion::V1,
        limit,
        usage,
        stat,
        swap,
    })
}

/// The `total_*` (hierarchical) counters of a v1 `memory.stat`.
pub fn memory_stat(text: &str) -> MemoryStat {
    let (kv, _) = parse_flat_keyed(text);
    let get = |k: &str| kv.iter().find(|(n, _)| n == k).map_or(0, |(_, v)| *v);
    MemoryStat {
        cache: get("total_cache"),
        shmem: get("total_shmem"),
        mapped_file: get("total_mapped_file"),
        dirty: get("total_dirty"),
        writeback: get("total_writeback"),
        active_anon: get("total_active_anon"),
        inactive_anon: get("total_inactive_anon"),
        active_file: get("total_active_file"),
        inactive_file: get("total_inactive_file"),
        unevictable: get("total_unevictable"),
        anon_thp: get("total_rss_huge"),
        slab: 0,
        slab_reclaimable: 0,
        slab_unreclaimable: 0,
        zswap: None,
        zswapped: None,
    }
}

/// `cpu.cfs_quota_us` / `cpu.cfs_period_us` of one cgroup.
pub(super) fn cfs_quota(cg: &Cgroups, path: &str) -> Result<Option<CpuQuota>> {
    let c = Controller::Cpu;
    let q = cg.read(c, path, CPU_CFS_QUOTA_US)?;
    let p = cg.read(c, path, CPU_CFS_PERIOD_US)?;
    parse_cfs_quota(&q, &p).map_err(|e| Error::parse(&cg.path(c, path, CPU_CFS_QUOTA_US), e.what))
}

/// CPU time from cpuacct: `usage_all` per CPU, else `usage_percpu` (all counted as user
/// time, never twice), total from `cpuacct.usage`.
pub(super) fn cpu_usage(cg: &Cgroups, path: &str) -> Result<CpuUsage> {
    let c = Controller::Cpuacct;
    let per_cpu: Option<Vec<(u32, u64, u64)>> = match cg.read(c, path, CPUACCT_USAGE_ALL) {
        Ok(t) => parse_usage_all(&t).ok().map(|v| {
            v.into_iter()
                .map(|u| (u.cpu, u.user_ns, u.system_ns))
                .collect()
        }),
        Err(_) => None,
    }
    .or_else(|| {
        let t = cg.read(c, path, CPUACCT_USAGE_PERCPU).ok()?;
        let v = parse_usage_percpu(&t).ok()?;
        Some(
            v.into_iter()
                .zip(0u32..)
                .map(|(ns, cpu)| (cpu, ns, 0))
                .collect(),
        )
    });
    let total = num(cg, c, path, CPUACCT_USAGE);
    let (user_ns, system_ns) = per_cpu.as_ref().map_or((0, 0), |v| {
        v.iter().fold((0u64, 0u64), |(u, s), (_, cu, cs)| {
            (u.saturating_add(*cu), s.saturating_add(*cs))
        })
    });
    let total_ns = match (total, &per_cpu) {
        (Ok(t), _) => t,
        (Err(_), Some(_)) => user_ns.saturating_add(system_ns),
        (Err(e), None) => return Err(e),
    };
    Ok(CpuUsage {
        total_ns,
        user_ns,
        system_ns,
        per_cpu,
    })
}

fn blkio_value(rows: &[BlkioRow], dev: (u32, u32), op: &str) -> u64 {
    rows.iter()
        .find(|r| r.dev == dev && r.op == op)
        .map_or(0, |r| r.value)
}

/// Block I/O: the CFQ `*_recursive` tables when the kernel has them, else the throttle
/// layer's recursive tables (requests and bytes only). `Ok(None)` when neither exists.
pub(super) fn io(cg: &Cgroups, path: &str) -> Result<Option<Vec<IoDevice>>> {
    let c = Controller::Io;
    let table = |file: &str| cg.read(c, path, file).map(|t| parse_blkio(&t));
    let (serviced, merged, bytes, wait, service, cfq) = match table(BLKIO_IO_SERVICED_RECURSIVE) {
        Ok(serviced) => (
            serviced,
            table(BLKIO_IO_MERGED_RECURSIVE).unwrap_or_default(),
            table(BLKIO_IO_SERVICE_BYTES_RECURSIVE).unwrap_or_default(),
            table(BLKIO_IO_WAIT_TIME_RECURSIVE).unwrap_or_default(),
            table(BLKIO_IO_SERVICE_TIME_RECURSIVE).unwrap_or_default(),
            true,
        ),
        Err(e) if e.is_not_found() => match table(BLKIO_THROTTLE_IO_SERVICED_RECURSIVE) {
            Ok(serviced) => (
                serviced,
                Vec::new(),
                table(BLKIO_THROTTLE_IO_SERVICE_BYTES_RECURSIVE).unwrap_or_default(),
                Vec::new(),
                Vec::new(),
                false,
            ),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        },
        Err(e) => return Err(e),
    };
    let mut devs: Vec<(u32, u32)> = serviced.iter().chain(bytes.iter()).map(|r| r.dev).collect();
    devs.sort_unstable();
    devs.dedup();
    let ms = |rows: &[BlkioRow], dev, op| blkio_value(rows, dev, op) / 1_000_000;
    Ok(Some(
        devs.into_iter()
            .map(|dev| IoDevice {
                dev,
                reads: blkio_value(&serviced, dev, "Read"),
                reads_merged: blkio_value(&merged, dev, "Read"),
                read_bytes: blkio_value(&bytes, dev, "Read"),
                read_ms: ms(&service, dev, "Read").saturating_add(ms(&wait, dev, "Read")),
                writes: blkio_value(&serviced, dev, "Write"),
                writes_merged: blkio_value(&merged, dev, "Write"),
                write_bytes: blkio_value(&bytes, dev, "Write"),
                write_ms: ms(&service, dev, "Write").saturating_add(ms(&wait, dev, "Write")),
                io_ms: if cfq { ms(&service, dev, "Total") } else { 0 },
                discards: blkio_value(&serviced, dev, "Discard"),
                discards_merged: blkio_value(&merged, dev, "Discard"),
                discard_bytes: blkio_value(&bytes, dev, "Discard"),
                discard_ms: ms(&service, dev, "Discard").saturating_add(ms(&wait, dev, "Discard")),
            })
            .collect(),
    ))
}

/// `memory.kmem.slabinfo` when it has content (empty on current kernels).
pub fn kmem_slabinfo(cg: &Cgroups, path: &str) -> Option<String> {
    let t = cg
        .read(Controller::Memory, path, MEMORY_KMEM_SLABINFO)
        .ok()?;
    (t.lines().count() > 2).then_some(t)
}

/// A v1 limit file (exposed for tests of the unlimited sentinel).
pub fn parse_v1_limit(text: &str) -> Option<Limit> {
    parse_limit(text).ok()
}
