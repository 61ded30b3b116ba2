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
//! * Inode numbers are part of the kernel's state and outlive a serving process: the
//!   static ones never change (new nodes are appended), the mirrored host entries' are
//!   derived from their paths ([`passthrough`]).
//! * `sys/devices/system/cpu` is LXCFS's passthrough mode: the host directory, read-only,
//!   with `online`, `offline`, `possible` and `present` rendered for the reader, and only
//!   the `cpuN` directories of the CPUs in the reader's `online` (tools count them:
//!   psutil, sysstat, `lscpu`). Those entries are looked up again on every path walk
//!   ([`Freshness::PerReader`]): the kernel's dentry cache is shared by every container.
//! * Errors follow LXCFS: writes to `/proc` files and to `online` → EINVAL, to other
//!   `/sys` files → EACCES; mkdir, rmdir, chmod, chown, truncate of `/proc` → EPERM
//!   (truncate under `/sys` is a no-op); create, unlink, rename, link, symlink, mknod →
//!   ENOSYS.
//!
//! The read path (`read` at offset 0) resolves the reader, takes its view's snapshot
//! (asking the sampler only when it has none fresh enough), and serves the view's
//! rendering of that snapshot generation — rendered once and shared by every reader of
//! the view. A warm read allocates nothing and takes no lock.

pub(crate) mod handle;
mod passthrough;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::logger::Throttle;
use crate::parse::cpuset::parse_cpuset;
use crate::render::{render, VirtualFile};
pub use crate::snapshot::store::Rendered;
use crate::snapshot::store::{Store, View};
use crate::source::{NodeKind as HostKind, Source};
pub use handle::FileHandle;
use handle::HandleTable;
use passthrough::{PassthroughInodes, SYS_CPU, SYS_CPU_PATH};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A FUSE node id: the inode number the kernel and `stat` see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ino(pub u64);

/// The root directory's inode (FUSE's `FUSE_ROOT_ID`).
pub const ROOT: Ino = Ino(1);

/// What a node of the static table is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Dir,
    File(VirtualFile),
}

/// One node of the static tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    /// Index in [`NODES`] + 1.
    pub(crate) ino: Ino,
    pub(crate) parent: Ino,
    pub(crate) name: &'static str,
    pub(crate) kind: NodeKind,
    pub(crate) mode: u16,
}

/// Reads served from a stale snapshot because the sampler missed its deadline.
static SAMPLER_LATE: Throttle = Throttle::new();
/// At most one warning per minute for an event that can repeat on every read.
const WARN_EVERY_NS: u64 = 60_000_000_000;
/// How long a read with nothing to fall back on waits for a late sampler before EIO.
const FIRST_READ_BUDGET: Duration = Duration::from_secs(10);

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
/// **Append only**: a running kernel keeps these numbers across an upgrade.
pub(crate) static NODES: &[Node] = &[
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

fn node(ino: Ino) -> Option<&'static Node> {
    usize::try_from(ino.0)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| NODES.get(i))
}

fn child(parent: Ino, name: &str) -> Option<&'static Node> {
    NODES
        .iter()
        .find(|n| n.parent == parent && n.name == name && n.ino != ROOT)
}

/// The static node of a path below the mount point (`proc/meminfo`).
pub fn resolve(path: &str) -> Option<Ino> {
    let mut cur = ROOT;
    for name in path.split('/').filter(|s| !s.is_empty()) {
        cur = child(cur, name)?.ino;
    }
    Some(cur)
}

/// A node as the kernel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink,
}

/// How long the kernel may keep a name or an attribute without asking again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Never changes while the filesystem is mounted (the static tree).
    Fixed,
    /// A host entry that changes rarely (CPU hotplug).
    Host,
    /// Depends on who looks (`cpuN` directories): never cached.
    PerReader,
}

/// Attributes of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attr {
    pub(crate) ino: Ino,
    pub(crate) kind: Kind,
    /// Permission bits (never writable).
    pub(crate) mode: u16,
    /// How long the kernel may cache it.
    pub(crate) freshness: Freshness,
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirEntry {
    pub(crate) name: String,
    pub(crate) attr: Attr,
}

