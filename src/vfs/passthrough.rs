//! Inode numbers for the host entries mirrored below `sys/devices/system/cpu`.
//!
//! The static node table covers everything vproc renders; the rest of the host's
//! `/sys/devices/system/cpu` tree (`cpu0/`, `kernel_max`, `cpufreq/`…) is mirrored
//! read-only, and each host path gets an inode number on its first lookup. The set of
//! such paths is small and fixed per host, so numbers are never recycled. Interning takes
//! a mutex, but only on lookups of these host entries: the rendered `/proc` files and
//! every read never touch it.

use super::{Ino, NODES};
use std::collections::HashMap;
use std::sync::Mutex;

/// The kernel directory mirrored.
pub const SYS_CPU_PATH: &str = "/sys/devices/system/cpu";
/// Its inode in the static table.
pub const SYS_CPU: Ino = Ino(18);

const _: () = assert!(NODES[SYS_CPU.0 as usize - 1].ino.0 == SYS_CPU.0);

/// Host path ↔ inode number.
#[derive(Debug, Default)]
pub struct PassthroughInodes {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    by_path: HashMap<String, u64>,
    by_ino: HashMap<u64, String>,
}

/// First dynamic inode number (static nodes stay far below it).
const FIRST: u64 = 1 << 20;

impl PassthroughInodes {
    /// The inode of a host path, assigned on first use.
    pub fn ino(&self, path: &str) -> Ino {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = t.by_path.get(path) {
            return Ino(*i);
        }
        let i = FIRST + t.by_path.len() as u64;
        t.by_path.insert(path.to_owned(), i);
        t.by_ino.insert(i, path.to_owned());
        Ino(i)
    }

    /// The host path of an inode, if it was assigned.
    pub fn path(&self, ino: Ino) -> Option<String> {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.by_ino.get(&ino.0).cloned()
    }
}
