//! cgroup v1 file names and the readings that are v1-specific.

use super::{Cgroups, Controller, MemoryFiles, MemoryReading};
use crate::error::Result;
use crate::parse::cgroup::{
    parse_blkio, parse_cfs_quota, parse_usage_all, parse_usage_percpu, parse_v1_memory_stat,
    BlkioRow, CpuQuota, CpuTime, CpuUsageNs, IoCounters, Limit,
};

/// Member processes (same name on v2).
pub(crate) const CGROUP_PROCS: &str = "cgroup.procs";
const MEMORY_LIMIT_IN_BYTES: &str = "memory.limit_in_bytes";
const MEMORY_USAGE_IN_BYTES: &str = "memory.usage_in_bytes";
/// Memory + swap limit and usage: the swap share is what exceeds the memory figures.
const MEMORY_MEMSW_LIMIT_IN_BYTES: &str = "memory.memsw.limit_in_bytes";
const MEMORY_MEMSW_USAGE_IN_BYTES: &str = "memory.memsw.usage_in_bytes";
const MEMORY_SWAPPINESS: &str = "memory.swappiness";
/// Counters (`total_*` are hierarchical).
const MEMORY_STAT: &str = "memory.stat";
const MEMORY_KMEM_SLABINFO: &str = "memory.kmem.slabinfo";
pub(crate) const CPUSET_CPUS: &str = "cpuset.cpus";
pub(crate) const CPUSET_EFFECTIVE_CPUS: &str = "cpuset.effective_cpus";
/// CFS quota (µs, -1 = none) and period (µs).
const CPU_CFS_QUOTA_US: &str = "cpu.cfs_quota_us";
const CPU_CFS_PERIOD_US: &str = "cpu.cfs_period_us";
/// Total CPU time (ns), per-CPU user and system time (ns), per-CPU total (ns).
const CPUACCT_USAGE: &str = "cpuacct.usage";
const CPUACCT_USAGE_ALL: &str = "cpuacct.usage_all";
const CPUACCT_USAGE_PERCPU: &str = "cpuacct.usage_percpu";
/// CFQ-era recursive blkio tables (kernels < 5.0).
const BLKIO_IO_SERVICED_RECURSIVE: &str = "blkio.io_serviced_recursive";
const BLKIO_IO_MERGED_RECURSIVE: &str = "blkio.io_merged_recursive";
const BLKIO_IO_SERVICE_BYTES_RECURSIVE: &str = "blkio.io_service_bytes_recursive";
const BLKIO_IO_WAIT_TIME_RECURSIVE: &str = "blkio.io_wait_time_recursive";
const BLKIO_IO_SERVICE_TIME_RECURSIVE: &str = "blkio.io_service_time_recursive";
/// Throttle layer tables (requests and bytes; on every modern v1 kernel).
const BLKIO_THROTTLE_IO_SERVICED_RECURSIVE: &str = "blkio.throttle.io_serviced_recursive";
const BLKIO_THROTTLE_IO_SERVICE_BYTES_RECURSIVE: &str = "blkio.throttle.io_service_bytes_recursive";

const FILES: MemoryFiles = MemoryFiles {
    stat: MEMORY_STAT,
    parse_stat: parse_v1_memory_stat,
    limit: MEMORY_LIMIT_IN_BYTES,
    usage: MEMORY_USAGE_IN_BYTES,
};