/// What an inode stands for.
#[derive(Clone, Debug)]
enum Target {
    Static(&'static Node),
    /// A host path below `/sys/devices/system/cpu`.
    Host(String),
}

/// `cpu` followed by digits: a CPU directory of `/sys/devices/system/cpu`.
fn cpu_dir_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("cpu")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The operations of the filesystem.
pub struct Vfs {
    store: Arc<Store>,
    identity: Identity,
    source: Arc<dyn Source>,
    clock: Arc<dyn Clock>,
    config: Config,
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
        freshness: Freshness::Fixed,
    }
}

/// True for the static nodes below `sys/`.
fn under_sys(n: &Node) -> bool {
    let mut cur = n;
    while cur.ino != ROOT {
        if cur.parent == ROOT {
            return cur.name == "sys";
        }
        match node(cur.parent) {
            Some(p) => cur = p,
            None => return false,
        }
    }
    false
}

impl Vfs {
    /// A filesystem serving `store`'s views; handles carry `epoch`.
    pub(crate) fn new(
        store: Arc<Store>,
        identity: Identity,
        source: Arc<dyn Source>,
        clock: Arc<dyn Clock>,
        config: Config,
        epoch: u16,
    ) -> Vfs {
        Vfs {
            store,
            identity,
            source,
            clock,
            config,
            handles: HandleTable::new(epoch),
            passthrough: PassthroughInodes::default(),
            virtualize: AtomicBool::new(true),
        }
    }

    /// Set virtualisation on or off.
    pub(crate) fn set_virtualization(&self, on: bool) {
        self.virtualize.store(on, Ordering::Release);
    }

    /// Whether files are virtualised (true unless toggled off).
    pub(crate) fn virtualizing(&self) -> bool {
        self.virtualize.load(Ordering::Acquire)
    }

    /// The identity resolver (sweeps, `inspect`).
    pub(crate) fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Files open now (tests, statistics).
    pub fn open_files(&self) -> usize {
        self.handles.open_count()
    }

    fn target(&self, ino: Ino) -> Result<Target> {
        if let Some(n) = node(ino) {
            return Ok(Target::Static(n));
        }
        self.passthrough
            .path(ino, self.source.as_ref())
            .map(Target::Host)
            .ok_or(Error::NoSuchNode)
    }

    fn host_attr(&self, path: &str) -> Result<Attr> {
        let meta = self.source.metadata(path).map_err(|e| Error::io(path, e))?;
        let kind = match meta.kind {
            HostKind::Dir => Kind::Dir,
            HostKind::File => Kind::File,
            HostKind::Symlink => Kind::Symlink,
        };
        let is_cpu_dir = path
            .strip_prefix(SYS_CPU_PATH)
            .and_then(|r| r.strip_prefix('/'))
            .and_then(cpu_dir_number)
            .is_some();
        Ok(Attr {
            ino: self.passthrough.ino(path),
            kind,
            // Read-only mirror: no write bits, whatever the host says.
            mode: (meta.mode & 0o555) as u16,
            freshness: if is_cpu_dir {
                Freshness::PerReader
            } else {
                Freshness::Host
            },
        })
    }

    fn check_sys_available(&self) -> Result<()> {
        if self.virtualizing() {
            Ok(())
        } else {
            Err(Error::Unavailable)
        }
    }

    /// Whether reader `pid` sees CPU directory `name` (always true for other names).
    fn cpu_dir_visible(&self, name: &str, pid: u32) -> Result<bool> {
        let Some(n) = cpu_dir_number(name) else {
            return Ok(true);
        };
        let online = self.content(VirtualFile::CpuOnline, pid)?;
        let text = String::from_utf8_lossy(&online.bytes);
        Ok(parse_cpuset(&text).is_ok_and(|set| set.contains(n)))
    }

    /// Attributes of `ino`.
    pub(crate) fn getattr(&self, ino: Ino) -> Result<Attr> {
        match self.target(ino)? {
            Target::Static(n) => Ok(static_attr(n)),
            Target::Host(path) => self.host_attr(&path),
        }
    }

