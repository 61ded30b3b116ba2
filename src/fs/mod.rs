//! The FUSE server: the only module that speaks the kernel's protocol. Each request
//! becomes one [`Vfs`] call and its `Result` one reply; all logic lives behind the `Vfs`
//! API.
//!
//! vproc implements the protocol itself ([`abi`]) rather than through `fuser`: `fuser`
//! 0.18 always waits for `FUSE_INIT` when a session starts (`Session::new`,
//! `Session::from_fd`), so a successor process cannot take over a live connection, and
//! it answers every `FLUSH` (one more round trip per `close`). The cost is this module
//! and `abi.rs`: a read-only filesystem needs only a small part of the protocol.
//!
//! Kernel-facing facts:
//! * **Takeover.** A server may start on a connection another process initialised: it
//!   then knows the negotiated parameters ([`Negotiated`]) and never waits for INIT, but
//!   answers a resent INIT (its predecessor died before answering) all the same.
//!   Uniques are echoed exactly as read, so resent requests (bit 63) are answered
//!   correctly. A reply the kernel no longer waits for (`ENOENT` on write) is normal.
//! * **Request boundaries.** Workers count the requests they hold; a server asked to
//!   stop waits until none is held, then exits. Requests it had read but not answered
//!   (a worker woken at that moment, or a crash) are re-queued by the supervisor with
//!   `FUSE_NOTIFY_RESEND` once the process is gone.
//! * **Fewer round trips.** `FLUSH` is answered `ENOSYS` once (the kernel stops sending
//!   it), xattr operations too; listings of the static directories are cached by the
//!   kernel; nothing is rendered at `OPEN`.
//! * **Listings that depend on the reader are never cached.** `OPENDIR` is answered
//!   (not `FUSE_NO_OPENDIR_SUPPORT`, with which the kernel caches every listing as the
//!   first reader saw it): `sys/devices/system/cpu` lists each reader's own CPUs.
//! * Names and attributes of the static tree are cached for a second, as LXCFS's
//!   0.5 s: a mount whose server is gone is noticed by `[ -d …/proc ]` soon after.
//! * **Every open is `FOPEN_DIRECT_IO`**: sizes are reported as 0 and the content is
//!   rendered per read at offset 0, so the kernel must read until EOF and never cache
//!   pages (the page cache is shared by every container).
//! * `INTERRUPT` gets no reply (requests are short; answering `ENOSYS` would make the
//!   kernel stop sending them for good, and one for an unknown request is normal after
//!   a takeover). `FORGET` gets none by protocol. The request-timeout flag is never
//!   negotiated.

pub(crate) mod abi;

use crate::error::Error;
use crate::vfs::{Attr, FileHandle, Freshness, Ino, Kind, Vfs};
use abi::{op, Bytes, FileAttr, InHeader, Ttl};
use nix::libc;
use std::io::IoSlice;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// What `FUSE_INIT` settled, handed from one serving process to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// Protocol minor version in use.
    pub(crate) minor: u32,
    /// Largest write the kernel sends (a read buffer must hold 80 + this).
    pub(crate) max_write: u32,
    /// The flags both sides agreed on.
    pub(crate) flags: u64,
}

impl Negotiated {
    /// `minor/max_write/flags` (as passed on a command line).
    pub(crate) fn encode(&self) -> String {
        format!("{}/{}/{:#x}", self.minor, self.max_write, self.flags)
    }

    pub(crate) fn decode(text: &str) -> Option<Negotiated> {
        let mut it = text.split('/');
        let minor = it.next()?.parse().ok()?;
        let max_write = it.next()?.parse().ok()?;
        let flags = u64::from_str_radix(it.next()?.trim_start_matches("0x"), 16).ok()?;
        Some(Negotiated {
            minor,
            max_write,
            flags,
        })
    }

    /// Whether the kernel can resend requests after a crash.
    pub(crate) fn has_resend(&self) -> bool {
        self.flags & abi::init_flag::HAS_RESEND != 0
    }
}

/// The largest write vproc accepts (writes are refused anyway; this sizes buffers).
const MAX_WRITE: u32 = 8192;
/// Flags vproc asks for (the kernel keeps those it offered).
const WANTED_FLAGS: u64 = abi::init_flag::ASYNC_READ
    | abi::init_flag::BIG_WRITES
    | abi::init_flag::PARALLEL_DIROPS
    | abi::init_flag::CACHE_SYMLINKS;
