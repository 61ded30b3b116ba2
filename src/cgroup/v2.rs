//! cgroup v2 file names and the readings that are v2-specific.

use super::{Cgroups, Controller};
use crate::error::{Error, Result};
use crate::parse::cgroup::{
    parse_cpu_max, parse_dev, parse_flat_keyed, parse_nested_keyed, parse_single_u64, CpuQuota,
    Limit,
};
use crate::snapshot::{
    CgroupVersion, CpuUsage, Fallback, IoDevice, MemoryStat, MemoryView, SwapView,
};

/// Controllers available in a cgroup.
pub const CGROUP_CONTROLLERS: &str = "cgroup.controllers";
/// Hard memory limit.
pub const MEMORY_MAX: &str = "memory.max";
/// Memory usage.
pub const MEMORY_CURRENT: &str = "memory.current";
/// Swap limit.
pub const MEMORY_SWAP_MAX: &str = "memory.swap.max";
/// Swap usage.
pub const MEMORY_SWAP_CURRENT: &str = "memory.swap.current";
/// Counters (hierarchical).
pub const MEMORY_STAT: &str = "memory.stat";
/// Configured CPUs.
pub const CPUSET_CPUS: &str = "cpuset.cpus";
/// Effective CPUs.
pub const CPUSET_CPUS_EFFECTIVE: &str = "cpuset.cpus.effective";
/// CFS bandwidth (`quota period`).
pub const CPU_MAX: &str = "cpu.max";
/// CPU time (`usage_usec`, `user_usec`, `system_usec`, ...).
pub const CPU_STAT: &str = "cpu.stat";
/// Block I/O per device.
pub const IO_STAT: &str = "io.stat";
/// PSI files, in the order of `proc/pressure/{cpu,memory,io}`.
pub const PRESSURE_FILES: [&str; 3] = ["cpu.pressure", "memory.pressure", "io.pressure"];

/// v2 memory: `memory.max` (min over ancestors, `max` skipped), `memory.current`,
/// `memory.stat`, `memory.swap.{max,current}`.
pub(super) fn memory(cg: &Cgroups, path: &str, fb: &mut Vec<Fallback>) -> Result<MemoryView> {
    let m = Controller::Memory;
    let (owned, limit, usage, stat) = cg.memory_basics(
        path,
        MEMORY_STAT,
        memory_stat,
        MEMORY_MAX,
        MEMORY_CURRENT,
        fb,
    )?;
    let path = owned.as_str();
    let swap = match cg.read(m, path, MEMORY_SWAP_CURRENT) {
        Ok(t) => {
            let usage = parse_single_u64(&t).unwrap_or_else(|e| {
                fb.push(Fallback {
                    what: "swap usage (shown as 0)",
                    reason: e.what,
                });
                0
            });
            let limit = cg
                .min_limit_over_ancestors(m, path, MEMORY_SWAP_MAX)
                .unwrap_or_else(|e| {
                    fb.push(Fallback {
                        what: "swap limit (host swap shown)",
                        reason: e.to_string(),
                    });
                    Limit::Max
                });
            Some(SwapView {
                limit,
                usage,
                swappiness: None,
            })
        }
        Err(e) => {
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
        version: CgroupVersion::V2,
        limit,
        usage,
        stat,
        swap,
    })
}

/// The counters of a v2 `memory.stat` (already hierarchical). Keys are matched exactly,
/// so `file_mapped`, `file_dirty`, `file_writeback` and `anon_thp` are read correctly
/// (LXCFS's prefix matching loses them).
pub fn memory_stat(text: &str) -> MemoryStat {
    let (kv, _) = parse_flat_keyed(text);
    let find = |k: &str| kv.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let get = |k: &str| find(k).unwrap_or(0);
    MemoryStat {
        cache: get("file"),
        shmem: get("shmem"),
        mapped_file: get("file_mapped"),
        dirty: get("file_dirty"),
        writeback: get("file_writeback"),
        active_anon: get("active_anon"),
        inactive_anon: get("inactive_anon"),
        active_file: get("active_file"),
        inactive_file: get("inactive_file"),
        unevictable: get("unevictable"),
        anon_thp: get("anon_thp"),
        slab: get("slab"),
        slab_reclaimable: get("slab_reclaimable"),
        slab_unreclaimable: get("slab_unreclaimable"),
        zswap: find("zswap"),
        zswapped: find("zswapped"),
    }
}

/// `cpu.max` of one cgroup (the root has none: not found).
pub(super) fn cpu_max(cg: &Cgroups, path: &str) -> Result<Option<CpuQuota>> {
    let t = cg.read(Controller::Cpu, path, CPU_MAX)?;
    parse_cpu_max(&t).map_err(|e| Error::parse(&cg.path(Controller::Cpu, path, CPU_MAX), e.what))
}

/// `cpu.stat`: `usage_usec`, `user_usec`, `system_usec` (no per-CPU figures on v2).
pub(super) fn cpu_usage(cg: &Cgroups, path: &str) -> Result<CpuUsage> {
    let c = Controller::Cpuacct;
    let t = cg.read(c, path, CPU_STAT)?;
    let (kv, _) = parse_flat_keyed(&t);
    let get = |k: &str| {
        kv.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.saturating_mul(1000))
    };
    let user_ns = get("user_usec");
    let system_ns = get("system_usec");
    let total_ns = get("usage_usec")
        .or_else(|| Some(user_ns?.saturating_add(system_ns?)))
        .ok_or_else(|| Error::parse(&cg.path(c, path, CPU_STAT), "no usage_usec"))?;
    Ok(CpuUsage {
        total_ns,
        user_ns: user_ns.unwrap_or(total_ns),
        system_ns: system_ns.unwrap_or(0),
        per_cpu: None,
    })
}

/// `io.stat`: `rios wios dios rbytes wbytes dbytes` per device; no time columns exist.
pub(super) fn io(cg: &Cgroups, path: &str) -> Result<Vec<IoDevice>> {
    let t = cg.read(Controller::Io, path, IO_STAT)?;
    Ok(parse_nested_keyed(&t)
        .into_iter()
        .filter_map(|e| {
            let dev = parse_dev(&e.key)?;
            let get = |k: &str| e.fields.iter().find(|(n, _)| n == k).map_or(0, |(_, v)| *v);
            Some(IoDevice {
                dev,
                reads: get("rios"),
                read_bytes: get("rbytes"),
                writes: get("wios"),
                write_bytes: get("wbytes"),
                discards: get("dios"),
                discard_bytes: get("dbytes"),
                ..IoDevice::default()
            })
        })
        .collect())
}

/// The text of `cpu.pressure` / `memory.pressure` / `io.pressure` in the unified tree.
pub fn pressure(cg: &Cgroups, path: &str, index: usize) -> Result<String> {
    let file = PRESSURE_FILES[index.min(2)];
    let unified = cg.hierarchies.unified().ok_or(Error::NotFound)?;
    crate::source::read_text(cg.source, &format!("{}/{}", unified.dir(path), file))
}
