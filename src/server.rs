//! The serving process: the engine and the FUSE workers on a connection the supervisor
//! holds. It is started by the supervisor (never by hand) with the descriptors it needs
//! named on its command line (`--serve`), and ends when told to stop, when the
//! connection goes away, or when it crashes — the supervisor then starts the next one.
//!
//! * A **first** server answers `FUSE_INIT` and reports the result.
//! * A **restarted** server (after a crash) starts serving at once with the negotiated
//!   parameters; the supervisor has already re-queued what its predecessor held.
//! * An **upgrade** server starts in standby, says it is ready, and starts serving when
//!   the supervisor tells it to (after the old one saved its state and exited).
//!
//! Any panic ends the process (the supervisor restarts it and the kernel resends what
//! it held), so a bug never leaves a request unanswered.

use crate::clock::SystemClock;
use crate::config::Config;
use crate::control::{self, Message};
use crate::engine::{Engine, EngineOptions};
use crate::fs::{Negotiated, Server};
use crate::os::{DaemonError, MemfdState};
use crate::sampler::Pacing;
use crate::source::host::HostSource;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

/// How long a stopping server waits for the requests it holds (ms).
const QUIESCE_WAIT_MS: u64 = 2000;

/// What the supervisor hands a serving process.
pub(crate) struct ServeArgs {
    pub(crate) fuse: OwnedFd,
    pub(crate) control: OwnedFd,
    pub(crate) state: [OwnedFd; 2],
    /// Numbers this process's file handles (restarts get new numbers).
    pub(crate) epoch: u16,
    pub(crate) supervisor: i32,
    /// Parameters of an already initialised connection.
    pub(crate) negotiated: Option<Negotiated>,
    /// Wait for [`Message::Serve`] before serving (an upgrade).
    pub(crate) standby: bool,
    pub(crate) virtualize: bool,
    pub(crate) threads: usize,
}

/// `--serve fuse=N,control=N,state=N:N,epoch=N,supervisor=PID[,init=M/W/F][,standby][,novirt]`:
/// the descriptor numbers and flags (the descriptors are adopted by [`ServeSpec::adopt`]).
pub(crate) struct ServeSpec {
    pub(crate) fuse: i32,
    pub(crate) control: i32,
    pub(crate) state: [i32; 2],
    pub(crate) epoch: u16,
    pub(crate) supervisor: i32,
    pub(crate) negotiated: Option<Negotiated>,
    pub(crate) standby: bool,
    pub(crate) virtualize: bool,
}

impl ServeSpec {
    pub(crate) fn encode(&self) -> String {
        let mut s = format!(
            "fuse={},control={},state={}:{},epoch={},supervisor={}",
            self.fuse, self.control, self.state[0], self.state[1], self.epoch, self.supervisor
        );
        if let Some(n) = self.negotiated {
            s.push_str(&format!(",init={}", n.encode()));
        }
        if self.standby {
            s.push_str(",standby");
        }
        if !self.virtualize {
            s.push_str(",novirt");
        }
        s
    }

    pub(crate) fn parse(text: &str) -> Option<ServeSpec> {
        let mut spec = ServeSpec {
            fuse: -1,
            control: -1,
            state: [-1, -1],
            epoch: 1,
            supervisor: 0,
            negotiated: None,
            standby: false,
            virtualize: true,
        };
        for item in text.split(',') {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            match k {
                "fuse" => spec.fuse = v.parse().ok()?,
                "control" => spec.control = v.parse().ok()?,
                "state" => {
                    let (a, b) = v.split_once(':')?;
                    spec.state = [a.parse().ok()?, b.parse().ok()?];
                }
                "epoch" => spec.epoch = v.parse().ok()?,
                "supervisor" => spec.supervisor = v.parse().ok()?,
                "init" => spec.negotiated = Some(Negotiated::decode(v)?),
                "standby" => spec.standby = true,
                "novirt" => spec.virtualize = false,
                _ => return None,
            }
        }
        Some(spec)
    }

