//! The virtual tree (one static node table) and the operations on it, as a `Result`
//! API that the FUSE adapter forwards and the testkit drives directly.
//!
//! Facts the table encodes:
//! * LXCFS's layout: `proc/…` and `sys/devices/system/cpu/…` below the mount point, so
//!   existing bind mounts (LXC hooks, Incus, Kubernetes) work unchanged.
//! * Everything is read-only; directories are 0555 (the root 0755), files 0444.
//! * File sizes are not known before rendering, so attributes report size 0 and every
//!   file is opened `direct_io` (the kernel then reads until EOF instead of trusting
//!   `st_size`).
//! * `sys/devices/system/cpu` is LXCFS's passthrough mode: the host directory, read-only,
//!   with `online`, `offline`, `possible` and `present` rendered for the reader; other
//!   host entries get inode numbers on first lookup ([`passthrough`]).
//! * Errors follow LXCFS (spec §2.5): writes to `/proc` files and to `online` → EINVAL,
//!   to other `/sys` files → EACCES; mkdir, rmdir, chmod, chown, truncate of `/proc` →
//!   EPERM (truncate under `/sys` is a no-op); create, unlink, rename, link, symlink,
//!   mknod → ENOSYS; xattrs → EOPNOTSUPP.

pub mod handle;
pub mod passthrough;

use crate::error::{Error, Result};
use crate::render::{render, RenderCtx, VirtualFile};
use crate::sampler::Engine;
use crate::source::{read_text, NodeKind as HostKind};
use handle::HandleTable;
use passthrough::{PassthroughInodes, SYS_CPU};
use std::sync::atomic::{AtomicBool, Ordering};
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

/// A node as the kernel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Directory.
    Dir,
    /// Regular file.
    File,
    /// Symbolic link.
    Symlink,
}

/// Attributes of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr {
    /// Inode number.
    pub ino: Ino,
    /// Kind.
    pub kind: Kind,
    /// Permission bits (never writable).
    pub mode: u16,
}