    /// `name` in directory `parent`, as reader `pid` sees it.
    pub(crate) fn lookup(&self, parent: Ino, name: &str, pid: u32) -> Result<Attr> {
        if name.contains('/') || name == "." || name == ".." {
            return Err(Error::NoSuchNode);
        }
        match self.target(parent)? {
            Target::Static(p) if p.kind != NodeKind::Dir => Err(Error::NotDir),
            Target::Static(p) => match child(p.ino, name) {
                Some(n) => Ok(static_attr(n)),
                None if p.ino == SYS_CPU => {
                    self.check_sys_available()?;
                    if !self.cpu_dir_visible(name, pid)? {
                        return Err(Error::NoSuchNode);
                    }
                    self.host_attr(&format!("{SYS_CPU_PATH}/{name}"))
                }
                None => Err(Error::NoSuchNode),
            },
            Target::Host(dir) => {
                if self.host_attr(&dir)?.kind != Kind::Dir {
                    return Err(Error::NotDir);
                }
                self.host_attr(&format!("{dir}/{name}"))
            }
        }
    }

    /// The parent directory of `ino` (the root is its own parent).
    pub(crate) fn parent(&self, ino: Ino) -> Result<Ino> {
        match self.target(ino)? {
            Target::Static(n) => Ok(n.parent),
            Target::Host(path) => match path.rsplit_once('/') {
                Some((dir, _)) if dir == SYS_CPU_PATH => Ok(SYS_CPU),
                Some((dir, _)) => Ok(self.passthrough.ino(dir)),
                None => Ok(SYS_CPU),
            },
        }
    }

    /// Open directory `ino`: how long its listing may be cached. `sys/devices/system/cpu`
    /// lists each reader's own CPUs, so its listing is [`Freshness::PerReader`].
    pub(crate) fn opendir(&self, ino: Ino) -> Result<Freshness> {
        match self.target(ino)? {
            Target::Static(n) if n.kind != NodeKind::Dir => Err(Error::NotDir),
            Target::Static(n) if n.ino == SYS_CPU => Ok(Freshness::PerReader),
            Target::Static(_) => Ok(Freshness::Fixed),
            Target::Host(path) => match self.host_attr(&path)?.kind {
                Kind::Dir => Ok(Freshness::Host),
                _ => Err(Error::NotDir),
            },
        }
    }

    /// The entries of a directory as reader `pid` sees them, in order, without `.` and
    /// `..`.
    pub(crate) fn readdir(&self, ino: Ino, pid: u32) -> Result<Vec<DirEntry>> {
        let (mut out, host_dir) = match self.target(ino)? {
            Target::Static(n) if n.kind != NodeKind::Dir => return Err(Error::NotDir),
            Target::Static(n) => {
                let out: Vec<DirEntry> = NODES
                    .iter()
                    .filter(|c| c.parent == n.ino && c.ino != ROOT)
                    .map(|c| DirEntry {
                        name: c.name.to_owned(),
                        attr: static_attr(c),
                    })
                    .collect();
                (out, (n.ino == SYS_CPU).then(|| SYS_CPU_PATH.to_owned()))
            }
            Target::Host(path) => (Vec::new(), Some(path)),
        };
        if let Some(dir) = host_dir {
            self.check_sys_available()?;
            let names = self.source.read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
            let top = dir == SYS_CPU_PATH;
            for name in names {
                if out.iter().any(|e| e.name == name) {
                    continue; // rendered files shadow the host's (no duplicate `online`)
                }
                if top && !self.cpu_dir_visible(&name, pid)? {
                    continue;
                }
                if let Ok(attr) = self.host_attr(&format!("{dir}/{name}")) {
                    out.push(DirEntry { name, attr });
                }
            }
        }
        Ok(out)
    }

    /// The target of a symbolic link (host links below `sys/devices/system/cpu`).
    pub(crate) fn readlink(&self, ino: Ino) -> Result<String> {
        match self.target(ino)? {
            Target::Host(path) => {
                self.check_sys_available()?;
                self.source
                    .read_link(&path)
                    .map_err(|e| Error::io(&path, e))
            }
            Target::Static(_) => Err(Error::NotALink),
        }
    }

