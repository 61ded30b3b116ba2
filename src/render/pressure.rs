//! `/proc/pressure/{cpu,memory,io}` of a container.
//!
//! | file | v2 source | v1 / hybrid |
//! |---|---|---|
//! | cpu | `cpu.pressure` | host `/proc/pressure/cpu` |
//! | memory | `memory.pressure` | host |
//! | io | **`io.pressure`** (LXCFS 7.0 always shows the host) | host |
//!
//! Lines are re-printed in the kernel's format
//! (`some avg10=%.2f avg60=%.2f avg300=%.2f total=%llu`) from parsed values, so a
//! malformed cgroup file falls back to the host file instead of being passed through.

use super::push_host;
use crate::parse::pressure::PressureKind;
use crate::snapshot::Snapshot;
use std::fmt::Write;

pub(super) fn render_pressure(snap: &Snapshot, kind: PressureKind, out: &mut String) {
    let Some(lines) = snap.container.pressure.get(kind) else {
        push_host(out, snap.host.pressure_text.get(kind));
        return;
    };
    for l in lines {
        let kind = if l.full { "full" } else { "some" };
        let _ = write!(out, "{kind}");
        for (name, v) in ["avg10", "avg60", "avg300"].iter().zip(l.avg) {
            let _ = write!(out, " {name}={}.{:02}", v / 100, v % 100);
        }
        let _ = writeln!(out, " total={}", l.total_us);
    }
}
