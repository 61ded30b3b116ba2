//! The virtual tree (one static node table) and the operations on it, as a `Result`
//! API that the FUSE adapter forwards and the testkit drives directly.
//!
//! Facts the table encodes:
//! * LXCFS's layout: `proc/…` and `sys/devices/system/cpu/…` below the mount point, so
//!   existing bind mounts (LXC hooks, Incus, Kubernetes) work unchanged.
//! * Everything is read-only; directories are 0555 (the root 0755), files 0444.
//! * File sizes are not known before rendering, so attributes report size 0 and every
//!   file is opened `direct_io` (the kernel then reads until EOF instead of trusting
//!   `st_size`), with zero attribute TTL.

pub mod handle;

use crate::error::{Error, Result};
use crate::render::{render, RenderCtx, VirtualFile};
use crate::sampler::Engine;
use handle::HandleTable;
use std::sync::Arc;

/// Inode number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ino(pub u64);

/// The root directory's inode (FUSE's `FUSE_ROOT_ID`).
pub const ROOT: Ino = Ino(1);

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A directory.
    Dir,
    /// A rendered file.
    File(VirtualFile),
}

/// One node of the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// Inode number (index in [`NODES`] + 1).
    pub ino: Ino,
    /// Parent directory.
    pub parent: Ino,
    /// Name in the parent.
    pub name: &'static str,
    /// Directory or file.
    pub kind: NodeKind,
    /// Permission bits.
    pub mode: u16,
}

const fn dir(ino: u64, parent: u64, name: &'static str, mode: u16) -> Node {
    Node {
        ino: Ino(ino),
        parent: Ino(parent),
        name,
        kind: NodeKind::Dir,
        mode,
    }
}

const fn file(ino: u64, parent: u64, name: &'static str, f: VirtualFile) -> Node {
    Node {
        ino: Ino(ino),
        parent: Ino(parent),
        name,
        kind: NodeKind::File(f),
        mode: 0o444,
    }
}

/// The whole tree. Order within a directory is readdir order (LXCFS's for `proc`).
pub static NODES: &[Node] = &[
    dir(1, 1, "", 0o755),
    dir(2, 1, "proc", 0o555),
    dir(3, 1, "sys", 0o555),
    file(4, 2, "cpuinfo", VirtualFile::Cpuinfo),
    file(5, 2, "meminfo", VirtualFile::Meminfo),
    file(6, 2, "stat", VirtualFile::Stat),
    file(7, 2, "uptime", VirtualFile::Uptime),
    file(8, 2, "diskstats", VirtualFile::Diskstats),
    file(9, 2, "swaps", VirtualFile::Swaps),
    file(10, 2, "loadavg", VirtualFile::Loadavg),
    file(11, 2, "slabinfo", VirtualFile::Slabinfo),
    dir(12, 2, "pressure", 0o555),
    file(13, 12, "io", VirtualFile::PressureIo),
    file(14, 12, "cpu", VirtualFile::PressureCpu),
    file(15, 12, "memory", VirtualFile::PressureMemory),
    dir(16, 3, "devices", 0o555),
    dir(17, 16, "system", 0o555),
    dir(18, 17, "cpu", 0o555),
    file(19, 18, "online", VirtualFile::CpuOnline),
    file(20, 18, "offline", VirtualFile::CpuOffline),
    file(21, 18, "possible", VirtualFile::CpuPossible),
    file(22, 18, "present", VirtualFile::CpuPresent),
];

const _: () = {
    // ino = index + 1, so lookups by inode are an index.
    let mut i = 0;
    while i < NODES.len() {
        assert!(NODES[i].ino.0 == i as u64 + 1);
        i += 1;
    }
};

/// The node of `ino`.
pub fn node(ino: Ino) -> Result<&'static Node> {
    usize::try_from(ino.0)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| NODES.get(i))
        .ok_or(Error::NotFound)
}

/// The node of a path below the mount point (`proc/meminfo`).
pub fn resolve(path: &str) -> Result<&'static Node> {
    let mut cur = node(ROOT)?;
    for name in path.split('/').filter(|s| !s.is_empty()) {
        cur = lookup(cur.ino, name)?;
    }
    Ok(cur)
}

/// `name` in directory `parent`.
pub fn lookup(parent: Ino, name: &str) -> Result<&'static Node> {
    let p = node(parent)?;
    if p.kind != NodeKind::Dir {
        return Err(Error::NotDir);
    }
    NODES
        .iter()
        .find(|n| n.parent == parent && n.name == name && n.ino != ROOT)
        .ok_or(Error::NotFound)
}

/// The children of a directory, in readdir order (without `.` and `..`).
pub fn children(dir: Ino) -> Result<impl Iterator<Item = &'static Node>> {
    if node(dir)?.kind != NodeKind::Dir {
        return Err(Error::NotDir);
    }
    Ok(NODES
        .iter()
        .filter(move |n| n.parent == dir && n.ino != ROOT))
}

/// The operations of the filesystem over an [`Engine`].
pub struct Vfs {
    engine: Arc<Engine>,
    handles: HandleTable,
}

impl Vfs {
    /// A filesystem serving `engine`'s snapshots.
    pub fn new(engine: Arc<Engine>) -> Self {
        Vfs {
            engine,
            handles: HandleTable::default(),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Render `file` as reader `pid` sees it now.
    pub fn render_for(&self, file: VirtualFile, pid: u32) -> String {
        let reader = self.engine.reader(pid);
        let snap = self.engine.snapshot(&reader.container, file.parts());
        let ctx = RenderCtx {
            options: self.engine.config().render,
            init_start_ticks: reader.init_start_ticks,
        };
        let mut out = String::with_capacity(4096);
        render(file, &snap, &ctx, &mut out);
        out
    }

    /// Open `ino` for reader `pid`: render once, keep the bytes, return the handle.
    pub fn open(&self, ino: Ino, pid: u32) -> Result<u64> {
        match node(ino)?.kind {
            NodeKind::Dir => Err(Error::IsDir),
            NodeKind::File(f) => self
                .handles
                .insert(self.render_for(f, pid).into_bytes().into_boxed_slice()),
        }
    }

    /// Up to `size` bytes at `offset` of the open file `fh` (empty at or past the end).
    pub fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let f = self.handles.get(fh)?;
        let len = f.bytes.len() as u64;
        if offset > len {
            return Ok(Vec::new());
        }
        let start = offset as usize;
        let end = start.saturating_add(size as usize).min(f.bytes.len());
        Ok(f.bytes[start..end].to_vec())
    }

    /// Close `fh`.
    pub fn release(&self, fh: u64) -> Result<()> {
        self.handles.remove(fh)
    }

    /// Writes are refused: the filesystem is read-only (LXCFS answers EINVAL).
    pub fn write(&self, _fh: u64) -> Result<()> {
        Err(Error::InvalidWrite)
    }
}
