//! `/proc/stat` of a container.
//!
//! | line | formula (ticks = ns × USER_HZ / 10⁹) | v1 source | v2 source |
//! |---|---|---|---|
//! | `cpuN` (one per visible CPU) | user, 0, system, idle, 0 … 0 | per-CPU user/system from `cpuacct.usage_all` (else `cpuacct.usage_percpu` as user, **never counted twice**) | **`cpu.stat` `user_usec` / `system_usec` spread evenly over the visible CPUs** (remainder on the lowest), an admitted approximation: v2 keeps no per-CPU figures (LXCFS shows host times) |
//! | idle of `cpuN` | host total ticks of that CPU × share − (user + system), floored at 0 (i.e. visible CPUs × elapsed − busy; share < 1 only for a fractional quota in the CPU view) | host `/proc/stat` | host `/proc/stat` |
//! | over time | the sampler's history adds each interval's growth, so **no counter ever decreases**, idle included; the first read is the cumulative view (**never all zeros**, unlike LXCFS's CPU view) | | |
//! | `cpu` aggregate | the column sums of the `cpuN` lines shown (`cpu` + two spaces) | | |
//! | N | the physical CPU number (as LXCFS); 0..n with `--enable-cfs` | | |
//! | CPU view (`--enable-cfs`) | CPUs beyond the quota: on the first read their time folds into the last visible line; afterwards each interval's growth moves onto visible CPUs with room left (LXCFS's surplus redistribution) | | |
//! | no usage readable | the host lines of the visible CPUs, renamed | | |
//! | `procs_running`, `procs_blocked` | with `-l`: the container's tasks in state R / D (at the last load sample); else the host's | | |
//! | `intr`, `ctxt`, `btime`, `processes`, `softirq` | host lines unchanged (`btime` must stay the host's: `ps` derives start times from it) | | |
//!
//! With no cpuset, no usage (root cgroup) and no CPU view the host's lines are shown
//! (the aggregate recomputed from the per-CPU lines, so they always add up).

use super::{visible_cpus, RenderCtx};
use crate::parse::stat::CpuTimes;
use crate::snapshot::cpu::stateless_cpu_lines;
use crate::snapshot::Snapshot;
use std::fmt::Write;

fn write_cpu_line(out: &mut String, name: &str, t: &CpuTimes) {
    let _ = write!(out, "{name}");
    for v in t.0 {
        let _ = write!(out, " {v}");
    }
    out.push('\n');
}

/// Render stat.
pub fn render_stat(snap: &Snapshot, ctx: &RenderCtx, out: &mut String) {
    let visible = visible_cpus(snap, &ctx.options);
    let host = &snap.host;
    let lines = match &snap.container.cpu_lines {
        Some(l) if l.len() == visible.count() => l.clone(),
        _ => stateless_cpu_lines(&snap.container, host, &ctx.options),
    };
    let mut total = CpuTimes::default();
    for t in &lines {
        for (a, v) in total.0.iter_mut().zip(t.0) {
            *a = a.saturating_add(v);
        }
    }
    write_cpu_line(out, "cpu ", &total);
    for (i, (p, t)) in visible.physical.iter().zip(&lines).enumerate() {
        write_cpu_line(out, &format!("cpu{}", visible.shown(i, p)), t);
    }
    let load = snap.container.load.filter(|_| ctx.options.enable_loadavg);
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
