//! The supervisor: the `vproc` process a user or systemd starts (its pid is in the
//! pidfile). It mounts, holds the `/dev/fuse` connection and runs serving processes on
//! it; it never reads or answers a request itself, so almost nothing in it can crash.
//!
//! What survives what (the kernel keeps a connection alive while any process holds its
//! descriptor; see `shared/notes` in the design history):
//! * **The serving process dies** (crash, kill -9, OOM): the supervisor reaps it, writes
//!   `FUSE_NOTIFY_RESEND` (requests it had read go back to the queue, Linux ≥ 6.9) and
//!   starts a new one at once on the same connection, with the same negotiated
//!   parameters and the soft state (load averages, `/proc/stat` counters) the old one
//!   saved before every publication. Readers wait a few milliseconds; none fails.
//!   A process killed from outside (SIGKILL, SIGTERM: an operator, the OOM killer) is
//!   replaced at once, however often. A process that fails by itself (a panic aborts
//!   it, a fault, an error exit) counts as a crash: from the third crash within 10 s
//!   restarts back off (100 ms, doubling, at most 5 s), and after 10 crashes within
//!   60 s the supervisor gives up loudly: it unmounts and exits 1 (systemd's
//!   `Restart=` then decides).
//! * **Upgrade** (SIGUSR1, or `vproc upgrade`): the binary now on disk is started in
//!   standby; once it runs, the old server stops at a request boundary, saves its state
//!   and exits; the new one takes over (one short stall). If the new binary does not
//!   start, the old one keeps serving.
//! * **The supervisor dies**: the serving process dies with it (`PR_SET_PDEATHSIG`), the
//!   mount turns stale, and starting vproc again replaces it (as with LXCFS).
//!
//! Signals: SIGTERM, SIGINT, SIGHUP unmount, remove the pidfile and exit 0; SIGUSR1
//! upgrades; SIGUSR2 toggles host values (LXCFS's non-virtualisation mode), also for
//! every later serving process.

use crate::control::{self, Message};
use crate::fs::Negotiated;
use crate::os::{self, DaemonError, MemfdState, Pidfile};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Everything the supervisor needs, from the command line.
#[derive(Clone, Debug)]
pub(crate) struct SupervisorOptions {
    pub(crate) mountpoint: PathBuf,
    pub(crate) pidfile: PathBuf,
    /// Extra `-o` mount options.
    pub(crate) mount_options: Vec<String>,
    /// The command line a serving process gets (the user's options; `--serve` is added).
    pub(crate) server_args: Vec<String>,
}

/// How long a standby server may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an old server may take to stop at a request boundary.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Crash-loop handling (crashes, not kills: see the module docs).
const BACKOFF_AFTER: usize = 3;
const BACKOFF_WINDOW: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const GIVE_UP_AFTER: usize = 10;
const GIVE_UP_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, PartialEq, Eq)]
enum Role {
    /// Serving the connection.
    Current,
    /// Started for an upgrade, not serving yet.
    Standby,
    /// Told to stop (an upgrade is replacing it).
    Stopping,
}

struct Worker {
    child: Child,
    control: OwnedFd,
    role: Role,
    started: Duration,
}

struct Supervisor {
    opts: SupervisorOptions,
    binary: PathBuf,
    fuse: OwnedFd,
    state: MemfdState,
    negotiated: Option<Negotiated>,
    virtualize: bool,
    workers: Vec<Worker>,
    generation: u16,
    crashes: VecDeque<Duration>,
    restart_at: Option<Duration>,
    upgrades: u64,
    status_path: PathBuf,
    last_upgrade: String,
    resend_warned: bool,
}

/// The monotonic clock, as a duration since boot.
fn now() -> Duration {
    use crate::clock::Clock;
    Duration::from_nanos(crate::clock::SystemClock.now().mono_ns)
}

fn block_signals() -> Result<SignalFd, DaemonError> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(os::sys("blocking signals"))?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(os::sys("creating a signalfd"))
}

/// Run the supervisor until a terminating signal or an external unmount.
pub(crate) fn run(opts: SupervisorOptions) -> Result<(), DaemonError> {
    os::check_privileges()?;
    os::raise_fd_limit();
    let signals = block_signals()?;
    let pidfile = Pidfile::create(&opts.pidfile)?;
    let result = supervise(opts, &signals, &pidfile);
    pidfile.remove();
    result
}

