//! `collect_*`: reading and parsing into snapshot parts. The only place where cgroup and
//! host data meet, and where a value that cannot be read becomes a [`Fallback`].

use crate::cgroup::{Cgroups, ContainerId, Controller, Hierarchies, Layout, SwapReading};
use crate::error::Error;
use crate::parse::cgroup::Limit;
use crate::parse::cpuinfo::parse_cpuinfo;
use crate::parse::cpuset::{parse_cpuset, CpuSet};
use crate::parse::diskstats::parse_diskstats;
use crate::parse::meminfo::parse_meminfo;
use crate::parse::pressure::PressureKind;
use crate::parse::proc_pid::parse_pid_stat;
use crate::parse::stat::parse_stat;
use crate::parse::swaps::parse_swaps;
use crate::parse::uptime::parse_uptime;
use crate::snapshot::{
    ContainerView, Fallback, FallbackKind, HostCpuFiles, HostView, LoadView, MemoryView, Parts,
    SwapView,
};
use crate::source::{read_text, Source};
use std::sync::Arc;

const PROC_MEMINFO: &str = "/proc/meminfo";
const PROC_STAT: &str = "/proc/stat";
const PROC_CPUINFO: &str = "/proc/cpuinfo";
const PROC_DISKSTATS: &str = "/proc/diskstats";
const PROC_SWAPS: &str = "/proc/swaps";
const PROC_UPTIME: &str = "/proc/uptime";
const PROC_LOADAVG: &str = "/proc/loadavg";
const PROC_SLABINFO: &str = "/proc/slabinfo";
/// `/proc/pressure/<kind>`.
const PROC_PRESSURE_DIR: &str = "/proc/pressure";
const SYS_CPU_ONLINE: &str = "/sys/devices/system/cpu/online";
const SYS_CPU_OFFLINE: &str = "/sys/devices/system/cpu/offline";
const SYS_CPU_POSSIBLE: &str = "/sys/devices/system/cpu/possible";
const SYS_CPU_PRESENT: &str = "/sys/devices/system/cpu/present";

/// How long [`HostCpuFiles`] are reused before they are read again.
pub(crate) const CPU_FILES_MAX_AGE_NS: u64 = 1_000_000_000;

/// Most tasks one loadavg sample looks at, so a fork bomb cannot stall the sampler.
const MAX_TASKS_PER_SAMPLE: usize = 100_000;

fn host_file(source: &dyn Source, path: &str) -> String {
    read_text(source, path).unwrap_or_else(|e| {
        log::debug!("host file unreadable: {e}");
        String::new()
    })
}

/// cpuinfo, possible and present.
pub(crate) fn collect_host_cpu_files(source: &dyn Source) -> HostCpuFiles {
    let cpuinfo_text = host_file(source, PROC_CPUINFO);
    HostCpuFiles {
        cpuinfo: parse_cpuinfo(&cpuinfo_text),
        cpuinfo_text,
        cpu_possible_text: host_file(source, SYS_CPU_POSSIBLE),
        cpu_present_text: host_file(source, SYS_CPU_PRESENT),
    }
}