    /// The published view of reader `pid`, live, with a snapshot holding what `file`
    /// needs, no older than `--max-staleness` when the sampler can deliver one in time.
    fn view_and_snapshot(
        &self,
        file: VirtualFile,
        pid: u32,
    ) -> Result<(Arc<View>, Arc<crate::snapshot::Snapshot>)> {
        let host_file = self.config.host_files & (1 << file.index()) != 0;
        let reader = if self.virtualizing() && !host_file {
            self.identity.resolve(pid)
        } else {
            // Pid 0 is the unknown reader: the host's view.
            self.identity.resolve(0)
        };
        let parts = file.parts();
        let now = self.clock.now().mono_ns;
        let max_age = self.config.max_staleness_ns;
        // The reader's own cached view, else the published one (a new reader process of
        // a container that others read: `cat`, `free`, `ps` — no sampler round trip).
        let cached = reader
            .view
            .load_full()
            .filter(|v| !v.is_retired())
            .or_else(|| self.store.view(&reader.key).filter(|v| !v.is_retired()));
        if let Some(view) = cached {
            if let Some(snap) = view.fresh_snapshot(now, max_age, parts) {
                reader.view.store(Some(Arc::clone(&view)));
                return Ok((view, snap));
            }
        }
        let demand = |budget: Duration| {
            let view = self.store.demand(&reader.key, parts, budget)?;
            reader.view.store(Some(Arc::clone(&view)));
            let snap = view.snapshot().ok_or(Error::SamplerTimeout)?;
            Ok((view, snap))
        };
        let late = match demand(Duration::from_nanos(self.config.request_budget_ns)) {
            Ok(found) => return Ok(found),
            Err(e) => e,
        };
        // The sampler is late (a loaded machine). The last published snapshot will do if
        // it holds what this file is computed from; a snapshot without those parts
        // would render an empty file, and none at all an error, so then the read waits
        // longer: late real values beat wrong ones.
        let published = self.store.view(&reader.key).and_then(|v| {
            v.snapshot()
                .filter(|s| s.parts.contains(parts))
                .map(|s| (v, s))
        });
        if let Some(left_out) = SAMPLER_LATE.allow(now, WARN_EVERY_NS) {
            match &published {
                Some((_, snap)) => log::warn!(
                    "sampler late: serving a {} ms old snapshot ({left_out} more late reads since the last warning)",
                    now.saturating_sub(snap.taken.mono_ns) / 1_000_000
                ),
                None => log::warn!(
                    "sampler late for a first read: waiting longer ({left_out} more late reads since the last warning)"
                ),
            }
        }
        match published {
            Some(found) => Ok(found),
            None => demand(FIRST_READ_BUDGET).map_err(|_| late),
        }
    }

    /// `file` as the view `key` shows it (`inspect --cgroup`), with the snapshot it was
    /// rendered from.
    pub(crate) fn content_of_view(
        &self,
        file: VirtualFile,
        key: &crate::snapshot::ViewKey,
    ) -> Result<(Rendered, Arc<crate::snapshot::Snapshot>)> {
        // Nobody is waiting on a read: as long as a first read may take.
        let view = self.store.demand(key, file.parts(), FIRST_READ_BUDGET)?;
        let snap = view.snapshot().ok_or(Error::SamplerTimeout)?;
        Ok((self.render_snapshot(file, &snap), snap))
    }

    fn render_snapshot(&self, file: VirtualFile, snap: &crate::snapshot::Snapshot) -> Rendered {
        let mut out = String::with_capacity(4096);
        render(file, snap, &self.config.render, &mut out);
        Rendered {
            generation: snap.generation,
            bytes: out.into_bytes().into_boxed_slice(),
        }
    }

