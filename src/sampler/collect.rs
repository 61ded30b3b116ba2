//! `collect_*`: I/O plus parsing into snapshot parts. The only place where cgroup and
//! host data meet.

use crate::cgroup::{v1, v2, Cgroups, Controller, Hierarchies, Layout};
use crate::config::RenderOptions;
use crate::error::Error;
use crate::parse::cpuinfo::parse_cpuinfo;
use crate::parse::cpuset::{parse_cpuset, CpuSet};
use crate::parse::diskstats::parse_diskstats;
use crate::parse::meminfo::parse_meminfo;
use crate::parse::pressure::parse_pressure;
use crate::parse::proc_pid::parse_pid_stat;
use crate::parse::stat::parse_stat;
use crate::parse::swaps::parse_swaps;
use crate::parse::uptime::parse_uptime;
use crate::snapshot::{ContainerId, ContainerView, Fallback, HostView, LoadView, Parts};
use crate::source::{read_text, Source};

/// Host memory.
pub const PROC_MEMINFO: &str = "/proc/meminfo";
/// Host CPU times.
pub const PROC_STAT: &str = "/proc/stat";
/// Host CPUs.
pub const PROC_CPUINFO: &str = "/proc/cpuinfo";
/// Host block devices.
pub const PROC_DISKSTATS: &str = "/proc/diskstats";
/// Host swap areas.
pub const PROC_SWAPS: &str = "/proc/swaps";
/// Host uptime.
pub const PROC_UPTIME: &str = "/proc/uptime";
/// Host load.
pub const PROC_LOADAVG: &str = "/proc/loadavg";
/// Host slab caches.
pub const PROC_SLABINFO: &str = "/proc/slabinfo";
/// Host PSI, in the order cpu, memory, io.
pub const PROC_PRESSURE: [&str; 3] = [
    "/proc/pressure/cpu",
    "/proc/pressure/memory",
    "/proc/pressure/io",
];
/// Online CPUs.
pub const SYS_CPU_ONLINE: &str = "/sys/devices/system/cpu/online";
/// Offline CPUs.
pub const SYS_CPU_OFFLINE: &str = "/sys/devices/system/cpu/offline";
/// Possible CPUs.
pub const SYS_CPU_POSSIBLE: &str = "/sys/devices/system/cpu/possible";
/// Present CPUs.
pub const SYS_CPU_PRESENT: &str = "/sys/devices/system/cpu/present";

/// Most tasks one loadavg sample looks at, so a fork bomb cannot stall the sampler.
pub const MAX_TASKS_PER_SAMPLE: usize = 100_000;

fn host_file(source: &dyn Source, path: &str) -> String {
    read_text(source, path).unwrap_or_else(|e| {
        log::debug!("host file unreadable: {e}");
        String::new()
    })
}

