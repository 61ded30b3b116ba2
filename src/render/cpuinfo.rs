//! `/proc/cpuinfo` of a container.
//!
//! | part | formula | source |
//! |---|---|---|
//! | CPU blocks | the blocks of the visible CPUs ([`super::visible_cpus`]), renumbered from 0 (as LXCFS; tools count the blocks, and the CPU numbers programs pin to are those of `online` and the `cpuN` directories) | host `/proc/cpuinfo`; `cpuset.cpus` (v1/v2); `cpu.cfs_quota_us` / `cpu.max` with `--enable-cfs` |
//! | `siblings`, `cpu cores` | **the visible count** (LXCFS leaves the host's) | |
//! | text before the first block | dropped (as LXCFS) | |
//! | trailer after the last block (ppc64le `timebase`…`MMU`) | **always kept** (LXCFS keeps it only when the last host CPU is visible) | |
//! | s390x | `vendor_id` and `# processors : <visible>` first, machine-wide lines kept, `processor N:` lines and `cpu number` blocks filtered and renumbered (**LXCFS keeps all `cpu number` blocks**) | |
//!
//! With no cpuset (or the root cgroup) and no CPU view the host file is shown unchanged.

use super::push_host;
use super::visible_cpus;
use crate::config::RenderOptions;
use crate::parse::cpuinfo::CpuInfoItem;
use crate::snapshot::Snapshot;
use std::fmt::Write;

/// `siblings\t: 4` → `siblings\t: <n>`; other lines unchanged.
fn write_block_line(out: &mut String, line: &str, count: usize) {
    if let Some((key, _)) = line.split_once(':') {
        if matches!(key.trim(), "siblings" | "cpu cores") {
            let _ = writeln!(out, "{key}: {count}");
            return;
        }
    }
    out.push_str(line);
    out.push('\n');
}

pub(super) fn render_cpuinfo(snap: &Snapshot, options: &RenderOptions, out: &mut String) {
    let visible = visible_cpus(snap, options);
    let files = &snap.host.cpu_files;
    let info = &files.cpuinfo;
    if visible.host || info.block_count() == 0 {
        push_host(out, &files.cpuinfo_text);
        return;
    }
    let count = visible.count();
    let last_block = info
        .items
        .iter()
        .rposition(|i| matches!(i, CpuInfoItem::Block { .. }));
    let first_block = info
        .items
        .iter()
        .position(|i| matches!(i, CpuInfoItem::Block { .. }));
    if info.s390 {
        let _ = writeln!(out, "vendor_id       : IBM/S390");
        let _ = writeln!(out, "# processors    : {count}");
    }
    let (mut next_block, mut next_summary) = (0usize, 0usize);
    for (i, item) in info.items.iter().enumerate() {
        match item {
            CpuInfoItem::Block {
                number,
                head,
                lines,
            } => {
                if visible.physical.contains(*number) {
                    let _ = writeln!(out, "{head}{next_block}");
                    next_block += 1;
                    for l in lines {
                        write_block_line(out, l, count);
                    }
                }
            }
            CpuInfoItem::S390Processor { number, rest } => {
                if visible.physical.contains(*number) {
                    let _ = writeln!(out, "processor {next_summary}{rest}");
                    next_summary += 1;
                }
            }
            CpuInfoItem::Line(l) => {
                let keep = if info.s390 {
                    let key = l.split(':').next().unwrap_or("").trim();
                    key != "vendor_id" && key != "# processors"
                } else {
                    // Only the trailer after the last block is machine-wide.
                    last_block.is_some_and(|lb| i > lb) && first_block.is_some()
                };
                if keep {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
    }
    if info.s390 && out.ends_with("\n\n") {
        // The kernel separates s390 blocks with a blank line before each one, so a
        // hidden last block must not leave a blank line at the end.
        out.pop();
    }
}
