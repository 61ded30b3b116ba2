//! Inode numbers for the host entries mirrored below `sys/devices/system/cpu`.
//!
//! The static node table covers everything vproc renders; the rest of the host's
//! `/sys/devices/system/cpu` tree (`cpu0/`, `kernel_max`, `cpufreq/`…) is mirrored
//! read-only. The kernel keeps the inode numbers it was given for as long as it likes —
//! also across a restart of the serving process — so they are derived from the path
//! (a 62-bit hash above the static range) rather than handed out in order: a new process
//! gives every path the number the old one gave. It learns the paths of numbers it has
//! not seen by walking the mirrored tree once.

use super::{Ino, NODES};
use crate::source::{NodeKind, Source};
use std::collections::HashMap;
use std::sync::Mutex;

/// The kernel directory mirrored.
pub(crate) const SYS_CPU_PATH: &str = "/sys/devices/system/cpu";
/// Its inode in the static table.
pub(crate) const SYS_CPU: Ino = Ino(18);

const _: () = assert!(NODES[SYS_CPU.0 as usize - 1].ino.0 == SYS_CPU.0);

/// Bit set in every derived inode number (static nodes stay far below it).
const DERIVED: u64 = 1 << 62;
/// Depth of the walk that finds the path of an unknown number (`cpu0/cache/index0/x`).
const MAX_DEPTH: usize = 5;

/// The inode number of host path `path` (FNV-1a, 62 bits, with [`DERIVED`] set).
pub(crate) fn ino_of(path: &str) -> Ino {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Ino(DERIVED | (h & (DERIVED - 1)))
}

/// Host path ↔ inode number, learnt at lookup.
#[derive(Debug, Default)]
pub(crate) struct PassthroughInodes {
    by_ino: Mutex<HashMap<u64, String>>,
}

impl PassthroughInodes {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<u64, String>> {
        self.by_ino.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The inode of a host path (remembered for [`PassthroughInodes::path`]).
    pub(crate) fn ino(&self, path: &str) -> Ino {
        let ino = ino_of(path);
        self.table().entry(ino.0).or_insert_with(|| path.to_owned());
        ino
    }

    /// The host path of an inode number: remembered, or found by walking the tree.
    pub(crate) fn path(&self, ino: Ino, source: &dyn Source) -> Option<String> {
        if ino.0 & DERIVED == 0 {
            return None;
        }
        if let Some(p) = self.table().get(&ino.0) {
            return Some(p.clone());
        }
        let found = find(source, SYS_CPU_PATH, ino, MAX_DEPTH)?;
        self.table().insert(ino.0, found.clone());
        Some(found)
    }
}

fn find(source: &dyn Source, dir: &str, ino: Ino, depth: usize) -> Option<String> {
    for name in source.read_dir(dir).ok()? {
        let path = format!("{dir}/{name}");
        if ino_of(&path) == ino {
            return Some(path);
        }
        let is_dir = source
            .metadata(&path)
            .is_ok_and(|m| m.kind == NodeKind::Dir);
        if depth > 0 && is_dir {
            if let Some(p) = find(source, &path, ino, depth - 1) {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::mem::MemSource;

    #[test]
    fn numbers_are_stable_and_found_again() {
        let mut m = MemSource::new();
        m.file("/sys/devices/system/cpu/cpu1/topology/core_id", "1\n");
        let path = "/sys/devices/system/cpu/cpu1/topology/core_id";
        let first = PassthroughInodes::default();
        let ino = first.ino(path);
        assert_eq!(ino, ino_of(path));
        assert!(ino.0 > NODES.len() as u64);
        // A new process has never seen the number: it walks the tree.
        let second = PassthroughInodes::default();
        assert_eq!(second.path(ino, &m).as_deref(), Some(path));
        assert_eq!(
            second.path(Ino(5), &m),
            None,
            "static numbers are not host paths"
        );
        assert_eq!(second.path(ino_of("/nope"), &m), None);
    }
}