/// Read the host files that `parts` need; `cpu_files` are the slow-changing CPU files.
pub(crate) fn collect_host(
    source: &dyn Source,
    parts: Parts,
    cpu_files: Arc<HostCpuFiles>,
) -> HostView {
    let mut h = HostView {
        cpu_files,
        ..HostView::default()
    };
    if parts.contains(Parts::MEMORY) {
        h.meminfo_text = host_file(source, PROC_MEMINFO);
        h.meminfo = parse_meminfo(&h.meminfo_text);
        h.swaps_text = host_file(source, PROC_SWAPS);
        h.swaps = parse_swaps(&h.swaps_text);
    }
    if parts.contains(Parts::CPUSET) || parts.contains(Parts::CPUACCT) {
        h.stat_text = host_file(source, PROC_STAT);
        h.stat = parse_stat(&h.stat_text);
        // Online CPUs: the kernel's list, kept consistent with the CPUs /proc/stat reports
        // (they agree on a sane kernel; if either is garbage the other wins).
        let in_stat = CpuSet::from_cpus(h.stat.cpus().map(|(n, _)| n));
        let listed = read_text(source, SYS_CPU_ONLINE)
            .ok()
            .and_then(|t| parse_cpuset(&t).ok())
            .unwrap_or_default();
        h.cpu_online = match (listed.is_empty(), in_stat.is_empty()) {
            (false, true) => listed,
            (true, _) => in_stat,
            (false, false) => {
                let both = listed.intersection(&in_stat);
                if both.is_empty() {
                    in_stat
                } else {
                    both
                }
            }
        };
        h.cpu_offline_text = host_file(source, SYS_CPU_OFFLINE);
    }
    if parts.contains(Parts::UPTIME) || parts.contains(Parts::CPUACCT) {
        h.uptime_text = host_file(source, PROC_UPTIME);
        h.uptime = parse_uptime(&h.uptime_text).ok();
    }
    if parts.contains(Parts::IO) {
        h.diskstats_text = host_file(source, PROC_DISKSTATS);
        h.diskstats = parse_diskstats(&h.diskstats_text);
    }
    if parts.contains(Parts::PRESSURE) {
        for kind in PressureKind::ALL {
            *h.pressure_text.get_mut(kind) =
                host_file(source, &format!("{PROC_PRESSURE_DIR}/{}", kind.name()));
        }
    }
    if parts.contains(Parts::SLAB) {
        h.slabinfo_text = host_file(source, PROC_SLABINFO);
    }
    if parts.contains(Parts::LOAD) {
        h.loadavg_text = host_file(source, PROC_LOADAVG);
    }
    h
}

/// A cgroup path that is virtualised: the root cgroup is the host itself.
fn container_path(p: &Option<String>) -> Option<&str> {
    p.as_deref().filter(|p| *p != "/")
}

fn note(fb: &mut Vec<Fallback>, kind: FallbackKind, e: &Error) {
    fb.push(Fallback {
        kind,
        reason: e.to_string(),
    });
}

/// The memory view of a reading, every unreadable value replaced (and recorded).
fn memory_view(cg: &Cgroups, path: &str, fb: &mut Vec<Fallback>) -> Option<MemoryView> {
    let r = match cg.memory(path) {
        Ok(r) => r,
        Err(e) => {
            note(fb, FallbackKind::MemoryCgroup, &e);
            return None;
        }
    };
    let stat = r.stat.unwrap_or_else(|e| {
        note(fb, FallbackKind::MemoryStat, &e);
        Default::default()
    });
    let limit = r.limit.unwrap_or_else(|e| {
        note(fb, FallbackKind::MemoryLimit, &e);
        Limit::Max
    });
    let usage = r.usage.unwrap_or_else(|e| {
        note(fb, FallbackKind::MemoryUsage, &e);
        stat.estimated_usage()
    });
    let swap = match r.swap {
        SwapReading::NotAccounted => None,
        SwapReading::Unreadable(e) => {
            note(fb, FallbackKind::SwapAccounting, &e);
            None
        }
        SwapReading::Accounted {
            limit,
            usage,
            swappiness,
        } => Some(SwapView {
            limit: limit.unwrap_or_else(|e| {
                note(fb, FallbackKind::SwapLimit, &e);
                Limit::Max
            }),
            usage: usage.unwrap_or_else(|e| {
                note(fb, FallbackKind::SwapUsage, &e);
                0
            }),
            swappiness,
        }),
    };
    Some(MemoryView {
        limit,
        usage,
        stat,
        swap,
    })
}