/// v1 memory: `memory.limit_in_bytes` (min over ancestors), `memory.usage_in_bytes`,
/// `memory.stat` `total_*`; swap is the memsw share beyond memory.
pub(super) fn memory(cg: &Cgroups, path: &str) -> Result<MemoryReading> {
    let m = Controller::Memory;
    let super::MemoryBasics {
        owner,
        limit,
        usage,
        stat,
    } = cg.memory_basics(path, FILES)?;
    // The memsw figures count RAM + swap: the swap share is what exceeds the RAM ones.
    let ram_limit = limit.as_ref().map_or(Limit::Max, |l| *l);
    let ram_usage = match (&usage, &stat) {
        (Ok(u), _) => *u,
        (Err(_), Ok(s)) => s.estimated_usage(),
        (Err(_), Err(_)) => 0,
    };
    let swap = cg.swap_reading(
        cg.number(m, &owner, MEMORY_MEMSW_USAGE_IN_BYTES)
            .map(|memsw| memsw.saturating_sub(ram_usage)),
        || {
            cg.min_limit_over_ancestors(m, &owner, MEMORY_MEMSW_LIMIT_IN_BYTES)
                .map(|memsw| match (memsw, ram_limit) {
                    (Limit::Max, _) => Limit::Max,
                    (Limit::Value(v), Limit::Max) => Limit::Value(v),
                    (Limit::Value(v), Limit::Value(l)) => Limit::Value(v.saturating_sub(l)),
                })
        },
        cg.number(m, &owner, MEMORY_SWAPPINESS).ok(),
    );
    Ok(MemoryReading {
        limit,
        usage,
        stat,
        swap,
    })
}

/// `cpu.cfs_quota_us` / `cpu.cfs_period_us` of one cgroup.
pub(super) fn cfs_quota(cg: &Cgroups, path: &str) -> Result<Option<CpuQuota>> {
    let c = Controller::Cpu;
    let period = cg.read(c, path, CPU_CFS_PERIOD_US)?;
    cg.parsed(c, path, CPU_CFS_QUOTA_US, |q| parse_cfs_quota(q, &period))
}

/// CPU time from cpuacct, per CPU: the exact time of `usage_percpu`, split into user
/// and system as `usage_all` splits it; `usage_all` alone, or `usage_percpu` alone (all
/// counted as user time, never twice), when only one is readable. Total from
/// `cpuacct.usage`.
///
/// Why not `usage_all` as it is: since Linux 5.17 its user and system columns come from
/// the tick-sampled `kernel_cpustat`, while `usage` and `usage_percpu` are the exact
/// runtime; under contention the sampled figures overshoot (by 10–40 % measured over 5 s
/// on a loaded 2-CPU host), which would show a container busier than it was.
pub(super) fn cpu_time(cg: &Cgroups, path: &str) -> Result<CpuTime> {
    let c = Controller::Cpuacct;
    let split = cg.parsed(c, path, CPUACCT_USAGE_ALL, parse_usage_all).ok();
    let exact = cg
        .parsed(c, path, CPUACCT_USAGE_PERCPU, parse_usage_percpu)
        .ok();
    let per_cpu = match (split, exact) {
        (Some(split), Some(exact)) => Some(exact_times(&split, &exact)),
        (Some(split), None) => Some(split),
        (None, Some(exact)) => Some(
            exact
                .into_iter()
                .zip(0u32..)
                .map(|(ns, cpu)| CpuUsageNs {
                    cpu,
                    user_ns: ns,
                    system_ns: 0,
                })
                .collect(),
        ),
        (None, None) => None,
    };
    let (user_ns, system_ns) = per_cpu.as_ref().map_or((0, 0), |v| {
        v.iter().fold((0u64, 0u64), |(u, s), c| {
            (u.saturating_add(c.user_ns), s.saturating_add(c.system_ns))
        })
    });
    let total_ns = match (cg.number(c, path, CPUACCT_USAGE), &per_cpu) {
        (Ok(t), _) => t,
        (Err(_), Some(_)) => user_ns.saturating_add(system_ns),
        (Err(e), None) => return Err(e),
    };
    Ok(CpuTime {
        total_ns,
        user_ns,
        system_ns,
        per_cpu,
    })
}

/// Each CPU of `split` (sampled user/system) given the exact total of `exact[cpu]`,
/// divided in the sampled proportion (all user when nothing was sampled). A CPU that
/// `exact` does not list keeps its sampled figures.
fn exact_times(split: &[CpuUsageNs], exact: &[u64]) -> Vec<CpuUsageNs> {
    split
        .iter()
        .map(|s| {
            let Some(&total) = usize::try_from(s.cpu).ok().and_then(|i| exact.get(i)) else {
                return *s;
            };
            let sampled = u128::from(s.user_ns) + u128::from(s.system_ns);
            let user_ns = (u128::from(total) * u128::from(s.user_ns))
                .checked_div(sampled)
                .map_or(total, |u| u64::try_from(u).unwrap_or(total));
            CpuUsageNs {
                cpu: s.cpu,
                user_ns,
                system_ns: total - user_ns,
            }
        })
        .collect()
}

