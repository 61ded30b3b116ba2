//! cgroup v2 file names and the readings that are v2-specific.

use super::{Cgroups, Controller, MemoryFiles, MemoryReading};
use crate::error::{Error, Result};
use crate::parse::cgroup::{
    parse_cpu_max, parse_flat_keyed, parse_io_stat, parse_v2_memory_stat, CpuQuota, CpuTime,
    IoCounters,
};
use crate::parse::pressure::{parse_pressure, PressureKind, PressureLine};

/// Controllers available in a cgroup.
pub(crate) const CGROUP_CONTROLLERS: &str = "cgroup.controllers";
const MEMORY_MAX: &str = "memory.max";
const MEMORY_CURRENT: &str = "memory.current";
const MEMORY_SWAP_MAX: &str = "memory.swap.max";
const MEMORY_SWAP_CURRENT: &str = "memory.swap.current";
const MEMORY_STAT: &str = "memory.stat";
pub(crate) const CPUSET_CPUS: &str = "cpuset.cpus";
pub(crate) const CPUSET_CPUS_EFFECTIVE: &str = "cpuset.cpus.effective";
/// CFS bandwidth (`quota period`).
const CPU_MAX: &str = "cpu.max";
/// CPU time (`usage_usec`, `user_usec`, `system_usec`, ...).
const CPU_STAT: &str = "cpu.stat";
/// Block I/O per device.
const IO_STAT: &str = "io.stat";
/// `cpu.pressure`, `memory.pressure`, `io.pressure`.
const PRESSURE_SUFFIX: &str = ".pressure";

const FILES: MemoryFiles = MemoryFiles {
    stat: MEMORY_STAT,
    parse_stat: parse_v2_memory_stat,
    limit: MEMORY_MAX,
    usage: MEMORY_CURRENT,
};

/// v2 memory: `memory.max` (min over ancestors, `max` skipped), `memory.current`,
/// `memory.stat`, `memory.swap.{max,current}`.
pub(super) fn memory(cg: &Cgroups, path: &str) -> Result<MemoryReading> {
    let m = Controller::Memory;
    let super::MemoryBasics {
        owner,
        limit,
        usage,
        stat,
    } = cg.memory_basics(path, FILES)?;
    let swap = cg.swap_reading(
        cg.number(m, &owner, MEMORY_SWAP_CURRENT),
        || cg.min_limit_over_ancestors(m, &owner, MEMORY_SWAP_MAX),
        None,
    );
    Ok(MemoryReading {
        limit,
        usage,
        stat,
        swap,
    })
}

/// `cpu.max` of one cgroup (the root has none: missing).
pub(super) fn cpu_max(cg: &Cgroups, path: &str) -> Result<Option<CpuQuota>> {
    cg.parsed(Controller::Cpu, path, CPU_MAX, parse_cpu_max)
}

/// `cpu.stat`: `usage_usec`, `user_usec`, `system_usec` (no per-CPU figures on v2).
pub(super) fn cpu_time(cg: &Cgroups, path: &str) -> Result<CpuTime> {
    let c = Controller::Cpuacct;
    let kv = parse_flat_keyed(&cg.read(c, path, CPU_STAT)?);
    let ns = |k: &str| kv.get(k).map(|v| v.saturating_mul(1000));
    let (user_ns, system_ns) = (ns("user_usec"), ns("system_usec"));
    let total_ns = ns("usage_usec")
        .or_else(|| Some(user_ns?.saturating_add(system_ns?)))
        .ok_or_else(|| {
            Error::parse(
                &cg.path(c, path, CPU_STAT).unwrap_or_default(),
                "no usage_usec",
            )
        })?;
    Ok(CpuTime {
        total_ns,
        user_ns: user_ns.unwrap_or(total_ns),
        system_ns: system_ns.unwrap_or(0),
        per_cpu: None,
    })
}

/// `io.stat`.
pub(super) fn io(cg: &Cgroups, path: &str) -> Result<Vec<IoCounters>> {
    Ok(parse_io_stat(&cg.read(Controller::Io, path, IO_STAT)?))
}

/// The lines of `<kind>.pressure` in the unified tree.
pub(super) fn pressure(cg: &Cgroups, path: &str, kind: PressureKind) -> Result<Vec<PressureLine>> {
    let unified = cg.hierarchies.unified.as_ref().ok_or(Error::NoHierarchy {
        controller: "unified",
    })?;
    let file = format!("{}/{}{PRESSURE_SUFFIX}", unified.dir(path), kind.name());
    let text = crate::source::read_text(cg.source, &file)?;
    parse_pressure(&text).map_err(|e| Error::parse(&file, e.what))
}
