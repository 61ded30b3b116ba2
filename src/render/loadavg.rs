//! `/proc/loadavg` of a container (`-l/--enable-loadavg`).
//!
//! | field | formula | source |
//! |---|---|---|
//! | 1, 5, 15 min averages | the kernel's fixed-point EWMA of the R+D count every 5 s ([`crate::sampler::history`]), printed as LXCFS does: v = avenrun + FIXED_1/200, `v >> 11` `.` `((v & 2047) × 100) >> 11` | the sampler's history |
//! | running/total | tasks in state R or D / all threads, over the cgroup and 3 levels of descendants, counted at each 5 s load sample (**the first read already has them**; LXCFS shows `0/1`) | `cgroup.procs`, `/proc/<pid>/task/<tid>/stat` |
//! | last pid | largest thread id seen | |
//!
//! Only containers being read are sampled (a pass scans their tasks, at most
//! `MAX_TASKS_PER_SAMPLE` per container and `MAX_TASKS_PER_PASS` in all, cost logged at
//! debug level). A container not read for 30 s is no longer sampled; read again, it
//! catches up the missed periods with its current count. Its history is dropped when its
//! cgroup disappears, or after an hour unread.
//!
//! Without `-l`, or when the container has no cpu cgroup, the host file is shown.

use super::push_host;
use crate::config::RenderOptions;
use crate::snapshot::Snapshot;
use crate::snapshot::{FIXED_1, FSHIFT};
use std::fmt::Write;

/// One average in LXCFS's `int.frac2` format.
fn format_avg(out: &mut String, avenrun: u64) {
    let v = avenrun.saturating_add(FIXED_1 / 200);
    let _ = write!(
        out,
        "{}.{:02}",
        v >> FSHIFT,
        ((v & (FIXED_1 - 1)) * 100) >> FSHIFT
    );
}

pub(super) fn render_loadavg(snap: &Snapshot, options: &RenderOptions, out: &mut String) {
    let Some(load) = snap.container.load.filter(|_| options.enable_loadavg) else {
        push_host(out, &snap.host.loadavg_text);
        return;
    };
    for (i, a) in load.avenrun.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        format_avg(out, *a);
    }
    let _ = writeln!(out, " {}/{} {}", load.running, load.total, load.last_pid);
}
