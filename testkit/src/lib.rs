//! The fake kernel: runs the whole vproc engine on fixture trees or in-memory kernels,
//! without root, without a mount.
//!
//! * [`FixtureSource`]: kernel paths resolved in a stack of directories (a scenario
//!   tree over a host capture), through the crate's own `HostSource`.
//! * [`FakeClock`]: time that moves only when a test says so.
//! * [`Scenario`]: a fixture directory with its `scenario.toml`.
//! * [`Harness`]: a manual engine over any source (the sampler runs when a read demands
//!   it or the test ticks); `read` opens, reads in small pieces (as `cat` with a tiny
//!   buffer would) and releases, exactly as the kernel drives FUSE.
//! * [`builder::KernelBuilder`]: in-memory kernels for property tests.
//! * [`real`]: the real kernel (root, `/dev/fuse`): daemons, test cgroups, readers;
//!   [`container`]: containers made of those (cgroup, pid and mount namespace, binds).
// The testkit reads fixture metadata and copies captures itself: it is the test
// harness, not the engine, so the engine's I/O rule does not apply here.
#![allow(clippy::disallowed_methods)]

pub mod builder;
pub mod container;
pub mod real;
pub mod text;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use vproc::clock::{Clock, Timestamp};
use vproc::config::{Config, RenderOptions};
use vproc::engine::Engine;
use vproc::render::VirtualFile;
use vproc::source::host::HostSource;
use vproc::source::{Metadata, Source};
use vproc::vfs::{self, FileHandle, Vfs};

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Kernel paths resolved in the first layer that has them; listings are merged.
#[derive(Debug)]
pub struct FixtureSource {
    layers: Vec<HostSource>,
}

impl FixtureSource {
    /// Layers, highest priority first.
    pub fn new(dirs: &[PathBuf]) -> Self {
        FixtureSource {
            layers: dirs.iter().map(HostSource::rooted).collect(),
        }
    }