    /// Take ownership of the named descriptors.
    pub(crate) fn adopt(self, threads: usize) -> Result<ServeArgs, DaemonError> {
        let adopt = |fd: i32| {
            crate::sys::adopt_inherited_fd(fd).map_err(|source| DaemonError::Sys {
                what: "adopting a descriptor from the supervisor",
                source,
            })
        };
        Ok(ServeArgs {
            fuse: adopt(self.fuse)?,
            control: adopt(self.control)?,
            state: [adopt(self.state[0])?, adopt(self.state[1])?],
            epoch: self.epoch,
            supervisor: self.supervisor,
            negotiated: self.negotiated,
            standby: self.standby,
            virtualize: self.virtualize,
            threads,
        })
    }
}

/// Run a serving process; returns its exit code.
pub(crate) fn run(config: Config, args: ServeArgs) -> i32 {
    // Die with the supervisor: a connection nobody supervises must not be served.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if nix::unistd::getppid().as_raw() != args.supervisor {
        return 1;
    }
    std::panic::set_hook(Box::new(|info| {
        log::error!("serving process: {info}; ending it (the supervisor restarts it)");
        std::process::abort();
    }));
    let control = args.control;
    if args.standby {
        control::send(control.as_fd(), &Message::Ready);
        match control::recv(control.as_fd()) {
            Some(Message::Serve) => {}
            _ => return 0,
        }
    }
    let mut engine = Engine::start(
        Arc::new(HostSource::new()),
        Arc::new(SystemClock),
        config,
        EngineOptions {
            pacing: Pacing::Periodic,
            epoch: args.epoch,
            state: Some(Box::new(MemfdState::adopt(args.state))),
        },
    );
    engine.vfs().set_virtualization(args.virtualize);
    let report = control
        .try_clone()
        .map_err(|e| log::warn!("cannot report INIT to the supervisor: {e}"))
        .ok();
    let server = Arc::new(Server::new(
        args.fuse,
        Arc::clone(engine.vfs()),
        args.negotiated,
        Box::new(move |n| {
            if let Some(fd) = &report {
                control::send(fd.as_fd(), &Message::Init(*n));
            }
        }),
    ));
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(args.threads);
    for i in 0..args.threads {
        let server = Arc::clone(&server);
        let done = done_tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("vproc-fuse-{i}"))
            .spawn(move || {
                server.work();
                let _ = done.send(());
            });
        if let Err(e) = spawned {
            log::error!("cannot start a FUSE worker: {e}");
            return 1;
        }
    }
    drop(done_tx);
    // The control connection: commands from the supervisor, and its end if it dies.
    let (commands_tx, commands) = crossbeam_channel::unbounded();
    let reader = control.try_clone();
    let _ = std::thread::Builder::new()
        .name("vproc-control".into())
        .spawn(move || {
            let Ok(fd) = reader else { return };
            while let Some(m) = control::recv(fd.as_fd()) {
                if commands_tx.send(m).is_err() {
                    return;
                }
            }
        });
    loop {
        crossbeam_channel::select! {
            recv(commands) -> m => match m {
                Ok(Message::Stop) => {
                    server.quiesce(QUIESCE_WAIT_MS);
                    engine.stop();
                    control::send(control.as_fd(), &Message::Stopped);
                    return 0;
                }
                Ok(Message::Virtualize(on)) => engine.vfs().set_virtualization(on),
                Ok(other) => log::debug!("serving process: unexpected {other:?}"),
                // The supervisor is gone (PR_SET_PDEATHSIG ends this process too).
                Err(_) => return 0,
            },
            recv(done_rx) -> _ => {
                // A worker ended: the connection is gone (unmounted or aborted).
                if server.unmounted() {
                    control::send(control.as_fd(), &Message::Unmounted);
                    return 0;
                }
            }
        }
    }
}
