//! In-memory kernels for property tests: a host capture plus a cgroup v2 (or v1) tree
//! with arbitrary file contents.

use std::path::Path;
use vproc::source::mem::MemSource;

/// Builds a [`MemSource`] kernel.
#[derive(Clone, Debug, Default)]
pub struct KernelBuilder {
    mem: MemSource,
}

/// The v2 container cgroup directory used by [`KernelBuilder::v2_container`].
pub const V2_CONTAINER: &str = "/sys/fs/cgroup/ct";
/// The v1 container directories use this cgroup path in every hierarchy.
pub const V1_CONTAINER: &str = "/ct";

impl KernelBuilder {
    /// An empty kernel.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copy every file of a host capture directory (e.g. `fixtures/host/x86_64-4cpu`).
    pub fn host_capture(mut self, dir: &Path) -> Self {
        fn walk(mem: &mut MemSource, root: &Path, dir: &Path) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(mem, root, &p);
                } else {
                    let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                    if rel.ends_with(".md") {
                        continue;
                    }
                    mem.file(&format!("/{rel}"), std::fs::read(&p).unwrap());
                }
            }
        }
        walk(&mut self.mem, dir, dir);
        self
    }

    /// Set a file.
    pub fn file(mut self, path: &str, content: impl AsRef<[u8]>) -> Self {
        self.mem.file(path, content);
        self
    }

    /// A pure v2 host where pid `pid` (in the daemon's pid namespace) sits in `/ct`.
    pub fn v2_container(mut self, pid: u32) -> Self {
        self.mem.file(
            "/proc/self/mountinfo",
            "30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        self.mem.file(
            "/sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory pids\n",
        );
        self.mem.link("/proc/self/ns/pid", "pid:[1]");
        self.mem.link(&format!("/proc/{pid}/ns/pid"), "pid:[1]");
        self.mem.file(&format!("/proc/{pid}/cgroup"), "0::/ct\n");
        self
    }

    /// A v1 host (hybrid) where pid `pid` sits in `/ct` of every hierarchy.
    pub fn v1_container(mut self, pid: u32) -> Self {
        self.mem.file(
            "/proc/self/mountinfo",
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n\
             35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             38 31 0:35 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        );
        self.mem.link("/proc/self/ns/pid", "pid:[1]");
        self.mem.link(&format!("/proc/{pid}/ns/pid"), "pid:[1]");
        self.mem.file(
            &format!("/proc/{pid}/cgroup"),
            "10:blkio:/ct\n9:memory:/ct\n8:cpuset:/ct\n6:cpu,cpuacct:/ct\n0::/ct\n",
        );
        self
    }

    /// The kernel.
    pub fn build(self) -> MemSource {
        self.mem
    }
}

/// A kernel whose files change while the engine runs, counting the reads it serves.
#[derive(Debug, Default)]
pub struct LiveKernel {
    mem: std::sync::RwLock<MemSource>,
    reads: std::sync::Mutex<Vec<String>>,
}

impl LiveKernel {
    /// Start from a built kernel.
    pub fn new(mem: MemSource) -> Self {
        LiveKernel {
            mem: std::sync::RwLock::new(mem),
            reads: Default::default(),
        }
    }

    /// Change a file.
    pub fn set(&self, path: &str, content: impl AsRef<[u8]>) {
        self.mem.write().unwrap().file(path, content);
    }

    /// Remove a file or subtree (a cgroup disappearing).
    pub fn remove(&self, path: &str) {
        self.mem.write().unwrap().remove(path);
    }

    /// How many reads of paths starting with `prefix` were served, then reset the log.
    pub fn take_reads(&self, prefix: &str) -> usize {
        let mut r = self.reads.lock().unwrap();
        let n = r.iter().filter(|p| p.starts_with(prefix)).count();
        r.clear();
        n
    }
}

impl vproc::source::Source for LiveKernel {
    fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        self.reads.lock().unwrap().push(path.to_owned());
        self.mem.read().unwrap().read(path)
    }
    fn read_dir(&self, path: &str) -> std::io::Result<Vec<String>> {
        self.mem.read().unwrap().read_dir(path)
    }
    fn read_link(&self, path: &str) -> std::io::Result<String> {
        self.mem.read().unwrap().read_link(path)
    }
    fn metadata(&self, path: &str) -> std::io::Result<vproc::source::Metadata> {
        self.mem.read().unwrap().metadata(path)
    }
}
