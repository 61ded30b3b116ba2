//! `/proc/slabinfo` of a container.
//!
//! | content | source |
//! |---|---|
//! | the cgroup's slab caches, when the kernel reports any | v1 `memory.kmem.slabinfo` (empty on current kernels) |
//! | otherwise the host file, as LXCFS | host `/proc/slabinfo` |

use super::RenderCtx;
use crate::snapshot::Snapshot;

/// Render slabinfo.
pub fn render_slabinfo(snap: &Snapshot, _ctx: &RenderCtx, out: &mut String) {
    match &snap.container.slabinfo {
        Some(s) => out.push_str(s),
        None => out.push_str(&snap.host.slabinfo_text),
    }
}
