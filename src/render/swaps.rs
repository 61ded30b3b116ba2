//! `/proc/swaps` of a container.
//!
//! | part | formula | source |
//! |---|---|---|
//! | header | LXCFS's: `Filename\t\t\t\tType\t\tSize\tUsed\tPriority` | |
//! | one line `none … virtual` | Size = SwapTotal, Used = SwapTotal − SwapFree of meminfo ([`super::meminfo::swap_kb`]), priority 0; omitted when Size is 0 | memsw files (v1), `memory.swap.*` (v2) |
//!
//! Host swap devices are never listed (they would reveal the host's layout and sizes).
//! With no memory cgroup (or the root cgroup) the host file is shown unchanged.

use super::meminfo::swap_kb;
use super::push_host;
use crate::config::RenderOptions;
use crate::snapshot::Snapshot;
use std::fmt::Write;

/// LXCFS's header (current kernels put two tabs between the last three columns).
const HEADER: &str = "Filename\t\t\t\tType\t\tSize\tUsed\tPriority\n";

pub(super) fn render_swaps(snap: &Snapshot, options: &RenderOptions, out: &mut String) {
    let Some(m) = &snap.container.memory else {
        push_host(out, &snap.host.swaps_text);
        return;
    };
    out.push_str(HEADER);
    let (total, free) = swap_kb(m, &snap.host, options);
    if total > 0 {
        let _ = writeln!(
            out,
            "none{:36}virtual\t\t{}\t{}\t0",
            "",
            total,
            total - free
        );
    }
}
