//! SIGINT, SIGTERM and SIGHUP end the run by unwinding, so that every mount, cgroup,
//! helper process and tracefs instance is released by its `Drop`. A second signal exits
//! at once.
//!
//! The signals are blocked in every thread and taken by a watcher thread. Child processes
//! inherit a blocked mask (`std::process::Command` does not reset it), so children are
//! started with [`spawn`], or before [`watch`] (the daemons: `Daemon::start` spawns them
//! itself), never with the signals blocked: a daemon would then ignore SIGTERM.

use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use std::io;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set
}

/// Block the signals in the calling thread and take them in a watcher thread. Call it
/// from `main` before any other thread exists, so that every thread inherits the mask.
pub(crate) fn watch() -> nix::Result<()> {
    let set = signals();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
    std::thread::spawn(move || loop {
        if let Ok(sig) = set.wait() {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                eprintln!("{sig} again: exiting without cleanup");
                std::process::exit(130);
            }
            eprintln!("{sig}: stopping and cleaning up (again to exit at once)");
        }
    });
    Ok(())
}

/// Spawn `cmd` with the signals unblocked in the child (they are unblocked in the
/// calling thread for the duration of the spawn).
pub(crate) fn spawn(cmd: &mut Command) -> io::Result<Child> {
    let set = signals();
    pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None)?;
    let child = cmd.spawn();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
    child
}

/// Unwind if a signal arrived.
pub(crate) fn check() {
    if INTERRUPTED.load(Ordering::Relaxed) {
        panic!("interrupted by a signal");
    }
}

/// Sleep `dur`, unwinding early if a signal arrives.
pub(crate) fn sleep(dur: Duration) {
    let end = Instant::now() + dur;
    loop {
        check();
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}
