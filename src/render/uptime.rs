//! `/proc/uptime` of a container.
//!
//! | field | formula | source |
//! |---|---|---|
//! | uptime | age of the init of the reader's pid namespace = sample time (CLOCK_BOOTTIME) − its start time | `/proc/<init>/stat` field 22 |
//! | idle | **the idle total of the container's `/proc/stat` lines**: visible CPUs × age − CPU time of the container, never decreasing (LXCFS: age − busy, not scaled, and = age on v2) | v1 `cpuacct.usage_all`, v2 `cpu.stat` |
//! | no init known | the host's uptime and idle | host `/proc/uptime` |
//! | no CPU time readable (root cgroup) | idle = min(host idle, visible × age) | |
//!
//! Printed as `%.2f %.2f` (hundredths, truncated).

use super::visible_cpus;
use crate::config::RenderOptions;
use crate::snapshot::Snapshot;
use std::fmt::Write;

fn write_cs(out: &mut String, cs: u64) {
    let _ = write!(out, "{}.{:02}", cs / 100, cs % 100);
}

/// Clock ticks to hundredths of a second.
fn ticks_to_cs(ticks: u64, hz: u64) -> u64 {
    u64::try_from(u128::from(ticks) * 100 / u128::from(hz.max(1))).unwrap_or(u64::MAX)
}

pub(super) fn render_uptime(snap: &Snapshot, options: &RenderOptions, out: &mut String) {
    let host = snap.host.uptime.unwrap_or_default();
    let (age_cs, idle_cs) = match snap.anchor {
        None => (host.uptime_cs, host.idle_cs),
        Some(start) => {
            let now_cs = snap.taken.boot_ns / 10_000_000;
            let age = now_cs.saturating_sub(ticks_to_cs(start, options.clock_ticks));
            let idle = match &snap.container.cpu {
                Some(c) => ticks_to_cs(c.idle_ticks, options.clock_ticks),
                None => {
                    let n = visible_cpus(snap, options).count().max(1) as u64;
                    host.idle_cs.min(age.saturating_mul(n))
                }
            };
            (age, idle)
        }
    };
    write_cs(out, age_cs);
    out.push(' ');
    write_cs(out, idle_cs);
    out.push('\n');
}