/// The static tree never changes while mounted; a second still lets a dead mount show.
const TTL_FIXED: Ttl = (1, 0);
/// Mirrored host entries change only with CPU hotplug.
const TTL_HOST: Ttl = (1, 0);
const TTL_NONE: Ttl = (0, 0);

fn ttl(f: Freshness) -> Ttl {
    match f {
        Freshness::Fixed => TTL_FIXED,
        Freshness::Host => TTL_HOST,
        Freshness::PerReader => TTL_NONE,
    }
}

/// One serving process's side of the connection.
pub(crate) struct Server {
    fd: OwnedFd,
    vfs: Arc<Vfs>,
    negotiated: OnceLock<Negotiated>,
    /// Called once when this process answers INIT (the supervisor keeps the result).
    on_init: Box<dyn Fn(&Negotiated) + Send + Sync>,
    stopping: AtomicBool,
    busy: AtomicUsize,
    unmounted: AtomicBool,
    /// Wall-clock time shown in attributes (the server's start).
    time: (u64, u32),
}

fn errno_of(e: &Error) -> i32 {
    e.errno()
}

impl Server {
    /// A server on connection `fd`; `negotiated` when taking over an initialised one.
    pub(crate) fn new(
        fd: OwnedFd,
        vfs: Arc<Vfs>,
        negotiated: Option<Negotiated>,
        on_init: Box<dyn Fn(&Negotiated) + Send + Sync>,
    ) -> Server {
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
            .map(|t| {
                (
                    t.tv_sec().max(0) as u64,
                    t.tv_nsec().clamp(0, 999_999_999) as u32,
                )
            })
            .unwrap_or((0, 0));
        let cell = OnceLock::new();
        if let Some(n) = negotiated {
            let _ = cell.set(n);
        }
        Server {
            fd,
            vfs,
            negotiated: cell,
            on_init,
            stopping: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            unmounted: AtomicBool::new(false),
            time: now,
        }
    }

    fn buffer_len(&self) -> usize {
        let max_write = self.negotiated.get().map_or(MAX_WRITE, |n| n.max_write);
        (abi::IN_HEADER_LEN + 40 + max_write as usize + 4096).max(abi::MIN_READ_BUFFER)
    }

    /// Whether the connection is gone (unmounted or aborted).
    pub(crate) fn unmounted(&self) -> bool {
        self.unmounted.load(Ordering::Acquire)
    }

