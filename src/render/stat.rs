//! `/proc/stat` of a container.
//!
//! | line | formula (ticks = ns × USER_HZ / 10⁹) | v1 source | v2 source |
//! |---|---|---|---|
//! | `cpuN` (one per visible CPU, N its host number) | user, 0, system, idle, 0 … 0 | per-CPU user/system from `cpuacct.usage_all` (else `cpuacct.usage_percpu` as user, **never counted twice**) | **`cpu.stat` `user_usec` / `system_usec` spread evenly over the visible CPUs** (remainder on the lowest), an admitted approximation: v2 keeps no per-CPU figures (LXCFS shows host times) |
//! | idle of `cpuN` | the lines count from the start of the reader's namespace init: together they hold n × uptime, busy the cgroup's CPU time, **idle the rest**, so over any interval they grow by n × elapsed and an unused quota is idle; equal to `/proc/uptime`'s idle (rules in `sampler::history`) | clock, `cpuacct.usage_all` | clock, `cpu.stat` |
//! | over time | **no counter ever decreases**; the first read is the cumulative view (**never all zeros**, unlike LXCFS's CPU view) | | |
//! | `cpu` aggregate | the column sums of the `cpuN` lines shown (`cpu` + two spaces) | | |
//! | CPU view (`--enable-cfs`) | only the first ⌈quota⌉ CPUs, **keeping their host numbers** (LXCFS renumbers from 0); the time of the others moves onto visible CPUs with room | | |
//! | no usage readable | the host lines of the visible CPUs | | |
//! | `procs_running`, `procs_blocked` | with `-l`: the container's tasks in state R / D (at the last load sample); else the host's | | |
//! | `intr`, `ctxt`, `btime`, `processes`, `softirq` | host lines unchanged (`btime` must stay the host's: `ps` derives start times from it) | | |
//!
//! With no cpuset, no usage (root cgroup) and no CPU view the host's lines are shown
//! (the aggregate recomputed from the per-CPU lines, so they always add up).

use super::visible_cpus;
use crate::config::RenderOptions;
use crate::parse::stat::CpuTimes;
use crate::snapshot::Snapshot;
use std::fmt::Write;

fn write_cpu_line(out: &mut String, name: &str, cpu: Option<u32>, t: &CpuTimes) {
    out.push_str(name);
    if let Some(n) = cpu {
        let _ = write!(out, "{n}");
    }
    for v in t.0 {
        let _ = write!(out, " {v}");
    }
    out.push('\n');
}

pub(super) fn render_stat(snap: &Snapshot, options: &RenderOptions, out: &mut String) {
    let visible = visible_cpus(snap, options);
    let host = &snap.host;
    let lines: Vec<CpuTimes> = match &snap.container.cpu {
        Some(c) if c.lines.len() == visible.count() => c.lines.clone(),
        _ => visible
            .physical
            .iter()
            .map(|p| host.stat.cpu(p).copied().unwrap_or_default())
            .collect(),
    };
    let mut total = CpuTimes::default();
    for t in &lines {
        for (a, v) in total.0.iter_mut().zip(t.0) {
            *a = a.saturating_add(v);
        }
    }
    write_cpu_line(out, "cpu ", None, &total);
    for (p, t) in visible.physical.iter().zip(&lines) {
        write_cpu_line(out, "cpu", Some(p), t);
    }
    let load = snap.container.load.filter(|_| options.enable_loadavg);
    for other in host.stat.others() {
        match (other.split_whitespace().next(), load) {
            (Some("procs_running"), Some(l)) => {
                let _ = writeln!(out, "procs_running {}", l.running.saturating_sub(l.blocked));
            }
            (Some("procs_blocked"), Some(l)) => {
                let _ = writeln!(out, "procs_blocked {}", l.blocked);
            }
            _ => {
                out.push_str(other);
                out.push('\n');
            }
        }
    }
}
