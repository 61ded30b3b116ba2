//! [`HostSource`]: the real filesystem. This is the only module that opens kernel files.
#![allow(clippy::disallowed_methods)]

use super::{start_time_pin, Metadata, NodeKind, Source, TaskPin, MAX_FILE_BYTES};
use std::fs;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Reads kernel paths from the real filesystem, below `root` (`/` in production; a
/// fixture directory in tests).
#[derive(Debug)]
pub struct HostSource {
    root: PathBuf,
    /// Whether task pins are pidfds (only on the machine's own `/`).
    live: bool,
    /// Cleared once the kernel refused `PIDFD_THREAD` (Linux < 6.9).
    thread_pidfds: AtomicBool,
}

impl Default for HostSource {
    fn default() -> Self {
        Self::new()
    }
}

impl HostSource {
    /// The machine's own `/`.
    pub fn new() -> Self {
        HostSource {
            root: PathBuf::from("/"),
            live: true,
            thread_pidfds: AtomicBool::new(true),
        }
    }

    /// Kernel paths resolved below `root` (the testkit's fixture trees). Task pins are
    /// start times read from the tree.
    pub fn rooted(root: impl AsRef<Path>) -> Self {
        HostSource {
            root: root.as_ref().to_path_buf(),
            live: false,
            thread_pidfds: AtomicBool::new(false),
        }
    }

    fn map(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// A pidfd for thread `pid`: a thread pidfd where the kernel has them, else a
    /// process pidfd when `pid` leads its thread group; `None` when neither is possible
    /// (a non-leader thread on an old kernel).
    fn pidfd(&self, pid: u32) -> io::Result<Option<TaskPin>> {
        if self.thread_pidfds.load(Ordering::Relaxed) {
            match crate::sys::pidfd_open(pid, true) {
                Ok(fd) => return Ok(Some(TaskPin::Fd(fd))),
                Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => {
                    log::debug!("no thread pidfds on this kernel (Linux < 6.9): pinning threads by start time");
                    self.thread_pidfds.store(false, Ordering::Relaxed);
                }
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOSYS) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        match crate::sys::pidfd_open(pid, false) {
            Ok(fd) => Ok(Some(TaskPin::Fd(fd))),
            // EINVAL: `pid` is a thread but not a thread-group leader.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EINVAL | nix::libc::ENOSYS)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

impl Source for HostSource {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        fs::File::open(self.map(path))?
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut out)?;
        Ok(out)
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let mut names = fs::read_dir(self.map(path))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        names.sort();
        Ok(names)
    }

    fn read_link(&self, path: &str) -> io::Result<String> {
        Ok(fs::read_link(self.map(path))?
            .to_string_lossy()
            .into_owned())
    }

    fn metadata(&self, path: &str) -> io::Result<Metadata> {
        let meta = fs::symlink_metadata(self.map(path))?;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            NodeKind::Dir
        } else if ft.is_symlink() {
            NodeKind::Symlink
        } else {
            NodeKind::File
        };
        Ok(Metadata {
            kind,
            mode: meta.permissions().mode() & 0o7777,
        })
    }

    fn pin_task(&self, pid: u32) -> io::Result<TaskPin> {
        if self.live {
            match self.pidfd(pid) {
                Ok(Some(pin)) => return Ok(pin),
                Ok(None) => {}
                // Out of descriptors: the start time pins the task just as surely.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(nix::libc::EMFILE | nix::libc::ENFILE)
                    ) =>
                {
                    log::debug!("pidfd for {pid}: {e}; pinning by start time");
                }
                Err(e) => return Err(e),
            }
        }
        start_time_pin(self, pid)
    }

    fn task_alive(&self, pin: &TaskPin) -> bool {
        match pin {
            TaskPin::Fd(fd) => {
                use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                // A pidfd polls readable once its task has exited; 0 ready = alive.
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                matches!(poll(&mut fds, PollTimeout::ZERO), Ok(0))
            }
            TaskPin::StartTime { pid, start_ticks } => {
                super::task_start_ticks(self, *pid) == Some(*start_ticks)
            }
        }
    }
}

const _: () = {
    const fn assert_source<T: Source>() {}
    assert_source::<HostSource>();
};
