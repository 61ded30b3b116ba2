//! `/proc/diskstats` of a container.
//!
//! One line per host device (host order, host names) on which the container did I/O;
//! devices whose counters are all 0 are omitted. Format as LXCFS 6.0: major, 7 spaces,
//! minor, name, then 15 counters.
//!
//! | column | v1 (CFQ `*_recursive` tables) | v1 (throttle tables, modern kernels; **LXCFS shows the host**) | v2 `io.stat` (**LXCFS shows the host**) |
//! |---|---|---|---|
//! | reads, writes, discards | `io_serviced` Read/Write/Discard | `throttle.io_serviced` | `rios`, `wios`, `dios` |
//! | merged | `io_merged` | 0 | 0 |
//! | sectors | `io_service_bytes` / 512 | `throttle.io_service_bytes` / 512 | `rbytes`, `wbytes`, `dbytes` / 512 |
//! | ms reading/writing/discarding | (`io_service_time` + `io_wait_time`) / 10⁶ | 0 | 0 (v2 keeps no times) |
//! | in flight, weighted ms | 0 | 0 | 0 |
//! | ms doing I/O | `io_service_time` Total / 10⁶ | 0 | 0 |
//!
//! When the kernel keeps no usable per-cgroup figures (no blkio/io files) the host file
//! is shown, as LXCFS does.

use super::push_host;
use crate::snapshot::Snapshot;
use std::fmt::Write;

pub(super) fn render_diskstats(snap: &Snapshot, out: &mut String) {
    let Some(io) = &snap.container.io else {
        push_host(out, &snap.host.diskstats_text);
        return;
    };
    for disk in &snap.host.diskstats {
        let Some(d) = io.iter().find(|d| d.dev == (disk.major, disk.minor)) else {
            continue;
        };
        let counters = [
            d.reads,
            d.reads_merged,
            d.read_bytes / 512,
            d.read_ms,
            d.writes,
            d.writes_merged,
            d.write_bytes / 512,
            d.write_ms,
            0,
            d.io_ms,
            0,
            d.discards,
            d.discards_merged,
            d.discard_bytes / 512,
            d.discard_ms,
        ];
        if counters.iter().all(|c| *c == 0) {
            continue;
        }
        let _ = write!(out, "{}       {} {}", disk.major, disk.minor, disk.name);
        for c in counters {
            let _ = write!(out, " {c}");
        }
        out.push('\n');
    }
}