    /// Stop taking requests; returns once no worker holds one (or after `wait_ms`).
    pub(crate) fn quiesce(&self, wait_ms: u64) {
        self.stopping.store(true, Ordering::Release);
        for _ in 0..wait_ms {
            if self.busy.load(Ordering::Acquire) == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Serve requests on this thread until the connection goes away or the server stops.
    pub(crate) fn work(&self) {
        let mut buf = vec![0u8; self.buffer_len()];
        while !self.stopping.load(Ordering::Acquire) {
            let n = match nix::unistd::read(self.fd.as_fd(), &mut buf) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
                // The request was interrupted before it could be read.
                Err(nix::errno::Errno::ENOENT) => continue,
                Err(nix::errno::Errno::ENODEV | nix::errno::Errno::ECONNABORTED) => {
                    self.unmounted.store(true, Ordering::Release);
                    return;
                }
                Err(e) => {
                    log::error!("reading /dev/fuse: {e}");
                    self.unmounted.store(true, Ordering::Release);
                    return;
                }
            };
            self.busy.fetch_add(1, Ordering::AcqRel);
            if let Some((h, body)) = InHeader::parse(&buf[..n]) {
                self.dispatch(&h, body);
            }
            self.busy.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// One reply: the header and at most two payload pieces, in one `writev` (no
    /// allocation: replies are on the hot path).
    fn send(&self, unique: u64, error: i32, payload: &[&[u8]]) {
        let len = abi::OUT_HEADER_LEN + payload.iter().map(|p| p.len()).sum::<usize>();
        let header = abi::out_header(len, error, unique);
        let empty: &[u8] = &[];
        let iov = [
            IoSlice::new(&header),
            IoSlice::new(payload.first().copied().unwrap_or(empty)),
            IoSlice::new(payload.get(1).copied().unwrap_or(empty)),
        ];
        let pieces = 1 + payload.len().min(2);
        match nix::sys::uio::writev(self.fd.as_fd(), &iov[..pieces]) {
            Ok(_) => {}
            // The kernel no longer waits for it (interrupted, or answered after a resend).
            Err(nix::errno::Errno::ENOENT) => {}
            Err(nix::errno::Errno::ENODEV) => self.unmounted.store(true, Ordering::Release),
            Err(e) => log::warn!("replying to request {unique:#x}: {e}"),
        }
    }

    fn ok(&self, unique: u64, payload: &[&[u8]]) {
        self.send(unique, 0, payload);
    }

    fn err(&self, unique: u64, errno: i32) {
        self.send(unique, -errno, &[]);
    }

    fn file_attr(&self, a: &Attr) -> FileAttr {
        let (mode, nlink) = match a.kind {
            Kind::Dir => (abi::S_IFDIR, 2),
            Kind::File => (abi::S_IFREG, 1),
            Kind::Symlink => (abi::S_IFLNK, 1),
        };
        FileAttr {
            ino: a.ino.0,
            mode: mode | u32::from(a.mode),
            nlink,
            time_s: self.time.0,
            time_ns: self.time.1,
        }
    }

    fn reply_entry(&self, unique: u64, r: crate::error::Result<Attr>) {
        match r {
            Ok(a) => {
                let t = ttl(a.freshness);
                self.ok(unique, &[&abi::entry_out(&self.file_attr(&a), t, t)]);
            }
            Err(e) => self.err(unique, errno_of(&e)),
        }
    }

    fn reply_attr(&self, unique: u64, r: crate::error::Result<Attr>) {
        match r {
            Ok(a) => self.ok(
                unique,
                &[&abi::attr_out(&self.file_attr(&a), ttl(a.freshness))],
            ),
            Err(e) => self.err(unique, errno_of(&e)),
        }
    }

    fn init(&self, h: &InHeader, body: &[u8]) {
        let Some(init) = abi::InitIn::parse(body) else {
            return self.err(h.unique, libc::EINVAL);
        };
        if init.major != abi::KERNEL_VERSION || init.minor < abi::MIN_MINOR_VERSION {
            log::error!(
                "kernel FUSE protocol {}.{} is too old (vproc needs 7.{})",
                init.major,
                init.minor,
                abi::MIN_MINOR_VERSION
            );
            return self.err(h.unique, libc::EPROTO);
        }
        let minor = init.minor.min(abi::KERNEL_MINOR_VERSION);
        let mut flags = init.flags & WANTED_FLAGS;
        if init.flags & abi::init_flag::INIT_EXT != 0 {
            flags |= abi::init_flag::INIT_EXT;
        }
        debug_assert_eq!(flags & abi::init_flag::REQUEST_TIMEOUT, 0);
        // HAS_RESEND is the kernel's announcement, kept for the supervisor to read.
        let negotiated = Negotiated {
            minor,
            max_write: MAX_WRITE,
            flags: flags | (init.flags & abi::init_flag::HAS_RESEND),
        };
        let n = *self.negotiated.get_or_init(|| negotiated);
        self.ok(
            h.unique,
            &[&abi::init_out(
                minor,
                init.max_readahead,
                flags,
                n.max_write,
            )],
        );
        (self.on_init)(&n);
    }

    fn dispatch(&self, h: &InHeader, body: &[u8]) {
        let u = h.unique;
        let ino = Ino(h.nodeid);
        let vfs = &self.vfs;
        match h.opcode {
            op::INIT => self.init(h, body),
            op::FORGET | op::BATCH_FORGET | op::INTERRUPT => {}
            op::DESTROY => self.ok(u, &[]),
            op::LOOKUP => match Bytes::new(body).name() {
                Some(name) => self.reply_entry(u, vfs.lookup(ino, name, h.pid)),
                None => self.err(u, libc::ENOENT),
            },
            op::GETATTR => self.reply_attr(u, vfs.getattr(ino)),
            op::SETATTR => {
                let valid = Bytes::new(body).u32().unwrap_or(u32::MAX);
                self.reply_attr(u, vfs.setattr(ino, abi::truncate_only(valid)));
            }
            op::READLINK => match vfs.readlink(ino) {
                Ok(t) => self.ok(u, &[t.as_bytes()]),
                Err(e) => self.err(u, errno_of(&e)),
            },
            op::OPEN => match vfs.open(ino) {
                Ok(fh) => self.ok(u, &[&abi::open_out(fh.0, abi::FOPEN_DIRECT_IO)]),
                Err(e) => self.err(u, errno_of(&e)),
            },
            op::READ => {
                let mut b = Bytes::new(body);
                let (Some(fh), Some(offset), Some(size)) = (b.u64(), b.u64(), b.u32()) else {
                    return self.err(u, libc::EINVAL);
                };
                match vfs.read(ino, FileHandle(fh), offset, h.pid) {
                    Ok(content) => {
                        let bytes = &content.bytes;
                        let start = usize::try_from(offset)
                            .unwrap_or(usize::MAX)
                            .min(bytes.len());
                        let end = start.saturating_add(size as usize).min(bytes.len());
                        self.ok(u, &[&bytes[start..end]]);
                    }
                    Err(e) => self.err(u, errno_of(&e)),
                }
            }
            op::RELEASE => {
                let fh = Bytes::new(body).u64().unwrap_or(0);
                // A handle unknown here was already released; the kernel only cares
                // that the request is answered.
                let _ = vfs.release(FileHandle(fh));
                self.ok(u, &[]);
            }
            op::WRITE => self.err(u, errno_of(&vfs.write(ino))),
            op::OPENDIR => match vfs.opendir(ino) {
                Ok(listing) => {
                    let flags = match listing {
                        Freshness::Fixed => abi::FOPEN_CACHE_DIR | abi::FOPEN_KEEP_CACHE,
                        Freshness::Host | Freshness::PerReader => 0,
                    };
                    self.ok(u, &[&abi::open_out(0, flags)]);
                }
                Err(e) => self.err(u, errno_of(&e)),
            },
            op::RELEASEDIR => self.ok(u, &[]),
            op::READDIR => self.readdir(h, body),
            op::STATFS => self.ok(u, &[&abi::statfs_out()]),
            op::ACCESS => {
                let mask = Bytes::new(body).u32().unwrap_or(0);
                match vfs.access(ino, mask & abi::W_OK != 0, mask & abi::X_OK != 0) {
                    Ok(()) => self.ok(u, &[]),
                    Err(e) => self.err(u, errno_of(&e)),
                }
            }
            op::FSYNC => self.ok(u, &[]),
            op::MKDIR | op::RMDIR => self.err(u, errno_of(&Error::ReadOnly)),
            op::SYMLINK
            | op::MKNOD
            | op::UNLINK
            | op::RENAME
            | op::RENAME2
            | op::LINK
            | op::CREATE
            | op::TMPFILE => self.err(u, errno_of(&Error::NotSupported)),
            // FLUSH, xattrs, locks, ioctl, poll, lseek, fallocate, copy_file_range,
            // statx...: ENOSYS, which the kernel remembers for FLUSH and xattrs (it stops
            // asking; users get EOPNOTSUPP for xattrs).
            _ => self.err(u, libc::ENOSYS),
        }
    }

    fn readdir(&self, h: &InHeader, body: &[u8]) {
        let mut b = Bytes::new(body);
        let (Some(_fh), Some(offset), Some(size)) = (b.u64(), b.u64(), b.u32()) else {
            return self.err(h.unique, libc::EINVAL);
        };
        let ino = Ino(h.nodeid);
        let entries = match self.vfs.readdir(ino, h.pid) {
            Ok(e) => e,
            Err(e) => return self.err(h.unique, errno_of(&e)),
        };
        let parent = self.vfs.parent(ino).unwrap_or(ino);
        let all = [(".", ino, Kind::Dir), ("..", parent, Kind::Dir)]
            .into_iter()
            .chain(
                entries
                    .iter()
                    .map(|e| (e.name.as_str(), e.attr.ino, e.attr.kind)),
            );
        let mut out = Vec::with_capacity(size as usize);
        for (i, (name, ino, kind)) in all
            .enumerate()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        {
            let typ = match kind {
                Kind::Dir => abi::DT_DIR,
                Kind::File => abi::DT_REG,
                Kind::Symlink => abi::DT_LNK,
            };
            if !abi::push_dirent(&mut out, size as usize, ino.0, i as u64 + 1, typ, name) {
                break;
            }
        }
        self.ok(h.unique, &[&out]);
    }
}

/// Write `FUSE_NOTIFY_RESEND` on connection `fd`: every request read by a process that
/// is gone goes back to the queue, marked with bit 63. Safe only when no other process
/// is serving (a live server would see its requests twice).
pub(crate) fn notify_resend(fd: BorrowedFd<'_>) -> nix::Result<()> {
    let header = abi::out_header(abi::OUT_HEADER_LEN, abi::NOTIFY_RESEND, 0);
    nix::unistd::write(fd, &header).map(|_| ())
}
