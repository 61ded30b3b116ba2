//! `/proc/slabinfo` of a container.
//!
//! | content | source |
//! |---|---|
//! | the cgroup's slab caches, when the kernel reports any | v1 `memory.kmem.slabinfo` (empty on current kernels) |
//! | otherwise the host file, as LXCFS | host `/proc/slabinfo` |

use super::push_host;
use crate::snapshot::Snapshot;

pub(super) fn render_slabinfo(snap: &Snapshot, out: &mut String) {
    match &snap.container.slabinfo {
        Some(s) => push_host(out, s),
        None => push_host(out, &snap.host.slabinfo_text),
    }
}
