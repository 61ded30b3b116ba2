//! `/proc/meminfo` of a container.
//!
//! | line | formula (kB = bytes / 1024, saturating) | v1 source | v2 source |
//! |---|---|---|---|
//! | MemTotal | `L` = min limit over the cgroup and its ancestors; host MemTotal if unlimited, 0, or above the host | `memory.limit_in_bytes` | `memory.max` |
//! | MemFree | MemTotal − usage, **floored at 0** (LXCFS wraps) | `memory.usage_in_bytes` | `memory.current` |
//! | MemAvailable | MemFree + active_file + inactive_file + slab_reclaimable, **at most MemTotal** | `memory.stat` | `memory.stat` |
//! | Buffers, SwapCached, ShmemHugePages, ShmemPmdMapped | 0 | | |
//! | Cached | cache | `total_cache` | `file` |
//! | Active / Inactive | anon + file of that list | `total_(in)active_*` | `(in)active_*` |
//! | Active(anon) … Unevictable | the counter | `total_*` | same names |
//! | Dirty, Writeback | the counter (**also on v2**, LXCFS shows 0) | `total_dirty`, `total_writeback` | `file_dirty`, `file_writeback` |
//! | AnonPages | active_anon + inactive_anon − shmem | | |
//! | Mapped | mapped files (**also on v2**) | `total_mapped_file` | `file_mapped` |
//! | Shmem | shmem | `total_shmem` | `shmem` |
//! | Slab, SReclaimable, SUnreclaim | v2 counters; 0 on v1 (no per-cgroup figure) | | `slab*` |
//! | AnonHugePages | anonymous THP (**LXCFS shows 0**) | `total_rss_huge` | `anon_thp` |
//! | SwapTotal, SwapFree | see [`swap_kb`] | memsw files | `memory.swap.*` |
//! | Zswap, Zswapped | v2 counters unless `--disable-zswap`; 0 otherwise (the host's zswap is not the container's) | | `zswap`, `zswapped` |
//! | every other line | host line unchanged, in host order | | |
//!
//! Every container-derived line is capped at MemTotal, so hostile counters cannot print
//! absurd values; MemFree ≤ MemAvailable ≤ MemTotal and SwapFree ≤ SwapTotal always hold.
//! With no memory cgroup (or the root cgroup) the host file is shown unchanged.

use super::kb_line;
use super::push_host;
use crate::config::RenderOptions;
use crate::parse::cgroup::Limit;
use crate::snapshot::{HostView, MemoryView, Snapshot};

/// MemTotal in kB.
fn mem_total_kb(m: &MemoryView, host: &HostView) -> u64 {
    let host_total = host.meminfo.get("MemTotal").unwrap_or(0);
    match m.limit {
        Limit::Value(b) if b / 1024 > 0 && b / 1024 <= host_total => b / 1024,
        _ => host_total,
    }
}

/// (SwapTotal, SwapFree) in kB.
///
/// * no swap accounting, or `-u`: (0, 0);
/// * total = min(swap-only limit, host SwapTotal) (unlimited: host SwapTotal). On v1 the
///   swap-only limit is memsw − memory limit; LXCFS 6.0 adds MemTotal back, reporting
///   RAM+swap as swap — vproc reports the swap share on v1 as on v2;
/// * `memory.swappiness` 0 (v1): total = used, "a full device" (as LXCFS);
/// * used = min(swap usage, total); free = total − used.
pub(super) fn swap_kb(m: &MemoryView, host: &HostView, options: &RenderOptions) -> (u64, u64) {
    let Some(swap) = m.swap.filter(|_| !options.disable_swap) else {
        return (0, 0);
    };
    let host_total = host.meminfo.get("SwapTotal").unwrap_or(0);
    let used_kb = swap.usage / 1024;
    let mut total = match swap.limit {
        Limit::Max => host_total,
        Limit::Value(b) => (b / 1024).min(host_total),
    };
    if swap.swappiness == Some(0) {
        total = used_kb.min(host_total);
    }
    let used = used_kb.min(total);
    (total, total - used)
}

pub(super) fn render_meminfo(snap: &Snapshot, options: &RenderOptions, out: &mut String) {
    let host = &snap.host;
    let Some(m) = &snap.container.memory else {
        push_host(out, &host.meminfo_text);
        return;
    };
    let s = &m.stat;
    let total = mem_total_kb(m, host);
    let kb = |bytes: u64| (bytes / 1024).min(total);
    let free = total.saturating_sub(m.usage / 1024);
    // LXCFS: MemFree + (active_file + inactive_file + slab_reclaimable) / 1024.
    let available = free
        .saturating_add(kb(s
            .active_file
            .saturating_add(s.inactive_file)
            .saturating_add(s.slab_reclaimable)))
        .min(total);
    let (swap_total, swap_free) = swap_kb(m, host, options);
    let zswap = |v: Option<u64>| match v {
        Some(b) if !options.disable_zswap => kb(b),
        _ => 0,
    };
    for line in &host.meminfo.lines {
        let value = match line.key.as_str() {
            "MemTotal" => total,
            "MemFree" => free,
            "MemAvailable" => available,
            "Buffers" | "SwapCached" | "ShmemHugePages" | "ShmemPmdMapped" => 0,
            "Cached" => kb(s.cache),
            "Active" => kb(s.active_anon.saturating_add(s.active_file)),
            "Inactive" => kb(s.inactive_anon.saturating_add(s.inactive_file)),
            "Active(anon)" => kb(s.active_anon),
            "Inactive(anon)" => kb(s.inactive_anon),
            "Active(file)" => kb(s.active_file),
            "Inactive(file)" => kb(s.inactive_file),
            "Unevictable" => kb(s.unevictable),
            "Dirty" => kb(s.dirty),
            "Writeback" => kb(s.writeback),
            "AnonPages" => kb(s
                .active_anon
                .saturating_add(s.inactive_anon)
                .saturating_sub(s.shmem)),
            "Mapped" => kb(s.mapped_file),
            "Shmem" => kb(s.shmem),
            "Slab" => kb(s.slab),
            "SReclaimable" => kb(s.slab_reclaimable),
            "SUnreclaim" => kb(s.slab_unreclaimable),
            "AnonHugePages" => kb(s.anon_thp),
            "SwapTotal" => swap_total,
            "SwapFree" => swap_free,
            "Zswap" => zswap(s.zswap),
            "Zswapped" => zswap(s.zswapped),
            _ => {
                out.push_str(&line.raw);
                out.push('\n');
                continue;
            }
        };
        kb_line(out, &line.key, value);
    }
}
