//! The FUSE kernel protocol, the part of it vproc speaks (`include/uapi/linux/fuse.h`).
//!
//! Messages are host-endian C structs; they are read and written here field by field
//! from byte slices, so no layout is assumed and no `unsafe` is needed. Sizes are those
//! of protocol 7.9 and later (every kernel vproc supports negotiates ≥ 7.26).

/// Protocol major version.
pub(crate) const KERNEL_VERSION: u32 = 7;
/// The newest minor version this implementation knows.
pub(crate) const KERNEL_MINOR_VERSION: u32 = 45;
/// Oldest minor version accepted (Linux 4.14).
pub(crate) const MIN_MINOR_VERSION: u32 = 26;

/// `fuse_in_header`.
pub(crate) const IN_HEADER_LEN: usize = 40;
/// `fuse_out_header`.
pub(crate) const OUT_HEADER_LEN: usize = 16;
/// The kernel refuses reads into buffers smaller than this (`FUSE_MIN_READ_BUFFER`).
pub(crate) const MIN_READ_BUFFER: usize = 8192;
// A resent request (after `FUSE_NOTIFY_RESEND`) has bit 63 set in `unique`; replies
// echo the unique exactly as read, so nothing here needs to know.

/// `FUSE_NOTIFY_RESEND`: put every request read but not answered back in the queue.
pub(crate) const NOTIFY_RESEND: i32 = 7;

/// `fuse_in_header.opcode` values vproc answers or refuses explicitly.
pub(crate) mod op {
    pub(crate) const LOOKUP: u32 = 1;
    pub(crate) const FORGET: u32 = 2;
    pub(crate) const GETATTR: u32 = 3;
    pub(crate) const SETATTR: u32 = 4;
    pub(crate) const READLINK: u32 = 5;
    pub(crate) const SYMLINK: u32 = 6;
    pub(crate) const MKNOD: u32 = 8;
    pub(crate) const MKDIR: u32 = 9;
    pub(crate) const UNLINK: u32 = 10;
    pub(crate) const RMDIR: u32 = 11;
    pub(crate) const RENAME: u32 = 12;
    pub(crate) const LINK: u32 = 13;
    pub(crate) const OPEN: u32 = 14;
    pub(crate) const READ: u32 = 15;
    pub(crate) const WRITE: u32 = 16;
    pub(crate) const STATFS: u32 = 17;
    pub(crate) const RELEASE: u32 = 18;
    pub(crate) const FSYNC: u32 = 20;
    pub(crate) const INIT: u32 = 26;
    pub(crate) const OPENDIR: u32 = 27;
    pub(crate) const READDIR: u32 = 28;
    pub(crate) const RELEASEDIR: u32 = 29;
    pub(crate) const ACCESS: u32 = 34;
    pub(crate) const CREATE: u32 = 35;
    pub(crate) const INTERRUPT: u32 = 36;
    pub(crate) const DESTROY: u32 = 38;
    pub(crate) const BATCH_FORGET: u32 = 42;
    pub(crate) const RENAME2: u32 = 45;
    pub(crate) const TMPFILE: u32 = 51;
}

/// `fuse_init_in.flags` / `fuse_init_out.flags` bits vproc uses.
pub(crate) mod init_flag {
    pub(crate) const ASYNC_READ: u64 = 1 << 0;
    pub(crate) const BIG_WRITES: u64 = 1 << 5;
    pub(crate) const PARALLEL_DIROPS: u64 = 1 << 18;
    pub(crate) const CACHE_SYMLINKS: u64 = 1 << 23;
    pub(crate) const INIT_EXT: u64 = 1 << 30;
    /// The kernel can resend requests (`FUSE_NOTIFY_RESEND`, Linux ≥ 6.9).
    pub(crate) const HAS_RESEND: u64 = 1 << 39;
    /// Never negotiated: a server that dies holding a request would make the kernel
    /// abort the whole connection after the timeout.
    pub(crate) const REQUEST_TIMEOUT: u64 = 1 << 42;
}

/// `fuse_open_out.open_flags`.
pub(crate) const FOPEN_DIRECT_IO: u32 = 1 << 0;
/// Keep the directory's cached listing from earlier opens.
pub(crate) const FOPEN_KEEP_CACHE: u32 = 1 << 1;
/// Let the kernel cache the listing.
pub(crate) const FOPEN_CACHE_DIR: u32 = 1 << 3;