    fn first<T>(&self, f: impl Fn(&HostSource) -> io::Result<T>) -> io::Result<T> {
        let mut last = io::Error::from(io::ErrorKind::NotFound);
        for l in &self.layers {
            match f(l) {
                Ok(v) => return Ok(v),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl Source for FixtureSource {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        self.first(|l| l.read(path))
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let mut all = Vec::new();
        let mut found = false;
        for l in &self.layers {
            if let Ok(names) = l.read_dir(path) {
                found = true;
                all.extend(names);
            }
        }
        if !found {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    fn read_link(&self, path: &str) -> io::Result<String> {
        self.first(|l| l.read_link(path))
    }

    fn metadata(&self, path: &str) -> io::Result<Metadata> {
        self.first(|l| l.metadata(path))
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct FakeClock {
    mono_ns: AtomicU64,
    boot_ns: AtomicU64,
}

impl FakeClock {
    /// A clock at the given boot time (both clocks start there).
    pub fn at_boot_ns(boot_ns: u64) -> Self {
        FakeClock {
            mono_ns: AtomicU64::new(boot_ns),
            boot_ns: AtomicU64::new(boot_ns),
        }
    }

    /// Move both clocks forward.
    pub fn advance_ns(&self, ns: u64) {
        self.mono_ns.fetch_add(ns, Ordering::SeqCst);
        self.boot_ns.fetch_add(ns, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp {
            mono_ns: self.mono_ns.load(Ordering::SeqCst),
            boot_ns: self.boot_ns.load(Ordering::SeqCst),
        }
    }
}

/// `12.34` seconds → nanoseconds.
pub fn seconds_to_ns(text: &str) -> u64 {
    vproc::parse::scenario::seconds_to_ns(text)
        .unwrap_or_else(|| panic!("{text:?}: not a number of seconds"))
}

/// A `Command` running the vproc binary `bin` (a test's `env!("CARGO_BIN_EXE_vproc")`):
/// under qemu-user, where the kernel cannot execute it, through the emulator the matrix
/// names in `$VPROC_RUNNER` (as cargo runs the test binaries themselves).
pub fn vproc_command(bin: &str) -> std::process::Command {
    match std::env::var("VPROC_RUNNER") {
        Ok(runner) if !runner.is_empty() => {
            let mut c = std::process::Command::new(runner);
            c.arg(bin);
            c
        }
        _ => std::process::Command::new(bin),
    }
}

/// A fixture scenario: `fixtures/cgroup-<layout>/<name>/` and its `scenario.toml`.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Scenario directory.
    pub dir: PathBuf,
    /// Name (the directory name).
    pub name: String,
    /// `v1` or `v2`.
    pub layout: String,
    /// Host capture under `fixtures/host/`.
    pub host: String,
    /// The pid that reads.
    pub reader_pid: u32,
    /// CLOCK_BOOTTIME at the sample.
    pub boot_ns: u64,
    /// Rendering options.
    pub options: RenderOptions,
}

impl Scenario {
    /// Load `dir/scenario.toml` (flat `key = value` lines, a TOML subset).
    pub fn load(dir: &Path) -> Scenario {
        let text = std::fs::read_to_string(dir.join("scenario.toml"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let values = vproc::parse::scenario::scenario_values(&text);
        let get = |key: &str| -> String {
            values
                .get(key)
                .cloned()
                .unwrap_or_else(|| panic!("{}: scenario.toml lacks {key}", dir.display()))
        };
        Scenario {
            dir: dir.to_path_buf(),
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            layout: get("layout"),
            host: get("host"),
            reader_pid: get("reader_pid").parse().expect("reader_pid"),
            boot_ns: seconds_to_ns(&get("boot_seconds")),
            options: RenderOptions {
                enable_cfs: get("enable_cfs") == "true",
                enable_loadavg: get("enable_loadavg") == "true",
                ..RenderOptions::default()
            },
        }
    }

    /// Every scenario of a layout (`v1`, `v2`), sorted by name.
    pub fn all(layout: &str) -> Vec<Scenario> {
        let base = fixtures_dir().join(format!("cgroup-{layout}"));
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&base)
            .unwrap_or_else(|e| panic!("{}: {e}", base.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("scenario.toml").exists())
            .collect();
        dirs.sort();
        dirs.iter().map(|d| Scenario::load(d)).collect()
    }

    /// The scenario's kernel: its tree over its host capture.
    pub fn source(&self) -> FixtureSource {
        FixtureSource::new(&[
            self.dir.clone(),
            fixtures_dir().join("host").join(&self.host),
        ])
    }

    /// An engine over this scenario with its options.
    pub fn harness(&self) -> Harness {
        let config = Config {
            render: self.options,
            ..Config::default()
        };
        Harness::new(
            Arc::new(self.source()),
            self.boot_ns,
            config,
            self.reader_pid,
        )
    }
}

/// A manual engine over a source, with a fake clock and a default reader.
pub struct Harness {
    /// The engine.
    pub engine: Engine,
    /// The engine's clock.
    pub clock: Arc<FakeClock>,
    /// The pid `read` reads as.
    pub pid: u32,
}

impl Harness {
    /// Engine over `source`, clock at `boot_ns`, reading as `pid`.
    pub fn new(source: Arc<dyn Source>, boot_ns: u64, config: Config, pid: u32) -> Harness {
        let clock = Arc::new(FakeClock::at_boot_ns(boot_ns));
        let engine = Engine::manual(source, clock.clone(), config);
        Harness { engine, clock, pid }
    }

    /// The filesystem operations.
    pub fn vfs(&self) -> &Vfs {
        self.engine.vfs()
    }

    /// One sampler pass, as the daemon's sampler thread runs every 50 ms.
    pub fn tick(&self) {
        self.engine.tick();
    }

    /// Read a whole file as the kernel would: open, read 37 bytes at a time, release.
    pub fn read(&self, file: VirtualFile) -> String {
        self.read_as(file, self.pid)
    }

    /// `read` as another pid.
    pub fn read_as(&self, file: VirtualFile, pid: u32) -> String {
        let fh = self.open(file);
        let mut out = Vec::new();
        loop {
            let chunk = self.read_at(file, fh, out.len() as u64, 37, pid);
            if chunk.is_empty() {
                break;
            }
            out.extend(chunk);
        }
        self.vfs().release(fh).expect("release");
        String::from_utf8(out).expect("rendered files are UTF-8")
    }

    /// Open `file` (nothing is rendered yet).
    pub fn open(&self, file: VirtualFile) -> FileHandle {
        self.vfs().open(ino(file)).expect("open")
    }

    /// One FUSE read: up to `len` bytes at `offset` of the open file `fh`, as `pid`.
    pub fn read_at(
        &self,
        file: VirtualFile,
        fh: FileHandle,
        offset: u64,
        len: usize,
        pid: u32,
    ) -> Vec<u8> {
        let content = self.vfs().read(ino(file), fh, offset, pid).expect("read");
        let bytes = &content.bytes;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        bytes[start..(start + len).min(bytes.len())].to_vec()
    }
}

/// The inode of a virtual file.
pub fn ino(file: VirtualFile) -> vfs::Ino {
    vfs::resolve(file.path()).expect("a node for every virtual file")
}
