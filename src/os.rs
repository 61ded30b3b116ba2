//! The daemon's edge: the pidfile, the mount point, `/dev/fuse`, the mount itself and
//! the memory files that carry soft state from one serving process to the next. With
//! `source::host`, the only code that touches the filesystem directly.
#![allow(clippy::disallowed_methods)]

use crate::sampler::persist::StateStore;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, Flock, FlockArg, OFlag};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::Mode;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why the daemon cannot run: one line for the user.
#[derive(Debug)]
pub(crate) enum DaemonError {
    NotRoot,
    /// No `/dev/fuse`.
    NoFuseDevice,
    /// A path could not be used.
    Path {
        /// What it was for ("pidfile", "mount point", ...).
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// Another daemon holds the pidfile.
    PidfileLocked(PathBuf),
    /// A live FUSE filesystem is mounted at the mount point.
    MountPointBusy {
        /// The mount point.
        path: PathBuf,
        /// Its filesystem type.
        fstype: String,
    },
    /// An `-o` option the kernel does not know.
    MountOption(String),
    /// A system call failed.
    Sys {
        /// What was being done.
        what: &'static str,
        source: io::Error,
    },
    /// The serving process crashed too often.
    CrashLoop {
        crashes: usize,
        /// Within this many seconds.
        seconds: u64,
    },
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonError::NotRoot => {
                f.write_str("must run as root (it mounts a FUSE filesystem and reads every cgroup)")
            }
            DaemonError::NoFuseDevice => f.write_str(
                "/dev/fuse is missing: load the fuse module (modprobe fuse) or give the container the device",
            ),
            DaemonError::Path { what, path, source } => {
                write!(f, "{what} {}: {source}", path.display())
            }
            DaemonError::PidfileLocked(p) => write!(
                f,
                "pidfile {} is locked: another vproc or lxcfs is already running with it",
                p.display()
            ),
            DaemonError::MountPointBusy { path, fstype } => write!(
                f,
                "mount point {} is busy: a {fstype} filesystem is mounted there",
                path.display()
            ),
            DaemonError::MountOption(o) => write!(f, "unknown mount option -o {o}"),
            DaemonError::Sys { what, source } => write!(f, "{what}: {source}"),
            DaemonError::CrashLoop { crashes, seconds } => write!(
                f,
                "the serving process crashed {crashes} times in {seconds} s; giving up (see the log above)"
            ),
        }
    }
}

impl std::error::Error for DaemonError {}

pub(crate) fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> DaemonError {
    move |e| DaemonError::Sys {
        what,
        source: io::Error::from(e),
    }
}

/// The pidfile, locked while it lives.
pub(crate) struct Pidfile {
    path: PathBuf,
    _lock: Flock<File>,
}

impl Pidfile {
    /// Create and lock `path` (0600), write this process's pid.
    pub(crate) fn create(path: &Path) -> Result<Pidfile, DaemonError> {
        let err = |source| DaemonError::Path {
            what: "pidfile",
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(err)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_CLOEXEC)
            .open(path)
            .map_err(err)?;
        let mut lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| DaemonError::PidfileLocked(path.to_path_buf()))?;
        lock.set_len(0)
            .and_then(|()| writeln!(lock, "{}", std::process::id()))
            .map_err(err)?;
        Ok(Pidfile {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// Remove the file (the lock goes with the process).
    pub(crate) fn remove(&self) {
        let _ = fs::remove_file(&self.path);
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// The pid in a pidfile.
pub(crate) fn read_pidfile(path: &Path) -> io::Result<i32> {
    fs::read_to_string(path)?
        .trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not a pid"))
}

/// The filesystem type mounted at `path`, if it is a FUSE mount point.
pub(crate) fn fuse_mount_at(path: &Path) -> Option<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").ok()?;
    crate::parse::mountinfo::parse_mountinfo(&text)
        .into_iter()
        .find(|m| Path::new(&m.mount_point) == path && m.fstype.starts_with("fuse"))
        .map(|m| m.fstype)
}

/// Create the mount point, detach a stale mount (its daemon died), refuse a live one.
pub(crate) fn prepare_mountpoint(path: &Path) -> Result<PathBuf, DaemonError> {
    let err = |source| DaemonError::Path {
        what: "mount point",
        path: path.to_path_buf(),
        source,
    };
    // statfs always reaches the filesystem's server (attributes may be cached for a
    // minute): ENOTCONN means its daemon is gone.
    if let Err(e) = nix::sys::statfs::statfs(path) {
        if e == nix::errno::Errno::ENOTCONN {
            log::warn!(
                "{}: stale mount of a dead daemon; detaching it",
                path.display()
            );
            nix::mount::umount2(path, MntFlags::MNT_DETACH).map_err(|e| err(e.into()))?;
        }
    }
    fs::create_dir_all(path).map_err(err)?;
    let path = fs::canonicalize(path).map_err(err)?;
    if let Some(fstype) = fuse_mount_at(&path) {
        return Err(DaemonError::MountPointBusy { path, fstype });
    }
    Ok(path)
}

/// Root and `/dev/fuse`.
pub(crate) fn check_privileges() -> Result<(), DaemonError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(DaemonError::NotRoot);
    }
    if fs::metadata("/dev/fuse").is_err() {
        return Err(DaemonError::NoFuseDevice);
    }
    Ok(())
}

/// Raise the soft limit on open files to the hard limit (the default soft limit is
/// often 1024): every reader thread vproc remembers holds a pidfd, and the sampler
/// opens cgroup files. The serving processes inherit it.
pub(crate) fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                log::warn!("cannot raise the open-file limit from {soft} to {hard}: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => log::warn!("cannot read the open-file limit: {e}"),
    }
}