fn blkio_value(rows: &[BlkioRow], dev: (u32, u32), op: &str) -> u64 {
    rows.iter()
        .find(|r| r.dev == dev && r.op == op)
        .map_or(0, |r| r.value)
}

/// Block I/O: the CFQ `*_recursive` tables when the kernel has them, else the throttle
/// layer's recursive tables (requests and bytes only). `Ok(None)` when neither exists.
pub(super) fn io(cg: &Cgroups, path: &str) -> Result<Option<Vec<IoCounters>>> {
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
        Err(e) if e.is_missing() => match table(BLKIO_THROTTLE_IO_SERVICED_RECURSIVE) {
            Ok(serviced) => (
                serviced,
                Vec::new(),
                table(BLKIO_THROTTLE_IO_SERVICE_BYTES_RECURSIVE).unwrap_or_default(),
                Vec::new(),
                Vec::new(),
                false,
            ),
            Err(e) if e.is_missing() => return Ok(None),
            Err(e) => return Err(e),
        },
        Err(e) => return Err(e),
    };
    let mut devs: Vec<(u32, u32)> = serviced.iter().chain(bytes.iter()).map(|r| r.dev).collect();
    devs.sort_unstable();
    devs.dedup();
    let ms = |rows: &[BlkioRow], dev, op| blkio_value(rows, dev, op) / 1_000_000;
    let time = |dev, op| ms(&service, dev, op).saturating_add(ms(&wait, dev, op));
    Ok(Some(
        devs.into_iter()
            .map(|dev| IoCounters {
                dev,
                reads: blkio_value(&serviced, dev, "Read"),
                reads_merged: blkio_value(&merged, dev, "Read"),
                read_bytes: blkio_value(&bytes, dev, "Read"),
                read_ms: time(dev, "Read"),
                writes: blkio_value(&serviced, dev, "Write"),
                writes_merged: blkio_value(&merged, dev, "Write"),
                write_bytes: blkio_value(&bytes, dev, "Write"),
                write_ms: time(dev, "Write"),
                io_ms: if cfq { ms(&service, dev, "Total") } else { 0 },
                discards: blkio_value(&serviced, dev, "Discard"),
                discards_merged: blkio_value(&merged, dev, "Discard"),
                discard_bytes: blkio_value(&bytes, dev, "Discard"),
                discard_ms: time(dev, "Discard"),
            })
            .collect(),
    ))
}

/// `memory.kmem.slabinfo` when it has content (empty on current kernels).
pub(super) fn kmem_slabinfo(cg: &Cgroups, path: &str) -> Option<String> {
    let t = cg
        .read(Controller::Memory, path, MEMORY_KMEM_SLABINFO)
        .ok()?;
    (t.lines().count() > 2).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(cpu: u32, user_ns: u64, system_ns: u64) -> CpuUsageNs {
        CpuUsageNs {
            cpu,
            user_ns,
            system_ns,
        }
    }

    #[test]
    fn exact_totals_split_as_sampled() {
        // Ticks overshoot on CPU 0 (800 sampled, 500 run); nothing sampled on CPU 1;
        // CPU 2 is not in usage_percpu.
        let split = [usage(0, 600, 200), usage(1, 0, 0), usage(2, 7, 3)];
        assert_eq!(
            exact_times(&split, &[500, 40]),
            [usage(0, 375, 125), usage(1, 40, 0), usage(2, 7, 3)]
        );
        assert_eq!(
            exact_times(&[usage(0, u64::MAX, u64::MAX)], &[u64::MAX]),
            [usage(0, u64::MAX / 2, u64::MAX - u64::MAX / 2)]
        );
    }
}
