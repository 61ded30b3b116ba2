//! `/proc/uptime` of a container.
//!
//! | field | formula | source |
//! |---|---|---|
//! | uptime | age of the init of the reader's pid namespace = sample time (CLOCK_BOOTTIME) − its start time | `/proc/<init>/stat` field 22 |
//! | idle | **visible CPUs × age − CPU time of the container, clamped to [0, visible × age]** (LXCFS: age − busy, not scaled, and = age on v2) | v1 `cpuacct.usage`, v2 `cpu.stat usage_usec` |
//! | no init known | the host's uptime and idle | host `/proc/uptime` |
//! | no CPU time readable (root cgroup) | idle = min(host idle, visible × age) | |
//!
//! Printed as `%.2f %.2f` (hundredths, truncated).

use super::{visible_cpus, RenderCtx};
use crate::snapshot::Snapshot;
use std::fmt::Write;

fn write_cs(out: &mut String, cs: u64) {
    let _ = write!(out, "{}.{:02}", cs / 100, cs % 100);
}

/// Render uptime.
pub fn render_uptime(snap: &Snapshot, ctx: &RenderCtx, out: &mut String) {
    let host = snap.host.uptime.unwrap_or_default();
    let hz = ctx.options.clock_ticks.max(1);
    let (age_cs, idle_cs) = match ctx.init_start_ticks {
        None => (host.uptime_cs, host.idle_cs),
        Some(start) => {
            let now_cs = snap.taken.boot_ns / 10_000_000;
            let start_cs =
                u64::try_from(u128::from(start) * 100 / u128::from(hz)).unwrap_or(u64::MAX);
            let age = now_cs.saturating_sub(start_cs);
            let n = visible_cpus(snap, &ctx.options).count().max(1) as u64;
            let capacity = age.saturating_mul(n);
            let idle = match &snap.container.cpu_usage {
                Some(u) => capacity.saturating_sub(u.total_ns / 10_000_000),
                None => host.idle_cs.min(capacity),
            };
            (age, idle)
        }
    };
    write_cs(out, age_cs);
    out.push(' ');
    write_cs(out, idle_cs);
    out.push('\n');
}