/// `-o` options: mount flags by name, FUSE's own data options, or an error.
fn mount_flags(options: &[String]) -> Result<(MsFlags, Vec<String>), DaemonError> {
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    let mut data = Vec::new();
    for o in options {
        match o.as_str() {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags &= !MsFlags::MS_RDONLY,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "exec" => flags &= !MsFlags::MS_NOEXEC,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "suid" => flags &= !MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "dev" => flags &= !MsFlags::MS_NODEV,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "atime" => flags &= !MsFlags::MS_NOATIME,
            "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
            "async" => flags &= !MsFlags::MS_SYNCHRONOUS,
            "dirsync" => flags |= MsFlags::MS_DIRSYNC,
            "default_permissions" => data.push(o.clone()),
            o if o.starts_with("max_read=") => data.push(o.to_owned()),
            other => return Err(DaemonError::MountOption(other.to_owned())),
        }
    }
    Ok((flags, data))
}

/// Open `/dev/fuse` and mount it at `mountpoint` (source `vproc`, type `fuse.vproc`,
/// `allow_other`). The descriptor is the connection: whoever holds it can serve it.
pub(crate) fn mount_fuse(mountpoint: &Path, options: &[String]) -> Result<OwnedFd, DaemonError> {
    let (flags, extra) = mount_flags(options)?;
    let fd = nix::fcntl::open("/dev/fuse", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(sys("opening /dev/fuse"))?;
    let mut data = format!(
        "fd={},rootmode=40000,user_id=0,group_id=0,allow_other",
        fd.as_raw_fd()
    );
    for o in extra {
        data.push(',');
        data.push_str(&o);
    }
    nix::mount::mount(
        Some("vproc"),
        mountpoint,
        Some("fuse.vproc"),
        flags,
        Some(data.as_str()),
    )
    .map_err(sys("mounting"))?;
    Ok(fd)
}

/// Detach the mount at `path` (lazily: open files keep working until closed).
pub(crate) fn unmount(path: &Path) {
    if let Err(e) = nix::mount::umount2(path, MntFlags::MNT_DETACH) {
        log::warn!("unmounting {}: {e}", path.display());
    }
}

/// Let (or stop letting) a descriptor pass to a child through `exec`.
pub(crate) fn set_inheritable(fd: BorrowedFd<'_>, inherit: bool) -> Result<(), DaemonError> {
    let flags = if inherit {
        FdFlag::empty()
    } else {
        FdFlag::FD_CLOEXEC
    };
    fcntl(fd, FcntlArg::F_SETFD(flags))
        .map(|_| ())
        .map_err(sys("setting FD_CLOEXEC"))
}

/// Two memory files holding the soft state, written alternately: a crash while one is
/// written leaves the other intact. Each starts with `seq len checksum` (24 bytes).
pub(crate) struct MemfdState {
    files: [OwnedFd; 2],
    seq: u64,
}

const STATE_HEADER: usize = 24;

fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl MemfdState {
    /// Two new, empty state files.
    pub(crate) fn create() -> Result<MemfdState, DaemonError> {
        let make = |name: &str| {
            nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .map_err(sys("creating the state memory file"))
        };
        Ok(MemfdState {
            files: [make("vproc-state-a")?, make("vproc-state-b")?],
            seq: 0,
        })
    }

    /// The state files a supervisor passed on.
    pub(crate) fn adopt(files: [OwnedFd; 2]) -> MemfdState {
        let mut s = MemfdState { files, seq: 0 };
        s.seq = s.newest().map_or(0, |(seq, _)| seq);
        s
    }

    pub(crate) fn fds(&self) -> [BorrowedFd<'_>; 2] {
        [self.files[0].as_fd(), self.files[1].as_fd()]
    }

    fn read_one(fd: BorrowedFd<'_>) -> Option<(u64, Vec<u8>)> {
        let mut head = [0u8; STATE_HEADER];
        if nix::sys::uio::pread(fd, &mut head, 0).ok()? != STATE_HEADER {
            return None;
        }
        let field =
            |i: usize| u64::from_ne_bytes(head[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let (seq, len, sum) = (field(0), field(1), field(2));
        let len = usize::try_from(len).ok().filter(|l| *l <= 1 << 30)?;
        let mut data = vec![0u8; len];
        let mut done = 0;
        while done < len {
            let n =
                nix::sys::uio::pread(fd, &mut data[done..], (STATE_HEADER + done) as i64).ok()?;
            if n == 0 {
                return None;
            }
            done += n;
        }
        (checksum(&data) == sum && seq > 0).then_some((seq, data))
    }

    fn newest(&self) -> Option<(u64, Vec<u8>)> {
        let a = Self::read_one(self.files[0].as_fd());
        let b = Self::read_one(self.files[1].as_fd());
        match (a, b) {
            (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

impl StateStore for MemfdState {
    fn save(&mut self, blob: &[u8]) -> io::Result<()> {
        self.seq += 1;
        let fd = self.files[(self.seq % 2) as usize].as_fd();
        // The body first, the header (which validates it) last.
        let mut done = 0;
        while done < blob.len() {
            done += nix::sys::uio::pwrite(fd, &blob[done..], (STATE_HEADER + done) as i64)?;
        }
        let mut head = [0u8; STATE_HEADER];
        head[0..8].copy_from_slice(&self.seq.to_ne_bytes());
        head[8..16].copy_from_slice(&(blob.len() as u64).to_ne_bytes());
        head[16..24].copy_from_slice(&checksum(blob).to_ne_bytes());
        nix::sys::uio::pwrite(fd, &head, 0)?;
        Ok(())
    }

    fn load(&mut self) -> Option<Vec<u8>> {
        self.newest().map(|(_, data)| data)
    }
}

/// The path of the running binary as it was when the process started, so that an
/// upgrade starts the file now at that path (a package manager replaces it).
pub(crate) fn binary_path() -> PathBuf {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .filter(|p| p.components().count() > 1)
        .and_then(|p| fs::canonicalize(p).ok())
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"))
}

/// Tell systemd (a `Type=notify` unit: `$NOTIFY_SOCKET` set) that the mount serves, so
/// the container managers ordered after vproc start only once their binds will work.
/// Outside systemd this does nothing.
pub(crate) fn notify_systemd(state: &str) {
    use nix::sys::socket::{sendto, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    // `@name`: an abstract socket.
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => UnixAddr::new_abstract(name),
        None => UnixAddr::new(bytes),
    };
    let sent = addr.and_then(|addr| {
        let sock = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        sendto(sock.as_raw_fd(), state.as_bytes(), &addr, MsgFlags::empty())
    });
    if let Err(e) = sent {
        log::warn!("cannot notify systemd ({e}); a Type=notify unit will time out");
    }
}

/// Write a small status file atomically (`vproc upgrade` reads it).
pub(crate) fn write_status(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    if fs::write(&tmp, text)
        .and_then(|()| fs::rename(&tmp, path))
        .is_err()
    {
        log::debug!("cannot write {}", path.display());
    }
}

/// Write a whole file (a generated manual page).
pub(crate) fn write_file(path: &Path, data: &[u8]) -> io::Result<()> {
    fs::write(path, data)
}

/// Read a status file.
pub(crate) fn read_status(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// Remove a status file.
pub(crate) fn remove_status(path: &Path) {
    let _ = fs::remove_file(path);
}

/// Write the kernel files `recorded` below `dir` (kernel paths, links as links,
/// listed directories as directories) and `scenario` as `dir/scenario.toml`: a fixture.
/// Returns how many files were written.
pub(crate) fn write_capture(
    dir: &Path,
    recorded: &std::collections::BTreeMap<String, crate::source::record::Recorded>,
    scenario: &str,
) -> Result<usize, String> {
    use crate::source::record::Recorded;
    let err = |p: &Path, e: io::Error| format!("{}: {e}", p.display());
    fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let mut files = 0;
    for (path, what) in recorded {
        let target = dir.join(path.trim_start_matches('/'));
        match what {
            Recorded::Dir => fs::create_dir_all(&target).map_err(|e| err(&target, e))?,
            Recorded::File(bytes) => {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).map_err(|e| err(parent, e))?;
                }
                fs::write(&target, bytes).map_err(|e| err(&target, e))?;
                files += 1;
            }
            Recorded::Link(to) => {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).map_err(|e| err(parent, e))?;
                }
                let _ = fs::remove_file(&target);
                std::os::unix::fs::symlink(to, &target).map_err(|e| err(&target, e))?;
            }
        }
    }
    fs::write(dir.join("scenario.toml"), scenario).map_err(|e| err(dir, e))?;
    Ok(files)
}