fn supervise(
    opts: SupervisorOptions,
    signals: &SignalFd,
    pidfile: &Pidfile,
) -> Result<(), DaemonError> {
    let mountpoint = os::prepare_mountpoint(&opts.mountpoint)?;
    let fuse = os::mount_fuse(&mountpoint, &opts.mount_options)?;
    let mut sup = Supervisor {
        status_path: PathBuf::from(format!("{}.status", pidfile.path().display())),
        opts: SupervisorOptions { mountpoint, ..opts },
        binary: os::binary_path(),
        fuse,
        state: MemfdState::create()?,
        negotiated: None,
        virtualize: true,
        workers: Vec::new(),
        generation: 0,
        crashes: VecDeque::new(),
        restart_at: None,
        upgrades: 0,
        last_upgrade: "none".into(),
        resend_warned: false,
    };
    if let Err(e) = sup.spawn(false) {
        os::unmount(&sup.opts.mountpoint);
        return Err(e);
    }
    log::info!(
        "serving {} (supervisor pid {}, binary {})",
        sup.opts.mountpoint.display(),
        std::process::id(),
        sup.binary.display()
    );
    let outcome = sup.run(signals);
    sup.shutdown();
    outcome
}

impl Supervisor {
    fn current(&self) -> Option<&Worker> {
        self.workers.iter().find(|w| w.role == Role::Current)
    }

    fn write_status(&self) {
        let server = self.current().map_or(0, |w| w.child.id());
        os::write_status(
            &self.status_path,
            &format!(
                "supervisor {}\nserver {server}\ngeneration {}\nupgrades {}\nlast-upgrade {}\n",
                std::process::id(),
                self.generation,
                self.upgrades,
                self.last_upgrade
            ),
        );
    }