/// `setattr` valid bits: everything but the size.
pub(crate) const FATTR_SIZE: u32 = 1 << 3;
/// `setattr` valid bits that change nothing an owner could see: which handle, times,
/// the lock owner, dropping suid (`FATTR_FH`, `ATIME`, `MTIME`, `ATIME_NOW`,
/// `MTIME_NOW`, `LOCKOWNER`, `CTIME`, `KILL_SUIDGID`). `O_TRUNC` and `truncate(2)` add
/// some of them to `FATTR_SIZE`.
pub(crate) const FATTR_INCIDENTAL: u32 =
    (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11);

/// Whether a `setattr` only truncates (mode, owner and size are what the other bits
/// change).
pub(crate) fn truncate_only(valid: u32) -> bool {
    valid & !FATTR_INCIDENTAL == FATTR_SIZE
}

/// Directory entry types (`DT_*`).
pub(crate) const DT_DIR: u32 = 4;
pub(crate) const DT_REG: u32 = 8;
pub(crate) const DT_LNK: u32 = 10;

/// File type bits of `st_mode`.
pub(crate) const S_IFDIR: u32 = 0o040_000;
pub(crate) const S_IFREG: u32 = 0o100_000;
pub(crate) const S_IFLNK: u32 = 0o120_000;

/// Access mask bits (`access(2)`).
pub(crate) const W_OK: u32 = 2;
pub(crate) const X_OK: u32 = 1;

/// A little reader over a request's bytes.
pub(crate) struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Some(head)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
    }

    /// A NUL-terminated name.
    pub(crate) fn name(&mut self) -> Option<&'a str> {
        let end = self.data.iter().position(|b| *b == 0)?;
        let name = std::str::from_utf8(&self.data[..end]).ok()?;
        self.data = &self.data[end + 1..];
        Some(name)
    }
}

/// `fuse_in_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InHeader {
    pub(crate) len: u32,
    pub(crate) opcode: u32,
    pub(crate) unique: u64,
    pub(crate) nodeid: u64,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) pid: u32,
}

impl InHeader {
    pub(crate) fn parse(buf: &[u8]) -> Option<(InHeader, &[u8])> {
        let mut b = Bytes::new(buf);
        let h = InHeader {
            len: b.u32()?,
            opcode: b.u32()?,
            unique: b.u64()?,
            nodeid: b.u64()?,
            uid: b.u32()?,
            gid: b.u32()?,
            pid: b.u32()?,
        };
        let total_extlen = b.u32()? & 0xffff;
        let end = usize::try_from(h.len).ok()?.min(buf.len());
        // Extension headers (total_extlen × 8 bytes) follow the arguments; vproc never
        // negotiates them, but a request carrying some is cut where they start.
        let ext = usize::try_from(total_extlen).ok()? * 8;
        let body = buf.get(IN_HEADER_LEN..end.checked_sub(ext)?)?;
        Some((h, body))
    }
}

/// `fuse_init_in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InitIn {
    pub(crate) major: u32,
    pub(crate) minor: u32,
    pub(crate) max_readahead: u32,
    pub(crate) flags: u64,
}

impl InitIn {
    pub(crate) fn parse(body: &[u8]) -> Option<InitIn> {
        let mut b = Bytes::new(body);
        let major = b.u32()?;
        let minor = b.u32()?;
        let max_readahead = b.u32()?;
        let low = u64::from(b.u32()?);
        // flags2 exists from 7.36 on, and counts only with FUSE_INIT_EXT.
        let high = if low & init_flag::INIT_EXT != 0 {
            b.u32().map_or(0, u64::from)
        } else {
            0
        };
        Some(InitIn {
            major,
            minor,
            max_readahead,
            flags: low | high << 32,
        })
    }
}