    /// `file` as reader `pid` sees it now: the view's rendering of its current snapshot
    /// (rendered by the first reader of each snapshot generation, shared after).
    pub(crate) fn content(&self, file: VirtualFile, pid: u32) -> Result<Arc<Rendered>> {
        let (view, snap) = self.view_and_snapshot(file, pid)?;
        let slot = view.rendered(file.index());
        if let Some(r) = slot.load_full() {
            if r.generation == snap.generation {
                return Ok(r);
            }
        }
        let rendered = Arc::new(self.render_snapshot(file, &snap));
        slot.store(Some(Arc::clone(&rendered)));
        Ok(rendered)
    }

    /// The fallbacks in the snapshot reader `pid` gets for `file`.
    pub(crate) fn fallbacks(&self, file: VirtualFile, pid: u32) -> Vec<crate::snapshot::Fallback> {
        self.view_and_snapshot(file, pid)
            .map(|(_, s)| s.container.fallbacks.clone())
            .unwrap_or_default()
    }

    /// What inode `ino` holds now for reader `pid`.
    fn node_content(&self, ino: Ino, pid: u32) -> Result<Arc<Rendered>> {
        match self.target(ino)? {
            Target::Static(n) => match n.kind {
                NodeKind::Dir => Err(Error::IsDir),
                NodeKind::File(_) if under_sys(n) && !self.virtualizing() => {
                    Err(Error::Unavailable)
                }
                NodeKind::File(f) => self.content(f, pid),
            },
            Target::Host(path) => {
                self.check_sys_available()?;
                let bytes = self.source.read(&path).map_err(|e| Error::io(&path, e))?;
                Ok(Arc::new(Rendered {
                    generation: 0,
                    bytes: bytes.into_boxed_slice(),
                }))
            }
        }
    }

    /// Open `ino`. Nothing is rendered until the first read.
    pub fn open(&self, ino: Ino) -> Result<FileHandle> {
        match self.target(ino)? {
            Target::Static(n) if n.kind == NodeKind::Dir => return Err(Error::IsDir),
            Target::Static(n) if under_sys(n) => self.check_sys_available()?,
            Target::Static(_) => {}
            Target::Host(path) => {
                self.check_sys_available()?;
                if self.host_attr(&path)?.kind == Kind::Dir {
                    return Err(Error::IsDir);
                }
            }
        }
        self.handles.open()
    }

    /// The content a read of `fh` at `offset` serves (the caller takes the bytes from
    /// `offset` on): at offset 0 a new rendering for reader `pid`, else the one the
    /// handle already serves.
    pub fn read(&self, ino: Ino, fh: FileHandle, offset: u64, pid: u32) -> Result<Arc<Rendered>> {
        if offset > 0 {
            if let Some(c) = self.handles.content(fh)? {
                return Ok(c);
            }
        }
        let content = self.node_content(ino, pid)?;
        self.handles.set_content(fh, Arc::clone(&content))?;
        Ok(content)
    }

    /// Close `fh`.
    pub fn release(&self, fh: FileHandle) -> Result<()> {
        self.handles.release(fh)
    }

    /// Writes are refused: `/proc` files and `online` answer EINVAL, other `/sys` files
    /// EACCES (LXCFS ≥ 6.0; older releases forwarded them to the host).
    pub(crate) fn write(&self, ino: Ino) -> Error {
        match self.target(ino) {
            Ok(Target::Static(n))
                if under_sys(n) && n.kind != NodeKind::File(VirtualFile::CpuOnline) =>
            {
                Error::AccessDenied
            }
            Ok(Target::Static(_)) => Error::InvalidWrite,
            Ok(Target::Host(_)) => Error::AccessDenied,
            Err(e) => e,
        }
    }

    /// Attribute changes: truncation is a no-op under `/sys` and EPERM elsewhere; mode,
    /// owner and time changes are EPERM.
    pub(crate) fn setattr(&self, ino: Ino, truncate_only: bool) -> Result<Attr> {
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
    pub(crate) fn access(&self, ino: Ino, write: bool, execute: bool) -> Result<()> {
        let attr = self.getattr(ino)?;
        if write || (execute && attr.kind != Kind::Dir) {
            Err(Error::AccessDenied)
        } else {
            Ok(())
        }
    }
}
