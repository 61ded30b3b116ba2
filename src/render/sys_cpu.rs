//! `/sys/devices/system/cpu/{online,offline,possible,present}` of a container.
//!
//! | file | content |
//! |---|---|
//! | online | the visible CPUs ([`super::visible_cpus`]): the cpuset list, or `0-(n-1)` with `--enable-cfs` |
//! | offline | **possible − online** in the same numbering (LXCFS shows the host's, #731) |
//! | possible, present | the host's (from `online` when unreadable) |

use super::{visible_cpus, RenderCtx};
use crate::parse::cpuset::{parse_cpuset, CpuSet};
use crate::snapshot::Snapshot;
use std::fmt::Write;

fn shown_online(snap: &Snapshot, ctx: &RenderCtx) -> CpuSet {
    let v = visible_cpus(snap, &ctx.options);
    if v.renumbered {
        CpuSet::first_n(u32::try_from(v.count()).unwrap_or(u32::MAX))
    } else {
        v.physical
    }
}

fn host_list_or_online(text: &str, snap: &Snapshot, out: &mut String) {
    match parse_cpuset(text) {
        Ok(set) if !set.is_empty() => {
            let _ = writeln!(out, "{set}");
        }
        _ => {
            let _ = writeln!(out, "{}", snap.host.cpu_online);
        }
    }
}

/// Render online.
pub fn render_online(snap: &Snapshot, ctx: &RenderCtx, out: &mut String) {
    let _ = writeln!(out, "{}", shown_online(snap, ctx));
}

/// Render offline.
pub fn render_offline(snap: &Snapshot, ctx: &RenderCtx, out: &mut String) {
    let possible = parse_cpuset(&snap.host.cpu_possible_text)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| snap.host.cpu_online.clone());
    let _ = writeln!(out, "{}", possible.difference(&shown_online(snap, ctx)));
}

/// Render possible.
pub fn render_possible(snap: &Snapshot, out: &mut String) {
    host_list_or_online(&snap.host.cpu_possible_text, snap, out);
}

/// Render present.
pub fn render_present(snap: &Snapshot, out: &mut String) {
    host_list_or_online(&snap.host.cpu_present_text, snap, out);
}