/// `fuse_init_out` (64 bytes from 7.23 on).
pub(crate) fn init_out(minor: u32, max_readahead: u32, flags: u64, max_write: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(&KERNEL_VERSION.to_ne_bytes());
    v.extend_from_slice(&minor.to_ne_bytes());
    v.extend_from_slice(&max_readahead.to_ne_bytes());
    v.extend_from_slice(&((flags & 0xffff_ffff) as u32).to_ne_bytes());
    v.extend_from_slice(&64u16.to_ne_bytes()); // max_background
    v.extend_from_slice(&48u16.to_ne_bytes()); // congestion_threshold
    v.extend_from_slice(&max_write.to_ne_bytes());
    v.extend_from_slice(&1u32.to_ne_bytes()); // time_gran
    v.extend_from_slice(&0u16.to_ne_bytes()); // max_pages
    v.extend_from_slice(&0u16.to_ne_bytes()); // map_alignment
    v.extend_from_slice(&((flags >> 32) as u32).to_ne_bytes()); // flags2
    v.resize(64, 0); // max_stack_depth, request_timeout (never set), unused
    v
}

/// `fuse_out_header`.
pub(crate) fn out_header(len: usize, error: i32, unique: u64) -> [u8; OUT_HEADER_LEN] {
    let mut h = [0u8; OUT_HEADER_LEN];
    h[0..4].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_ne_bytes());
    h[4..8].copy_from_slice(&error.to_ne_bytes());
    h[8..16].copy_from_slice(&unique.to_ne_bytes());
    h
}

/// The attributes the kernel caches (`fuse_attr`, 88 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileAttr {
    pub(crate) ino: u64,
    pub(crate) mode: u32,
    pub(crate) nlink: u32,
    pub(crate) time_s: u64,
    pub(crate) time_ns: u32,
}

fn put_attr(v: &mut Vec<u8>, a: &FileAttr) {
    v.extend_from_slice(&a.ino.to_ne_bytes());
    v.extend_from_slice(&0u64.to_ne_bytes()); // size: files are read to EOF
    v.extend_from_slice(&0u64.to_ne_bytes()); // blocks
    for _ in 0..3 {
        v.extend_from_slice(&a.time_s.to_ne_bytes()); // atime, mtime, ctime
    }
    for _ in 0..3 {
        v.extend_from_slice(&a.time_ns.to_ne_bytes());
    }
    v.extend_from_slice(&a.mode.to_ne_bytes());
    v.extend_from_slice(&a.nlink.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes()); // uid
    v.extend_from_slice(&0u32.to_ne_bytes()); // gid
    v.extend_from_slice(&0u32.to_ne_bytes()); // rdev
    v.extend_from_slice(&4096u32.to_ne_bytes()); // blksize
    v.extend_from_slice(&0u32.to_ne_bytes()); // flags
}

/// A validity period as (seconds, nanoseconds).
pub(crate) type Ttl = (u64, u32);

/// `fuse_entry_out` (128 bytes).
pub(crate) fn entry_out(a: &FileAttr, entry: Ttl, attr: Ttl) -> Vec<u8> {
    let mut v = Vec::with_capacity(128);
    v.extend_from_slice(&a.ino.to_ne_bytes());
    v.extend_from_slice(&0u64.to_ne_bytes()); // generation
    v.extend_from_slice(&entry.0.to_ne_bytes());
    v.extend_from_slice(&attr.0.to_ne_bytes());
    v.extend_from_slice(&entry.1.to_ne_bytes());
    v.extend_from_slice(&attr.1.to_ne_bytes());
    put_attr(&mut v, a);
    v
}

/// `fuse_attr_out` (104 bytes).
pub(crate) fn attr_out(a: &FileAttr, attr: Ttl) -> Vec<u8> {
    let mut v = Vec::with_capacity(104);
    v.extend_from_slice(&attr.0.to_ne_bytes());
    v.extend_from_slice(&attr.1.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    put_attr(&mut v, a);
    v
}

/// `fuse_open_out` (16 bytes).
pub(crate) fn open_out(fh: u64, open_flags: u32) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[0..8].copy_from_slice(&fh.to_ne_bytes());
    v[8..12].copy_from_slice(&open_flags.to_ne_bytes());
    v
}

/// `fuse_kstatfs` (80 bytes): an empty filesystem with 4 KiB blocks and 255-byte names.
pub(crate) fn statfs_out() -> [u8; 80] {
    let mut v = [0u8; 80];
    v[40..44].copy_from_slice(&4096u32.to_ne_bytes()); // bsize
    v[44..48].copy_from_slice(&255u32.to_ne_bytes()); // namelen
    v[48..52].copy_from_slice(&4096u32.to_ne_bytes()); // frsize
    v
}