/// What an inode stands for.
#[derive(Clone, Debug)]
enum Target {
    Static(&'static Node),
    /// A host path below `/sys/devices/system/cpu`.
    Host(String),
}

/// The operations of the filesystem over an [`Engine`].
pub struct Vfs {
    engine: Arc<Engine>,
    handles: HandleTable,
    passthrough: PassthroughInodes,
    /// SIGUSR2 toggles this (LXCFS's "functional" flag): off, `/proc` files show the
    /// host's and `/sys` answers EIO.
    virtualize: AtomicBool,
}

fn static_attr(n: &Node) -> Attr {
    Attr {
        ino: n.ino,
        kind: match n.kind {
            NodeKind::Dir => Kind::Dir,
            NodeKind::File(_) => Kind::File,
        },
        mode: n.mode,
    }
}

/// True for the static nodes below `sys/`.
fn under_sys(n: &Node) -> bool {
    let mut cur = n;
    loop {
        if cur.ino == ROOT {
            return false;
        }
        if cur.parent == ROOT {
            return cur.name == "sys";
        }
        match node(cur.parent) {
            Ok(p) => cur = p,
            Err(_) => return false,
        }
    }
}

impl Vfs {
    /// A filesystem serving `engine`'s snapshots.
    pub fn new(engine: Arc<Engine>) -> Self {
        Vfs {
            engine,
            handles: HandleTable::default(),
            passthrough: PassthroughInodes::default(),
            virtualize: AtomicBool::new(true),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Turn virtualisation off (host files) or on again; returns the new state.
    pub fn toggle_virtualization(&self) -> bool {
        !self.virtualize.fetch_xor(true, Ordering::AcqRel)
    }

    /// Whether files are virtualised (true unless toggled off).
    pub fn virtualizing(&self) -> bool {
        self.virtualize.load(Ordering::Acquire)
    }

    fn target(&self, ino: Ino) -> Result<Target> {
        if let Ok(n) = node(ino) {
            return Ok(Target::Static(n));
        }
        self.passthrough
            .path(ino)
            .map(Target::Host)
            .ok_or(Error::NotFound)
    }

    fn host_attr(&self, path: &str) -> Result<Attr> {
        let meta = self
            .engine
            .source()
            .metadata(path)
            .map_err(|e| Error::io(path, e))?;
        let kind = match meta.kind {
            HostKind::Dir => Kind::Dir,
            HostKind::File => Kind::File,
            HostKind::Symlink => Kind::Symlink,
        };
        Ok(Attr {
            ino: self.passthrough.ino(path),
            kind,
            // Read-only mirror: no write bits, whatever the host says.
            mode: (meta.mode & 0o555) as u16,
        })
    }

    fn check_sys_available(&self) -> Result<()> {
        if self.virtualizing() {
            Ok(())
        } else {
            Err(Error::Unavailable)
        }
    }

    /// Attributes of `ino`.
    pub fn getattr(&self, ino: Ino) -> Result<Attr> {
        match self.target(ino)? {
            Target::Static(n) => Ok(static_attr(n)),
            Target::Host(path) => self.host_attr(&path),
        }
    }

    /// `name` in directory `parent`.
    pub fn lookup(&self, parent: Ino, name: &str) -> Result<Attr> {
        if name.contains('/') || name == "." || name == ".." {
            return Err(Error::NotFound);
        }
        match self.target(parent)? {
            Target::Static(p) => match lookup(p.ino, name) {
                Ok(n) => Ok(static_attr(n)),
                Err(Error::NotFound) if p.ino == SYS_CPU => {
                    self.host_attr(&format!("{}/{name}", passthrough::SYS_CPU_PATH))
                }
                Err(e) => Err(e),
            },
            Target::Host(dir) => {
                let a = self.host_attr(&dir)?;
                if a.kind != Kind::Dir {
                    return Err(Error::NotDir);
                }
                self.host_attr(&format!("{dir}/{name}"))
            }
        }
    }

    /// The parent directory of `ino` (the root is its own parent).
    pub fn parent(&self, ino: Ino) -> Result<Ino> {
        match self.target(ino)? {
            Target::Static(n) => Ok(n.parent),
            Target::Host(path) => match path.rsplit_once('/') {
                Some((dir, _)) if dir == passthrough::SYS_CPU_PATH => Ok(SYS_CPU),
                Some((dir, _)) => Ok(self.passthrough.ino(dir)),
                None => Ok(SYS_CPU),
            },
        }
    }

    /// The entries of a directory, in order, without `.` and `..`.
    pub fn readdir(&self, ino: Ino) -> Result<Vec<(String, Attr)>> {
        let (mut out, host_dir) = match self.target(ino)? {
            Target::Static(n) => {
                let out: Vec<(String, Attr)> = children(n.ino)?
                    .map(|c| (c.name.to_owned(), static_attr(c)))
                    .collect();
                (
                    out,
                    (n.ino == SYS_CPU).then(|| passthrough::SYS_CPU_PATH.to_owned()),
                )
            }
            Target::Host(path) => (Vec::new(), Some(path)),
        };
        if let Some(dir) = host_dir {
            self.check_sys_available()?;
            let names = self
                .engine
                .source()
                .read_dir(&dir)
                .map_err(|e| Error::io(&dir, e))?;
            for name in names {
                if out.iter().any(|(n, _)| *n == name) {
                    continue; // rendered files shadow the host's (no duplicate `online`)
                }
                if let Ok(a) = self.host_attr(&format!("{dir}/{name}")) {
                    out.push((name, a));
                }
            }
        }
        Ok(out)
    }

    /// The target of a symbolic link (host links below `sys/devices/system/cpu`).
    pub fn readlink(&self, ino: Ino) -> Result<String> {
        match self.target(ino)? {
            Target::Host(path) => {
                self.check_sys_available()?;
                self.engine
                    .source()
                    .read_link(&path)
                    .map_err(|e| Error::io(&path, e))
            }
            Target::Static(_) => Err(Error::InvalidWrite),
        }
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
        let bytes = match self.target(ino)? {
            Target::Static(n) => match n.kind {
                NodeKind::Dir => return Err(Error::IsDir),
                NodeKind::File(f) if self.virtualizing() => self.render_for(f, pid),
                NodeKind::File(_) if under_sys(n) => return Err(Error::Unavailable),
                NodeKind::File(f) => {
                    let path = format!("/{}", f.path());
                    read_text(self.engine.source(), &path)?
                }
            },
            Target::Host(path) => {
                self.check_sys_available()?;
                if self.host_attr(&path)?.kind == Kind::Dir {
                    return Err(Error::IsDir);
                }
                read_text(self.engine.source(), &path)?
            }
        };
        self.handles.insert(bytes.into_bytes().into_boxed_slice())
    }

    /// Up to `size` bytes at `offset` of the open file `fh` (empty at or past the end).
    pub fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let f = self.handles.get(fh)?;
        let len = f.bytes.len() as u64;
        if offset >= len {
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

    /// Writes are refused: `/proc` files and `online` answer EINVAL, other `/sys` files
    /// EACCES (LXCFS ≥ 6.0; older releases forwarded them to the host).
    pub fn write(&self, ino: Ino) -> Result<()> {
        match self.target(ino)? {
            Target::Static(n)
                if under_sys(n) && n.kind != NodeKind::File(VirtualFile::CpuOnline) =>
            {
                Err(Error::AccessDenied)
            }
            Target::Static(_) => Err(Error::InvalidWrite),
            Target::Host(_) => Err(Error::AccessDenied),
        }
    }

    /// Attribute changes: truncation is a no-op under `/sys` and EPERM elsewhere; mode,
    /// owner and time changes are EPERM.
    pub fn setattr(&self, ino: Ino, truncate_only: bool) -> Result<Attr> {
        let attr = self.getattr(ino)?;
        let in_sys = match self.target(ino)? {
            Target::Static(n) => under_sys(n),
            Target::Host(_) => true,
        };
        if truncate_only && in_sys {
            Ok(attr)
        } else {
            Err(Error::ReadOnly)
        }
    }

    /// `access(2)`: reading and searching are allowed, writing never; executing a file
    /// never.
    pub fn access(&self, ino: Ino, write: bool, execute: bool) -> Result<()> {
        let attr = self.getattr(ino)?;
        if write || (execute && attr.kind != Kind::Dir) {
            Err(Error::AccessDenied)
        } else {
            Ok(())
        }
    }
}
