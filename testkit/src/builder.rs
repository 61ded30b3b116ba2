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

    /// Process `pid`: a `/proc/<pid>/stat` with start time `start_ticks` (what a task pin
    /// checks) and parent `ppid`, in the daemon's pid namespace.
    pub fn process(mut self, pid: u32, ppid: u32, start_ticks: u64) -> Self {
        self.mem.file(
            &format!("/proc/{pid}/stat"),
            stat_line(pid, ppid, start_ticks),
        );
        self.mem.link(&format!("/proc/{pid}/ns/pid"), "pid:[1]");
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
        self.mem.file(&format!("/proc/{pid}/cgroup"), "0::/ct\n");
        self.process(1, 0, 1).process(pid, 1, 100)
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
        self.mem.file(
            &format!("/proc/{pid}/cgroup"),
            "10:blkio:/ct\n9:memory:/ct\n8:cpuset:/ct\n6:cpu,cpuacct:/ct\n0::/ct\n",
        );
        self.process(1, 0, 1).process(pid, 1, 100)
    }

    /// The kernel.
    pub fn build(self) -> MemSource {
        self.mem
    }
}

/// A `/proc/<pid>/stat` line with the fields vproc reads (state S).
pub fn stat_line(pid: u32, ppid: u32, start_ticks: u64) -> String {
    format!("{pid} (sh) S {ppid} 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start_ticks} 1 1")
}

/// A task of a [`LiveKernel`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// Its pid in the daemon's pid namespace.
    pub pid: u32,
    /// Its parent.
    pub ppid: u32,
    /// Start time (clock ticks after boot): a new task on a recycled pid has another.
    pub start_ticks: u64,
    /// Its pid in each namespace, the daemon's first.
    pub nspid: Vec<u32>,
    /// Its pid namespace's link text (`pid:[4026531836]`).
    pub ns: String,
    /// Its cgroup (v2 path).
    pub cgroup: String,
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

    /// Set a symbolic link.
    pub fn link(&self, path: &str, target: &str) {
        self.mem.write().unwrap().link(path, target);
    }

    /// A task: `/proc/<pid>/{stat,status,cgroup,ns/pid}`. `nspid` lists its pid in each
    /// pid namespace from the daemon's down (`[pid]` in the daemon's own namespace,
    /// `[pid, 1]` for the init of a child namespace); `ns` is its namespace link text.
    pub fn spawn(&self, t: &Task) {
        let mut m = self.mem.write().unwrap();
        let pid = t.pid;
        m.file(
            &format!("/proc/{pid}/stat"),
            stat_line(pid, t.ppid, t.start_ticks),
        );
        let nspid: Vec<String> = t.nspid.iter().map(|p| p.to_string()).collect();
        m.file(
            &format!("/proc/{pid}/status"),
            format!("Name:\tsh\nPid:\t{pid}\nNSpid:\t{}\n", nspid.join("\t")),
        );
        m.file(&format!("/proc/{pid}/cgroup"), format!("0::{}\n", t.cgroup));
        m.link(&format!("/proc/{pid}/ns/pid"), &t.ns);
    }

    /// A task exits (and is reaped): its `/proc/<pid>` disappears.
    pub fn kill(&self, pid: u32) {
        self.remove(&format!("/proc/{pid}"));
    }

    /// Move a task to another (v2) cgroup.
    pub fn move_to(&self, pid: u32, cgroup: &str) {
        self.set(&format!("/proc/{pid}/cgroup"), format!("0::{cgroup}\n"));
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
