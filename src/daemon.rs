//! The daemon's lifecycle: checks, pidfile, mount point, signals, the FUSE session.
//!
//! * Runs in the foreground (LXCFS's systemd unit relies on that).
//! * The pidfile is created 0600, locked with `flock` for the daemon's lifetime (a second
//!   instance on the same pidfile fails with a clear message), and removed at exit.
//! * A stale mount at the mount point ("Transport endpoint is not connected", left by a
//!   daemon that died) is detached before mounting; a live FUSE mount there is an error.
//! * Signals are blocked in every thread and taken by one thread with `sigwait`:
//!   SIGTERM/SIGINT/SIGHUP unmount, remove the pidfile and exit 0; SIGUSR1 re-detects the
//!   cgroup layout and drops caches; SIGUSR2 toggles host values (LXCFS's
//!   non-virtualisation mode).
#![allow(clippy::disallowed_methods)] // the daemon owns its pidfile and mount point

use crate::clock::SystemClock;
use crate::config::Config;
use crate::sampler::{Engine, Request};
use crate::source::host::HostSource;
use crate::vfs::Vfs;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything the daemon needs, validated by the command line.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// Where to mount (created if missing).
    pub mountpoint: PathBuf,
    /// The pidfile.
    pub pidfile: PathBuf,
    /// Engine configuration.
    pub config: Config,
    /// Extra mount options from `-o` that vproc passes on.
    pub mount_options: Vec<String>,
    /// FUSE worker threads.
    pub threads: usize,
}

/// The signals the daemon handles.
fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        set.add(s);
    }
    set
}

/// The pidfile, locked while it lives.
struct Pidfile {
    path: PathBuf,
    _lock: Flock<File>,
}

impl Pidfile {
    fn create(path: &Path) -> Result<Pidfile, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| {
                format!("cannot create the pidfile directory {}: {e}", dir.display())
            })?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("cannot open pidfile {}: {e}", path.display()))?;
        let mut lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| {
            format!(
                "pidfile {} is locked: another vproc or lxcfs is already running with it",
                path.display()
            )
        })?;
        lock.set_len(0)
            .and_then(|()| writeln!(lock, "{}", std::process::id()))
            .map_err(|e| format!("cannot write pidfile {}: {e}", path.display()))?;
        Ok(Pidfile {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    fn remove(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The mount point of a live FUSE mount at `path`, if any (from mountinfo).
fn fuse_mount_at(path: &Path) -> Option<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").ok()?;
    crate::parse::mountinfo::parse_mountinfo(&text)
        .into_iter()
        .find(|m| Path::new(&m.mount_point) == path && m.fstype.starts_with("fuse"))
        .map(|m| m.fstype)
}

/// Create the mount point, detach a stale mount, refuse a live one.
fn prepare_mountpoint(path: &Path) -> Result<PathBuf, String> {
    if let Err(e) = fs::metadata(path) {
        if e.raw_os_error() == Some(nix::libc::ENOTCONN) {
            log::warn!(
                "{}: stale mount of a dead daemon; detaching it",
                path.display()
            );
            nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| format!("cannot detach the stale mount at {}: {e}", path.display()))?;
        }
    }
    fs::create_dir_all(path)
        .map_err(|e| format!("cannot create mount point {}: {e}", path.display()))?;
    let path =
        fs::canonicalize(path).map_err(|e| format!("mount point {}: {e}", path.display()))?;
    if let Some(fstype) = fuse_mount_at(&path) {
        return Err(format!(
            "mount point {} is busy: a {fstype} filesystem is mounted there",
            path.display()
        ));
    }
    Ok(path)
}

/// Run the daemon until a terminating signal or an external unmount. `Err` is one line
/// for the user; the caller exits non-zero with it.
pub fn run(opts: DaemonOptions) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("must run as root (it mounts a FUSE filesystem and reads every cgroup)".into());
    }
    if fs::metadata("/dev/fuse").is_err() {
        return Err(
            "/dev/fuse is missing: load the fuse module (modprobe fuse) or give the container the device".into(),
        );
    }
    // Block the handled signals before any thread exists, so every thread inherits the
    // mask and only the signal thread receives them.
    let signals = handled_signals();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&signals), None)
        .map_err(|e| format!("cannot block signals: {e}"))?;

    let pidfile = Arc::new(Pidfile::create(&opts.pidfile)?);
    let mountpoint = match prepare_mountpoint(&opts.mountpoint) {
        Ok(p) => p,
        Err(e) => {
            pidfile.remove();
            return Err(e);
        }
    };

    let engine = Engine::new(
        Arc::new(HostSource::new()),
        Arc::new(SystemClock),
        opts.config,
    );
    let sampler = engine.spawn_sampler();
    let vfs = Arc::new(Vfs::new(Arc::clone(&engine)));

    let mut session = match crate::fs::mount(
        Arc::clone(&vfs),
        &mountpoint,
        &opts.mount_options,
        opts.threads,
    ) {
        Ok(s) => s,
        Err(e) => {
            pidfile.remove();
            return Err(format!("cannot mount {}: {e}", mountpoint.display()));
        }
    };
    log::info!(
        "serving {} ({} worker threads, pid {})",
        mountpoint.display(),
        opts.threads,
        std::process::id()
    );

    let mut unmounter = session.unmounter();
    {
        let pidfile = Arc::clone(&pidfile);
        let engine = Arc::clone(&engine);
        let vfs = Arc::clone(&vfs);
        let mountpoint = mountpoint.clone();
        std::thread::Builder::new()
            .name("vproc-signals".into())
            .spawn(move || loop {
                match signals.wait() {
                    Ok(Signal::SIGUSR1) => {
                        log::info!("SIGUSR1: re-detecting cgroups and dropping caches");
                        engine.request(Request::Redetect);
                    }
                    Ok(Signal::SIGUSR2) => {
                        if vfs.toggle_virtualization() {
                            log::info!("Switched into virtualization mode");
                        } else {
                            log::info!("Switched into non-virtualization mode");
                        }
                    }
                    Ok(sig) => {
                        log::info!("{sig}: unmounting {}", mountpoint.display());
                        if let Err(e) = unmounter.unmount() {
                            log::warn!("unmount: {e}; detaching");
                            let _ =
                                nix::mount::umount2(&mountpoint, nix::mount::MntFlags::MNT_DETACH);
                        }
                        pidfile.remove();
                        std::process::exit(0);
                    }
                    Err(e) => log::warn!("sigwait: {e}"),
                }
            })
            .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    }

    let result = session.run();
    engine.request(Request::Stop);
    let _ = sampler.join();
    pidfile.remove();
    result.map_err(|e| format!("FUSE session ended: {e}"))
}