/// Read the host files that `parts` need.
pub fn collect_host(source: &dyn Source, parts: Parts) -> HostView {
    let mut h = HostView::default();
    if parts.contains(Parts::MEMORY) {
        h.meminfo_text = host_file(source, PROC_MEMINFO);
        h.meminfo = parse_meminfo(&h.meminfo_text);
        h.swaps_text = host_file(source, PROC_SWAPS);
        h.swaps = parse_swaps(&h.swaps_text);
    }
    if parts.contains(Parts::CPUSET) || parts.contains(Parts::CPUACCT) {
        h.stat_text = host_file(source, PROC_STAT);
        h.stat = parse_stat(&h.stat_text);
        h.cpuinfo_text = host_file(source, PROC_CPUINFO);
        h.cpuinfo = parse_cpuinfo(&h.cpuinfo_text);
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
        h.cpu_possible_text = host_file(source, SYS_CPU_POSSIBLE);
        h.cpu_present_text = host_file(source, SYS_CPU_PRESENT);
        h.cpu_offline_text = host_file(source, SYS_CPU_OFFLINE);
    }
    if parts.contains(Parts::UPTIME) {
        h.uptime = read_text(source, PROC_UPTIME)
            .ok()
            .and_then(|t| parse_uptime(&t).ok());
    }
    if parts.contains(Parts::IO) {
        h.diskstats_text = host_file(source, PROC_DISKSTATS);
        h.diskstats = parse_diskstats(&h.diskstats_text);
    }
    if parts.contains(Parts::PRESSURE) {
        for (i, p) in PROC_PRESSURE.iter().enumerate() {
            h.pressure_text[i] = host_file(source, p);
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

fn note(fb: &mut Vec<Fallback>, what: &'static str, e: &Error) {
    fb.push(Fallback {
        what,
        reason: e.to_string(),
    });
}

/// Collect the `parts` of container `id`. `host_online` are the CPUs the host has
/// online (cpusets are intersected with it). Nothing fails: what cannot be read is a
/// recorded fallback.
pub fn collect_container(
    source: &dyn Source,
    hierarchies: Option<&Hierarchies>,
    id: &ContainerId,
    parts: Parts,
    host_online: &CpuSet,
    options: &RenderOptions,
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
            match cg.memory(p, fb) {
                Ok(m) => v.memory = Some(m),
                Err(e) => note(fb, "memory cgroup (host meminfo shown)", &e),
            }
        }
    }
    if parts.contains(Parts::CPUSET) {
        if let Some(p) = container_path(&id.cpuset) {
            match cg.cpuset(p) {
                Ok(set) => {
                    let visible = set.intersection(host_online);
                    if visible.is_empty() {
                        fb.push(Fallback {
                            what: "cpuset (host CPUs shown)",
                            reason: format!("cpuset {set} has no online CPU"),
                        });
                    } else {
                        v.cpuset = Some(visible);
                    }
                }
                Err(e) => note(fb, "cpuset (host CPUs shown)", &e),
            }
        }
        if let Some(p) = container_path(&id.cpu) {
            match cg.cpu_quota(p) {
                Ok(q) => v.quota = q,
                Err(e) => note(fb, "CPU quota (none assumed)", &e),
            }
        }
    }
    if parts.contains(Parts::CPUACCT) {
        if let Some(p) = container_path(&id.cpuacct) {
            match cg.cpu_usage(p) {
                Ok(u) => v.cpu_usage = Some(u),
                Err(e) => note(fb, "CPU usage (host times shown)", &e),
            }
        }
    }
    if parts.contains(Parts::IO) {
        if let Some(p) = container_path(&id.io) {
            match cg.io(p) {
                Ok(io) => v.io = io,
                Err(e) => note(fb, "block I/O (host diskstats shown)", &e),
            }
        }
    }
    if parts.contains(Parts::PRESSURE) && h.layout == Layout::Unified {
        if let Some(p) = container_path(&id.unified) {
            for (i, slot) in v.pressure.iter_mut().enumerate() {
                match v2::pressure(&cg, p, i).map(|t| parse_pressure(&t)) {
                    Ok(Ok(lines)) => *slot = Some(lines),
                    Ok(Err(e)) => fb.push(Fallback {
                        what: "pressure (host PSI shown)",
                        reason: e.what,
                    }),
                    Err(e) => note(fb, "pressure (host PSI shown)", &e),
                }
            }
        }
    }
    if parts.contains(Parts::SLAB) {
        if let Some(p) = container_path(&id.memory) {
            if cg.version(Controller::Memory) == Some(crate::snapshot::CgroupVersion::V1) {
                v.slabinfo = v1::kmem_slabinfo(&cg, p);
            }
        }
    }
    let _ = options;
    v
}

/// The task counts of container `id` for loadavg: the threads of the processes in its
/// cpu cgroup and 3 levels of descendants (LXCFS's depth). `None` for the root cgroup or
/// when there are no cgroups. Returns the counts and the number of tasks scanned.
pub fn collect_load(
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
pub fn collect_tasks(source: &dyn Source, pids: &[u32]) -> LoadView {
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