    /// Start a serving process; `standby` for an upgrade.
    fn spawn(&mut self, standby: bool) -> Result<(), DaemonError> {
        let (mine, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(os::sys("creating the control socket"))?;
        self.generation = self.generation.wrapping_add(1).max(1);
        let spec = crate::server::ServeSpec {
            fuse: self.fuse.as_raw_fd(),
            control: theirs.as_raw_fd(),
            state: [
                self.state.fds()[0].as_raw_fd(),
                self.state.fds()[1].as_raw_fd(),
            ],
            epoch: self.generation,
            supervisor: std::process::id() as i32,
            negotiated: self.negotiated,
            standby,
            virtualize: self.virtualize,
        }
        .encode();
        let inherit = [
            self.fuse.as_fd(),
            theirs.as_fd(),
            self.state.fds()[0],
            self.state.fds()[1],
        ];
        for fd in inherit {
            os::set_inheritable(fd, true)?;
        }
        let child = Command::new(&self.binary)
            .arg("--serve")
            .arg(&spec)
            .args(&self.opts.server_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn();
        for fd in inherit {
            os::set_inheritable(fd, false)?;
        }
        let child = child.map_err(|source| DaemonError::Path {
            what: "starting the serving process",
            path: self.binary.clone(),
            source,
        })?;
        drop(theirs);
        self.workers.push(Worker {
            child,
            control: mine,
            role: if standby {
                Role::Standby
            } else {
                Role::Current
            },
            started: now(),
        });
        self.write_status();
        Ok(())
    }

    fn resend(&mut self) {
        match crate::fs::notify_resend(self.fuse.as_fd()) {
            Ok(()) => {}
            Err(e) => {
                if !self.resend_warned {
                    self.resend_warned = true;
                    log::warn!(
                        "the kernel cannot resend requests ({e}; Linux < 6.9): a request in flight when a serving process dies may never be answered"
                    );
                }
            }
        }
    }

    fn run(&mut self, signals: &SignalFd) -> Result<(), DaemonError> {
        loop {
            let timeout = self.next_deadline();
            let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
            fds.extend(
                self.workers
                    .iter()
                    .map(|w| PollFd::new(w.control.as_fd(), PollFlags::POLLIN)),
            );
            match poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(os::sys("waiting for events")(e)),
            }
            let ready: Vec<bool> = fds
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            drop(fds);
            if ready[0] {
                while let Ok(Some(info)) = signals.read_signal() {
                    let signal = Signal::try_from(info.ssi_signo as i32).ok();
                    match signal {
                        Some(Signal::SIGCHLD) => {}
                        Some(Signal::SIGUSR1) => self.start_upgrade(),
                        Some(Signal::SIGUSR2) => self.toggle(),
                        Some(sig) => {
                            log::info!("{sig}: unmounting {}", self.opts.mountpoint.display());
                            return Ok(());
                        }
                        None => {}
                    }
                }
            }
            let mut messages = Vec::new();
            for (i, w) in self.workers.iter().enumerate() {
                if ready.get(i + 1) == Some(&true) {
                    messages.push((w.child.id(), control::recv(w.control.as_fd())));
                }
            }
            for (pid, m) in messages {
                if let Some(m) = m {
                    if let Some(done) = self.on_message(pid, m) {
                        return done;
                    }
                }
            }
            if let Some(done) = self.reap() {
                return done;
            }
            self.check_deadlines();
        }
    }

    fn next_deadline(&self) -> PollTimeout {
        let now = now();
        let mut next: Option<Duration> = self.restart_at;
        for w in &self.workers {
            let limit = match w.role {
                Role::Standby => Some(w.started + READY_TIMEOUT),
                Role::Stopping => Some(w.started + STOP_TIMEOUT),
                Role::Current => None,
            };
            next = match (next, limit) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        match next {
            // Also wake periodically: SIGCHLD is coalesced, so reaping is re-checked.
            Some(t) => PollTimeout::try_from(t.saturating_sub(now).min(Duration::from_secs(1)))
                .unwrap_or(PollTimeout::MAX),
            None => PollTimeout::from(1000u16),
        }
    }

    fn on_message(&mut self, pid: u32, m: Message) -> Option<Result<(), DaemonError>> {
        match m {
            Message::Init(n) => {
                if !n.has_resend() {
                    log::warn!("the kernel does not announce FUSE_HAS_RESEND (Linux < 6.9): requests in flight during a crash may hang");
                }
                if self.negotiated.is_none() {
                    // The kernel's INIT is answered: the mount serves.
                    os::notify_systemd("READY=1");
                }
                self.negotiated = Some(n);
            }
            Message::Ready => {
                if self.negotiated.is_none() {
                    log::warn!("upgrade: the connection is not initialised yet; trying later");
                    self.abort_standby("connection not initialised");
                    return None;
                }
                // The new binary runs: stop the old one at a request boundary.
                for w in self.workers.iter_mut().filter(|w| w.role == Role::Current) {
                    control::send(w.control.as_fd(), &Message::Stop);
                    w.role = Role::Stopping;
                    w.started = now();
                }
            }
            Message::Stopped => {}
            Message::Unmounted => {
                if self
                    .workers
                    .iter()
                    .any(|w| w.child.id() == pid && w.role != Role::Standby)
                {
                    log::info!("{} was unmounted", self.opts.mountpoint.display());
                    return Some(Ok(()));
                }
            }
            Message::Serve | Message::Stop | Message::Virtualize(_) => {}
        }
        None
    }

    fn abort_standby(&mut self, why: &str) {
        for w in self.workers.iter_mut().filter(|w| w.role == Role::Standby) {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
        self.workers.retain(|w| w.role != Role::Standby);
        self.last_upgrade = format!("failed: {why}");
        log::error!("upgrade failed ({why}); the running server keeps serving");
        self.write_status();
    }

    fn start_upgrade(&mut self) {
        if self.workers.iter().any(|w| w.role != Role::Current) {
            log::warn!("SIGUSR1: an upgrade is already in progress");
            return;
        }
        log::info!("SIGUSR1: upgrading to {}", self.binary.display());
        if let Err(e) = self.spawn(true) {
            self.last_upgrade = format!("failed: {e}");
            log::error!("upgrade failed: {e}; the running server keeps serving");
            self.write_status();
        }
    }

    fn toggle(&mut self) {
        self.virtualize = !self.virtualize;
        log::info!(
            "{}",
            if self.virtualize {
                "Switched into virtualization mode"
            } else {
                "Switched into non-virtualization mode"
            }
        );
        // Every serving process, also a standby started by an upgrade in progress: it
        // takes over with the setting of now.
        for w in &self.workers {
            control::send(w.control.as_fd(), &Message::Virtualize(self.virtualize));
        }
    }

    /// Collect exited serving processes and act on each.
    fn reap(&mut self) -> Option<Result<(), DaemonError>> {
        let mut i = 0;
        while i < self.workers.len() {
            let pid = Pid::from_raw(self.workers[i].child.id() as i32);
            let status = match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {
                    i += 1;
                    continue;
                }
                Ok(s) => s,
                Err(_) => WaitStatus::Exited(pid, -1),
            };
            let w = self.workers.remove(i);
            match w.role {
                Role::Stopping => {
                    // The old server of an upgrade is gone: the new one takes over.
                    self.resend();
                    self.upgrades += 1;
                    self.last_upgrade = "ok".into();
                    for n in self.workers.iter_mut().filter(|n| n.role == Role::Standby) {
                        control::send(n.control.as_fd(), &Message::Serve);
                        n.role = Role::Current;
                        log::info!("upgraded: serving process {} took over", n.child.id());
                    }
                    self.write_status();
                }
                Role::Standby => {
                    self.abort_standby(&format!("the new binary exited ({status:?})"));
                }
                Role::Current => {
                    let killed = matches!(
                        status,
                        WaitStatus::Signaled(
                            _,
                            Signal::SIGKILL | Signal::SIGTERM | Signal::SIGINT,
                            _
                        )
                    );
                    if killed {
                        log::warn!("serving process {pid} was killed ({status:?}); replacing it");
                    } else {
                        log::error!("serving process {pid} crashed ({status:?}); restarting it");
                    }
                    if let Some(done) = self.crashed(!killed) {
                        return Some(done);
                    }
                }
            }
        }
        None
    }

    /// The current server died: re-queue what it held, start the next one (backing off
    /// when it crashed by itself repeatedly).
    fn crashed(&mut self, by_itself: bool) -> Option<Result<(), DaemonError>> {
        // A standby upgrade candidate takes no requests: drop it, a fresh server comes.
        if self.workers.iter().any(|w| w.role == Role::Standby) {
            self.abort_standby("the running server crashed during the upgrade");
        }
        self.resend();
        if !by_itself {
            return self.restart();
        }
        let now = now();
        self.crashes.push_back(now);
        while self
            .crashes
            .front()
            .is_some_and(|t| now.saturating_sub(*t) > GIVE_UP_WINDOW)
        {
            self.crashes.pop_front();
        }
        if self.crashes.len() >= GIVE_UP_AFTER {
            return Some(Err(DaemonError::CrashLoop {
                crashes: self.crashes.len(),
                seconds: GIVE_UP_WINDOW.as_secs(),
            }));
        }
        let recent = self
            .crashes
            .iter()
            .filter(|t| now.saturating_sub(**t) <= BACKOFF_WINDOW)
            .count();
        if recent >= BACKOFF_AFTER {
            let delay =
                Duration::from_millis(100 << (recent - BACKOFF_AFTER).min(6)).min(MAX_BACKOFF);
            log::warn!("crash loop: restarting in {} ms", delay.as_millis());
            self.restart_at = Some(now + delay);
            return None;
        }
        self.restart()
    }

    fn restart(&mut self) -> Option<Result<(), DaemonError>> {
        self.restart_at = None;
        match self.spawn(false) {
            Ok(()) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn check_deadlines(&mut self) {
        let now = now();
        if self.restart_at.is_some_and(|t| now >= t) && self.current().is_none() {
            if let Some(Err(e)) = self.restart() {
                log::error!("{e}");
            }
        }
        let late_standby = self
            .workers
            .iter()
            .any(|w| w.role == Role::Standby && now.saturating_sub(w.started) > READY_TIMEOUT);
        if late_standby {
            self.abort_standby("the new binary did not start within 30 s");
        }
        for w in self
            .workers
            .iter_mut()
            .filter(|w| w.role == Role::Stopping && now.saturating_sub(w.started) > STOP_TIMEOUT)
        {
            log::warn!("the old serving process did not stop in time; killing it");
            let _ = w.child.kill();
        }
    }

    fn shutdown(&mut self) {
        os::unmount(&self.opts.mountpoint);
        for w in &mut self.workers {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
        os::remove_status(&self.status_path);
    }
}
