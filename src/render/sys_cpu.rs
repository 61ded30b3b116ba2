//! `/sys/devices/system/cpu/{online,offline,possible,present}` of a container.
//!
//! | file | content |
//! |---|---|
//! | online | the visible CPUs ([`super::visible_cpus`]) by host number: the cpuset, or its first ⌈quota⌉ CPUs with `--enable-cfs` |
//! | present | **the visible CPUs too** (`lscpu` counts `CPU(s):` from `present`; LXCFS shows the host's) |
//! | offline | **possible − online** (LXCFS shows the host's, #731) |
//! | possible | the host's (from `online` when unreadable): programs size per-CPU arrays by it |
//!
//! The `cpuN` directories listed beside these files are those of `online` (see `vfs`).

use super::visible_cpus;
use crate::config::RenderOptions;
use crate::parse::cpuset::{parse_cpuset, CpuSet};
use crate::snapshot::Snapshot;
use std::fmt::Write;

fn host_list_or_online(text: &str, snap: &Snapshot) -> CpuSet {
    parse_cpuset(text)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| snap.host.cpu_online.clone())
}

pub(super) fn render_online(snap: &Snapshot, options: &RenderOptions, out: &mut String) {
    let _ = writeln!(out, "{}", visible_cpus(snap, options).physical);
}

pub(super) fn render_offline(snap: &Snapshot, options: &RenderOptions, out: &mut String) {
    let possible = host_list_or_online(&snap.host.cpu_files.cpu_possible_text, snap);
    let _ = writeln!(
        out,
        "{}",
        possible.difference(&visible_cpus(snap, options).physical)
    );
}

pub(super) fn render_possible(snap: &Snapshot, out: &mut String) {
    let _ = writeln!(
        out,
        "{}",
        host_list_or_online(&snap.host.cpu_files.cpu_possible_text, snap)
    );
}

pub(super) fn render_present(snap: &Snapshot, options: &RenderOptions, out: &mut String) {
    let visible = visible_cpus(snap, options);
    if visible.host {
        let _ = writeln!(
            out,
            "{}",
            host_list_or_online(&snap.host.cpu_files.cpu_present_text, snap)
        );
    } else {
        let _ = writeln!(out, "{}", visible.physical);
    }
}