/// Collect the `parts` of container `id`. `host_online` are the CPUs the host has
/// online (cpusets are intersected with it). Nothing fails: what cannot be read is a
/// recorded fallback.
pub(crate) fn collect_container(
    source: &dyn Source,
    hierarchies: Option<&Hierarchies>,
    id: &ContainerId,
    parts: Parts,
    host_online: &CpuSet,
) -> ContainerView {
    let mut v = ContainerView::default();
    let Some(h) = hierarchies else {
        return v;
    };
    let cg = Cgroups {
        source,
        hierarchies: h,
    };
    let fb = &mut v.fallbacks;
    if parts.contains(Parts::MEMORY) {
        if let Some(p) = container_path(&id.memory) {
            v.memory = memory_view(&cg, p, fb);
        }
    }
    if parts.contains(Parts::CPUSET) {
        if let Some(p) = container_path(&id.cpuset) {
            match cg.cpuset(p) {
                Ok(set) => {
                    let visible = set.intersection(host_online);
                    if visible.is_empty() {
                        fb.push(Fallback {
                            kind: FallbackKind::Cpuset,
                            reason: format!("cpuset {set} has no online CPU"),
                        });
                    } else {
                        v.cpuset = Some(visible);
                    }
                }
                Err(e) => note(fb, FallbackKind::Cpuset, &e),
            }
        }
        if let Some(p) = container_path(&id.cpu) {
            match cg.cpu_quota(p) {
                Ok(q) => v.quota = q,
                Err(e) => note(fb, FallbackKind::CpuQuota, &e),
            }
        }
    }
    if parts.contains(Parts::CPUACCT) {
        if let Some(p) = container_path(&id.cpuacct) {
            match cg.cpu_time(p) {
                Ok(u) => v.cpu_time = Some(u),
                Err(e) => note(fb, FallbackKind::CpuUsage, &e),
            }
        }
    }
    if parts.contains(Parts::IO) {
        if let Some(p) = container_path(&id.io) {
            match cg.io(p) {
                Ok(io) => v.io = io,
                Err(e) => note(fb, FallbackKind::BlockIo, &e),
            }
        }
    }
    if parts.contains(Parts::PRESSURE) && h.layout == Layout::Unified {
        if let Some(p) = container_path(&id.unified) {
            for kind in PressureKind::ALL {
                match cg.pressure(p, kind) {
                    Ok(lines) => *v.pressure.get_mut(kind) = Some(lines),
                    Err(e) => note(fb, FallbackKind::Pressure(kind), &e),
                }
            }
        }
    }
    if parts.contains(Parts::SLAB) {
        if let Some(p) = container_path(&id.memory) {
            v.slabinfo = cg.slabinfo(p);
        }
    }
    v
}

/// Whether the cgroup of `id` still exists (the cpu hierarchy, else memory).
pub(crate) fn cgroup_exists(
    source: &dyn Source,
    hierarchies: &Hierarchies,
    id: &ContainerId,
) -> bool {
    let cg = Cgroups {
        source,
        hierarchies,
    };
    for c in [Controller::Cpu, Controller::Memory] {
        if let (Some(_), Some(p)) = (hierarchies.controller(c), id.path(c)) {
            return cg.exists(c, p);
        }
    }
    true
}

/// The task counts of container `id` for loadavg: the threads of the processes in its
/// cpu cgroup and 3 levels of descendants (LXCFS's depth). `None` for the root cgroup or
/// when there are no cgroups.
pub(crate) fn collect_load(
    source: &dyn Source,
    hierarchies: Option<&Hierarchies>,
    id: &ContainerId,
) -> Option<LoadView> {
    let h = hierarchies?;
    let cg = Cgroups {
        source,
        hierarchies: h,
    };
    let c = match cg.version(Controller::Cpu) {
        Some(_) => Controller::Cpu,
        None => Controller::Cpuacct,
    };
    let p = container_path(&id.cpu).or(container_path(&id.cpuacct))?;
    Some(collect_tasks(source, &cg.pids(c, p, 3)))
}

/// Count the threads of `pids` and those in state R or D (LXCFS's loadavg rule).
fn collect_tasks(source: &dyn Source, pids: &[u32]) -> LoadView {
    let mut load = LoadView::default();
    let mut seen = 0usize;
    for pid in pids {
        let Ok(tids) = source.read_dir(&format!("/proc/{pid}/task")) else {
            continue;
        };
        for tid in tids.iter().filter_map(|t| t.parse::<u64>().ok()) {
            seen += 1;
            if seen > MAX_TASKS_PER_SAMPLE {
                return load;
            }
            let Ok(text) = read_text(source, &format!("/proc/{pid}/task/{tid}/stat")) else {
                continue;
            };
            let Ok(stat) = parse_pid_stat(&text) else {
                continue;
            };
            load.total += 1;
            load.last_pid = load.last_pid.max(tid);
            if matches!(stat.state, 'R' | 'D') {
                load.running += 1;
            }
            if stat.state == 'D' {
                load.blocked += 1;
            }
        }
    }
    load
}
