//! The crate's only `unsafe` code: system calls that `nix` does not wrap.
//!
//! Each function is a thin, checked wrapper; callers never see a raw pointer or an
//! unowned file descriptor.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `PIDFD_THREAD` (Linux 6.9): a pidfd for one thread rather than a thread group. Its
/// value is `O_EXCL` on every architecture.
const PIDFD_THREAD: nix::libc::c_uint = nix::libc::O_EXCL as nix::libc::c_uint;

/// `pidfd_open(2)`: a file descriptor that refers to task `pid` for as long as it lives,
/// and becomes readable (`POLLIN`) once it has exited — the kernel's proof that a pid
/// still names the task it named when the descriptor was taken.
///
/// With `thread` the descriptor follows one thread (`PIDFD_THREAD`, Linux ≥ 6.9);
/// without it `pid` must be a thread-group leader.
pub(crate) fn pidfd_open(pid: u32, thread: bool) -> io::Result<OwnedFd> {
    let pid = nix::libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::from_raw_os_error(nix::libc::ESRCH))?;
    let flags = if thread { PIDFD_THREAD } else { 0 };
    // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1; no memory
    // is passed. A non-negative result is a descriptor this process now owns exclusively.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(nix::libc::EBADF))?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Take ownership of descriptor `fd`, inherited through `exec` from the supervisor
/// (whose command line names it). Fails unless `fd` is open; it must not be owned
/// elsewhere in this process, which holds for descriptors named on the command line:
/// nothing else in the process knows their numbers.
pub(crate) fn adopt_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 3 {
        return Err(io::Error::from_raw_os_error(nix::libc::EBADF));
    }
    // SAFETY: F_GETFD reads the descriptor's flags and touches no memory.
    if unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is open (checked above) and, per the contract, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