/// Append one `fuse_dirent` (header + name, padded to 8 bytes) if it fits in `max`
/// bytes; returns false when it does not.
pub(crate) fn push_dirent(
    buf: &mut Vec<u8>,
    max: usize,
    ino: u64,
    off: u64,
    typ: u32,
    name: &str,
) -> bool {
    let len = (24 + name.len()).div_ceil(8) * 8;
    if buf.len() + len > max {
        return false;
    }
    buf.extend_from_slice(&ino.to_ne_bytes());
    buf.extend_from_slice(&off.to_ne_bytes());
    buf.extend_from_slice(&u32::try_from(name.len()).unwrap_or(0).to_ne_bytes());
    buf.extend_from_slice(&typ.to_ne_bytes());
    buf.extend_from_slice(name.as_bytes());
    buf.resize(buf.len() + len - 24 - name.len(), 0);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_is_recognised_whatever_the_kernel_adds() {
        // O_TRUNC: SIZE | FH | LOCKOWNER | MTIME | MTIME_NOW (+ CTIME on recent kernels).
        assert!(truncate_only(FATTR_SIZE));
        assert!(truncate_only(
            FATTR_SIZE | (1 << 6) | (1 << 9) | (1 << 5) | (1 << 8)
        ));
        assert!(truncate_only(FATTR_SIZE | (1 << 10) | (1 << 11)));
        // chmod, chown, or times alone are not a truncation.
        assert!(!truncate_only(FATTR_SIZE | 1));
        assert!(!truncate_only(FATTR_SIZE | (1 << 1)));
        assert!(!truncate_only((1 << 4) | (1 << 5)));
    }

    fn request(opcode: u32, unique: u64, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((IN_HEADER_LEN + body.len()) as u32).to_ne_bytes());
        v.extend_from_slice(&opcode.to_ne_bytes());
        v.extend_from_slice(&unique.to_ne_bytes());
        v.extend_from_slice(&5u64.to_ne_bytes());
        v.extend_from_slice(&[0u8; 4 * 2]);
        v.extend_from_slice(&4242u32.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn headers_and_init() {
        let mut body = Vec::new();
        for x in [
            7u32,
            45,
            131072,
            (init_flag::INIT_EXT | init_flag::ASYNC_READ) as u32,
            0x80,
        ] {
            body.extend_from_slice(&x.to_ne_bytes());
        }
        body.resize(64, 0);
        let req = request(op::INIT, 1 << 63 | 2, &body);
        let (h, b) = InHeader::parse(&req).unwrap();
        assert_eq!(
            (h.opcode, h.unique, h.nodeid, h.pid),
            (op::INIT, 1 << 63 | 2, 5, 4242)
        );
        let init = InitIn::parse(b).unwrap();
        assert_eq!(
            (init.major, init.minor, init.max_readahead),
            (7, 45, 131072)
        );
        assert_eq!(
            init.flags,
            init_flag::INIT_EXT | init_flag::ASYNC_READ | init_flag::HAS_RESEND
        );
        assert_eq!(init_out(45, 131072, init_flag::HAS_RESEND, 8192).len(), 64);
        assert!(InHeader::parse(&req[..20]).is_none());
    }

    #[test]
    fn reply_layouts_have_the_kernels_sizes() {
        let a = FileAttr {
            ino: 5,
            mode: S_IFREG | 0o444,
            nlink: 1,
            time_s: 1,
            time_ns: 2,
        };
        assert_eq!(entry_out(&a, (1, 0), (1, 0)).len(), 128);
        assert_eq!(attr_out(&a, (1, 0)).len(), 104);
        assert_eq!(out_header(16, -2, 9)[4..8], (-2i32).to_ne_bytes());
        let mut d = Vec::new();
        assert!(push_dirent(&mut d, 4096, 5, 1, DT_REG, "meminfo"));
        assert_eq!(d.len(), 32);
        assert!(!push_dirent(&mut d, 40, 6, 2, DT_REG, "stat"));
    }

    #[test]
    fn names_are_nul_terminated() {
        let mut b = Bytes::new(b"meminfo\0rest");
        assert_eq!(b.name(), Some("meminfo"));
        assert_eq!(b.name(), None);
    }
}
