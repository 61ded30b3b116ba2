//! The only way the engine reads the kernel.
//!
//! Paths are absolute *kernel* paths (`/proc/meminfo`, `/sys/fs/cgroup/memory/x/memory.max`).
//! [`host::HostSource`] maps them onto the real filesystem (optionally below a prefix);
//! [`mem::MemSource`] keeps them in memory for unit tests; the `testkit` crate layers
//! fixture trees. Nothing else in the crate reads kernel files.
//!
//! Besides files, a source *pins* tasks ([`Source::pin_task`]): a pin proves, for as long
//! as [`Source::task_alive`] says so, that a pid still names the very task it named when
//! the pin was taken. Pids are recycled (quickly: `pid_max` is 32768 on many hosts), and
//! so are the inode numbers of pid namespaces, so every cached fact about a reader is
//! tied to a pin.

pub mod host;
pub mod mem;
pub(crate) mod record;

use crate::parse::proc_pid::parse_pid_stat;
use std::io;
use std::os::fd::OwnedFd;

/// What kind of node a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (not followed).
    Symlink,
}

/// The few metadata fields the engine needs (for the `/sys` passthrough).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// File, directory or link.
    pub kind: NodeKind,
    /// Permission bits (`st_mode & 0o7777`).
    pub(crate) mode: u32,
}

/// Proof that a pid still names one particular task.
#[derive(Debug)]
pub enum TaskPin {
    /// A pidfd: readable once the task has exited (the kernel's own proof).
    Fd(OwnedFd),
    /// The task's start time (`/proc/<pid>/stat` field 22), compared again on every
    /// check: two tasks never share a pid *and* a start tick. Used by fake kernels and
    /// where the kernel cannot give a pidfd for a thread (Linux < 6.9).
    StartTime {
        /// The pid (thread id) pinned.
        pid: u32,
        /// Its start time in clock ticks after boot.
        start_ticks: u64,
    },
}

/// Read access to a kernel: files, directory listings, links, task pins.
///
/// Implementations are shared by the sampler thread and the FUSE workers; they hold no
/// per-call state.
pub trait Source: Send + Sync {
    /// The whole content of a file (at most [`MAX_FILE_BYTES`]).
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;
    /// The names in a directory, without `.` and `..`, sorted.
    fn read_dir(&self, path: &str) -> io::Result<Vec<String>>;
    /// The target of a symbolic link (`/proc/<pid>/ns/pid` → `pid:[4026531836]`).
    fn read_link(&self, path: &str) -> io::Result<String>;
    /// Kind and mode of a path, without following a final symlink.
    fn metadata(&self, path: &str) -> io::Result<Metadata>;

    /// Pin task `pid` (a thread id as seen from the daemon's pid namespace). Fails with
    /// `ESRCH`/`NotFound` when there is no such task.
    fn pin_task(&self, pid: u32) -> io::Result<TaskPin> {
        start_time_pin(self, pid)
    }

    /// Whether the pinned task still lives (false once it exited: its pid may then name
    /// another task).
    fn task_alive(&self, pin: &TaskPin) -> bool {
        match pin {
            TaskPin::StartTime { pid, start_ticks } => {
                task_start_ticks(self, *pid) == Some(*start_ticks)
            }
            TaskPin::Fd(_) => false,
        }
    }
}

/// Upper bound on what one read returns: no kernel file vproc reads is near this, and a
/// bound keeps a hostile or broken file from exhausting memory.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Read a file as text; invalid UTF-8 is replaced, never an error (the parsers decide
/// whether the text makes sense).
pub(crate) fn read_text(source: &dyn Source, path: &str) -> crate::error::Result<String> {
    source
        .read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| crate::error::Error::io(path, e))
}

/// The start time of task `pid` (clock ticks after boot), if it exists.
pub(crate) fn task_start_ticks<S: Source + ?Sized>(source: &S, pid: u32) -> Option<u64> {
    let bytes = source.read(&format!("/proc/{pid}/stat")).ok()?;
    parse_pid_stat(&String::from_utf8_lossy(&bytes))
        .ok()
        .map(|s| s.start_ticks)
}

/// A [`TaskPin::StartTime`] pin of `pid`.
pub(crate) fn start_time_pin<S: Source + ?Sized>(source: &S, pid: u32) -> io::Result<TaskPin> {
    let start_ticks = task_start_ticks(source, pid)
        .ok_or_else(|| io::Error::from_raw_os_error(nix::libc::ESRCH))?;
    Ok(TaskPin::StartTime { pid, start_ticks })
}
