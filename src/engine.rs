//! The engine assembled: the sampler thread, the published views, identity and the
//! virtual filesystem. The serving process, `inspect` and the testkit start one.

use crate::cgroup::Hierarchies;
use crate::clock::Clock;
use crate::config::Config;
use crate::identity::Identity;
use crate::render::VirtualFile;
use crate::sampler::persist::StateStore;
use crate::sampler::{Pacing, Sampler};
use crate::snapshot::store::{Request, Store};
use crate::snapshot::{Fallback, Parts};
use crate::source::Source;
use crate::vfs::Vfs;
use crossbeam_channel::bounded;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the identity cache is swept for exited threads that epoll cannot report.
const SWEEP_EVERY_MS: u16 = 5000;

/// Whose view `inspect` renders.
#[derive(Clone, Debug)]
pub(crate) enum Who {
    /// The reader with this pid (as seen from vproc's pid namespace).
    Pid(u32),
    /// Any reader in this cgroup (path in the hierarchies, e.g. `/lxc/c1`).
    Cgroup(String),
}

/// A file as one reader sees it and where its values came from.
pub(crate) struct Inspection {
    pub(crate) bytes: Vec<u8>,
    pub(crate) fallbacks: Vec<Fallback>,
    /// How the reader's cgroups and clock were found.
    pub(crate) identity: String,
    /// Which CPUs are visible and why (for files computed from the CPU set).
    pub(crate) cpus: Option<String>,
}

/// A running engine.
pub struct Engine {
    vfs: Arc<Vfs>,
    store: Arc<Store>,
    config: Config,
    hierarchies: Option<Arc<Hierarchies>>,
    sampler: Option<JoinHandle<()>>,
}

/// How an engine runs.
pub(crate) struct EngineOptions {
    pub(crate) pacing: Pacing,
    /// Distinguishes this process's file handles from a predecessor's.
    pub(crate) epoch: u16,
    pub(crate) state: Option<Box<dyn StateStore>>,
}

fn detect(source: &dyn Source) -> Option<Arc<Hierarchies>> {
    match Hierarchies::detect(source) {
        Ok(h) => {
            log::info!("cgroup layout: {:?}", h.layout);
            Some(Arc::new(h))
        }
        Err(e) => {
            log::warn!("no cgroup hierarchy found ({e}); every file shows host values");
            None
        }
    }
}

impl Engine {
    /// An engine whose sampler runs only when told ([`Engine::tick`]) or demanded: tests
    /// and `inspect` drive time themselves.
    pub fn manual(source: Arc<dyn Source>, clock: Arc<dyn Clock>, config: Config) -> Engine {
        Self::start(
            source,
            clock,
            config,
            EngineOptions {
                pacing: Pacing::Manual,
                epoch: 1,
                state: None,
            },
        )
    }

    pub(crate) fn start(
        source: Arc<dyn Source>,
        clock: Arc<dyn Clock>,
        config: Config,
        options: EngineOptions,
    ) -> Engine {
        let hierarchies = detect(source.as_ref());
        let (store, inbox) = Store::new();
        let sampler = Sampler::new(
            Arc::clone(&source),
            Arc::clone(&clock),
            config,
            hierarchies.clone(),
            Arc::clone(&store),
            inbox,
            options.pacing,
            options.state,
        );
        let sampler = std::thread::Builder::new()
            .name("vproc-sampler".into())
            .spawn(move || sampler.run())
            .expect("spawning the sampler thread");
        let identity = Identity::new(
            config.identity,
            Arc::clone(&source),
            Arc::clone(&clock),
            hierarchies.clone(),
            config.max_staleness_ns,
        );
        let vfs = Arc::new(Vfs::new(
            Arc::clone(&store),
            identity,
            source,
            clock,
            config,
            options.epoch,
        ));
        if options.pacing == Pacing::Periodic {
            // Readers' exits, as they happen (a pidfd pins its namespace), and a sweep.
            let weak = Arc::downgrade(&vfs);
            let _ = std::thread::Builder::new()
                .name("vproc-reaper".into())
                .spawn(move || {
                    let mut waited = 0u32;
                    loop {
                        let Some(vfs) = weak.upgrade() else { return };
                        vfs.identity().reap(1000);
                        waited += 1000;
                        if waited >= u32::from(SWEEP_EVERY_MS) {
                            waited = 0;
                            vfs.identity().sweep();
                        }
                    }
                });
        }
        Engine {
            vfs,
            store,
            config,
            hierarchies,
            sampler: Some(sampler),
        }
    }

    /// The filesystem operations.
    pub fn vfs(&self) -> &Arc<Vfs> {
        &self.vfs
    }

    /// The detected cgroup layout (None: no cgroups at all).
    pub fn hierarchies(&self) -> Option<&Hierarchies> {
        self.hierarchies.as_deref()
    }

    /// Run one sampler pass and wait for it (manual engines).
    pub fn tick(&self) {
        let (done, wait) = bounded(1);
        if self.store.request(Request::Tick(done)) {
            let _ = wait.recv();
        }
    }

    /// Number of views the sampler keeps.
    pub fn views(&self) -> usize {
        self.store.len()
    }

    /// The fallbacks in the snapshot reader `pid` gets for `file`.
    pub fn fallbacks(&self, file: VirtualFile, pid: u32) -> Vec<Fallback> {
        self.vfs.fallbacks(file, pid)
    }

    /// `file` as `who` sees it, with where its values came from; `None` when `who` is a
    /// process that does not exist.
    pub(crate) fn inspect(
        &self,
        file: VirtualFile,
        who: &Who,
    ) -> Option<crate::error::Result<Inspection>> {
        let (key, identity) = match who {
            Who::Pid(pid) => self.vfs.identity().explain(*pid)?,
            Who::Cgroup(path) => {
                let cgroups = self
                    .hierarchies
                    .as_ref()
                    .map(|h| h.container_at(path))
                    .unwrap_or_default();
                let how = format!("cgroup {path} given (no reader: the host's uptime)");
                (
                    crate::snapshot::ViewKey {
                        cgroups,
                        anchor: None,
                    },
                    how,
                )
            }
        };
        Some(
            self.vfs
                .content_of_view(file, &key)
                .map(|(rendered, snap)| Inspection {
                    bytes: rendered.bytes.into_vec(),
                    fallbacks: snap.container.fallbacks.clone(),
                    identity,
                    cpus: file.parts().contains(Parts::CPUSET).then(|| {
                        crate::snapshot::cpu::explain(
                            &snap.container,
                            &snap.host,
                            &self.config.render,
                        )
                    }),
                }),
        )
    }

    /// Save the soft state and stop the sampler (a server handing over to a successor).
    pub(crate) fn stop(&mut self) {
        let (done, wait) = bounded(1);
        if self.store.request(Request::Stop(done)) {
            let _ = wait.recv_timeout(Duration::from_secs(5));
        }
        if let Some(t) = self.sampler.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}
