//! `/proc/stat` of a container.
//!
//! | line | formula (ticks = ns × USER_HZ / 10⁹) | v1 source | v2 source |
//! |---|---|---|---|
//! | `cpuN` (one per visible CPU) | user, 0, system, idle, 0 … 0 | per-CPU user/system from `cpuacct.usage_all` (else `cpuacct.usage_percpu` as user, **never counted twice**) | **`cpu.stat` `user_usec` / `system_usec` spread evenly over the visible CPUs** (remainder on the lowest), an admitted approximation: v2 keeps no per-CPU figures (LXCFS shows host times) |
//! | idle of `cpuN` | host total ticks of that CPU − (user + system), floored at 0 (i.e. visible CPUs × elapsed − busy) | host `/proc/stat` | host `/proc/stat` |
//! | `cpu` aggregate | the column sums of the `cpuN` lines shown (`cpu` + two spaces) | | |
//! | N | the physical CPU number (as LXCFS); 0..n with `--enable-cfs` | | |
//! | CPU view (`--enable-cfs`) | CPUs beyond the quota fold their user/system into the last visible line (stateless; the history-based view is a later issue) | | |
//! | no usage readable | the host lines of the visible CPUs, renamed | | |
//! | `intr`, `ctxt`, `btime`, `processes`, `procs_*`, `softirq` | host lines unchanged (`btime` must stay the host's: `ps` derives start times from it) | | |
//!
//! With no cpuset, no usage (root cgroup) and no CPU view the host's lines are shown
//! (the aggregate recomputed from the per-CPU lines, so they always add up).

use super::{ns_to_ticks, visible_cpus, RenderCtx};
use crate::parse::stat::CpuTimes;
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
    let usage = snap.container.cpu_usage.as_ref();
    let host = &snap.host;
    let hz = ctx.options.clock_ticks;
    let cpus: Vec<u32> = visible.physical.iter().collect();
    let n = cpus.len() as u64;
    // (user, system) ticks per visible CPU, in display order.
    let busy: Option<Vec<(u64, u64)>> = usage.map(|u| match &u.per_cpu {
        Some(per_cpu) => {
            let ticks = |cpu: u32| {
                per_cpu
                    .iter()
                    .find(|(c, _, _)| *c == cpu)
                    .map_or((0, 0), |(_, us, sy)| {
                        (ns_to_ticks(*us, hz), ns_to_ticks(*sy, hz))
                    })
            };
            let mut v: Vec<(u64, u64)> = cpus.iter().map(|&c| ticks(c)).collect();
            // CPUs of the cpuset hidden by the CPU view fold into the last visible one.
            let hidden = snap
                .container
                .cpuset
                .as_ref()
                .map(|s| s.difference(&visible.physical))
                .unwrap_or_default();
            if let Some(last) = v.last_mut() {
                for c in hidden.iter() {
                    let (u, s) = ticks(c);
                    last.0 = last.0.saturating_add(u);
                    last.1 = last.1.saturating_add(s);
                }
            }
            v
        }
        None => {
            let (u, s) = (ns_to_ticks(u.user_ns, hz), ns_to_ticks(u.system_ns, hz));
            (0..n)
                .map(|i| {
                    let share = |x: u64| x / n.max(1) + u64::from(i < x % n.max(1));
                    (share(u), share(s))
                })
                .collect()
        }
    });
    let mut lines = Vec::with_capacity(cpus.len());
    for (i, &p) in cpus.iter().enumerate() {
        let host_times = host.stat.cpu(p).copied().unwrap_or_default();
        let t = match &busy {
            Some(b) => {
                let (u, s) = b[i];
                let mut t = CpuTimes::default();
                t.0[CpuTimes::USER] = u;
                t.0[CpuTimes::SYSTEM] = s;
                t.0[CpuTimes::IDLE] = host_times.total().saturating_sub(u.saturating_add(s));
                t
            }
            None => host_times,
        };
        lines.push((visible.shown(i, p), t));
    }
    let mut total = CpuTimes::default();
    for (_, t) in &lines {
        for (a, v) in total.0.iter_mut().zip(t.0) {
            *a = a.saturating_add(v);
        }
    }
    write_cpu_line(out, "cpu ", &total);
    for (k, t) in &lines {
        write_cpu_line(out, &format!("cpu{k}"), t);
    }
    for other in host.stat.others() {
        out.push_str(other);
        out.push('\n');
    }
}
