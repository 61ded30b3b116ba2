//! Container cgroups for the fairness and scale sections, created directly in every
//! hierarchy vproc reads (memory, cpu, cpuacct, cpuset: one directory per v1 hierarchy,
//! one on v2), each removed on drop. Only `vproc-test-*` names are used.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vproc::cgroup::CgroupVersion;
use vproc::cgroup::{Controller, Hierarchies};
use vproc::source::host::HostSource;

/// One hierarchy: its root directory and what to configure in it.
#[derive(Clone, Debug)]
struct Hierarchy {
    root: PathBuf,
    v2: bool,
    memory: bool,
    cpuset: bool,
}

/// The hierarchies of this host that a container's cgroup lives in.
#[derive(Clone, Debug)]
pub(crate) struct Layout(Vec<Hierarchy>);

impl Layout {
    /// Detect them (the daemon's own detection). On v2 the controllers must already be
    /// enabled in the root's `cgroup.subtree_control` (`TestCgroup::create` does it).
    pub(crate) fn detect() -> Result<Layout, String> {
        let h = Hierarchies::detect(&HostSource::new()).map_err(|e| e.to_string())?;
        let mut out: Vec<Hierarchy> = Vec::new();
        for c in [
            Controller::Memory,
            Controller::Cpu,
            Controller::Cpuacct,
            Controller::Cpuset,
        ] {
            let Some(m) = h.controller(c) else { continue };
            let root = PathBuf::from(m.dir("/"));
            let i = match out.iter().position(|x| x.root == root) {
                Some(i) => i,
                None => {
                    out.push(Hierarchy {
                        root,
                        v2: m.version == CgroupVersion::V2,
                        memory: false,
                        cpuset: false,
                    });
                    out.len() - 1
                }
            };
            out[i].memory |= c == Controller::Memory;
            out[i].cpuset |= c == Controller::Cpuset;
        }
        Ok(Layout(out))
    }
}

fn write(path: PathBuf, value: &str) -> io::Result<()> {
    fs::write(&path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// A cgroup in every hierarchy of a [`Layout`]; removed on drop (it must be empty).
#[derive(Debug)]
pub(crate) struct Group {
    dirs: Vec<PathBuf>,
}

impl Group {
    /// Create `name` with an optional memory limit (bytes) and cpuset.
    pub(crate) fn create(
        layout: &Layout,
        name: &str,
        memory: Option<u64>,
        cpus: Option<&str>,
    ) -> io::Result<Group> {
        let mut g = Group { dirs: Vec::new() };
        for h in &layout.0 {
            let dir = h.root.join(name);
            fs::create_dir(&dir)
                .map_err(|e| io::Error::new(e.kind(), format!("mkdir {}: {e}", dir.display())))?;
            g.dirs.push(dir.clone());
            if h.cpuset && !h.v2 {
                // A v1 cpuset accepts no task before its cpus and mems are set.
                let mems = fs::read_to_string(h.root.join("cpuset.mems"))?;
                write(dir.join("cpuset.mems"), mems.trim())?;
                let all = fs::read_to_string(h.root.join("cpuset.cpus"))?;
                write(dir.join("cpuset.cpus"), cpus.unwrap_or(all.trim()))?;
            } else if let (true, Some(cpus)) = (h.cpuset, cpus) {
                write(dir.join("cpuset.cpus"), cpus)?;
            }
            if let (true, Some(bytes)) = (h.memory, memory) {
                let file = if h.v2 {
                    "memory.max"
                } else {
                    "memory.limit_in_bytes"
                };
                write(dir.join(file), &bytes.to_string())?;
            }
        }
        Ok(g)
    }

    /// Move process `pid` in.
    pub(crate) fn add(&self, pid: u32) -> io::Result<()> {
        self.dirs
            .iter()
            .try_for_each(|d| write(d.join("cgroup.procs"), &pid.to_string()))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            // A process killed and reaped a moment ago may still be leaving.
            for _ in 0..50 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Name prefix of the scale section's cgroups.
pub(crate) const SCALE_PREFIX: &str = "vproc-test-scale-";

/// `vproc-test-scale-<i>` cgroups, each holding one `sleep infinity`; on drop the
/// sleepers are killed and reaped, then the cgroups removed.
pub(crate) struct Population {
    layout: Layout,
    sleepers: Vec<Child>,
    groups: Vec<Group>,
}

impl Population {
    /// An empty population. Empty `vproc-test-scale-*` cgroups left by an interrupted
    /// run are removed first; populated ones are an error (their processes are not
    /// this run's to kill).
    pub(crate) fn new(layout: &Layout) -> Result<Population, String> {
        let mut busy = Vec::new();
        for h in &layout.0 {
            for entry in fs::read_dir(&h.root).into_iter().flatten().flatten() {
                let is_scale = entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(SCALE_PREFIX));
                if is_scale && fs::remove_dir(entry.path()).is_err() {
                    busy.push(entry.path().display().to_string());
                }
            }
        }
        if !busy.is_empty() {
            return Err(format!(
                "{} populated {SCALE_PREFIX}* cgroups left by an earlier run (e.g. {}); kill their processes and remove them first",
                busy.len(),
                busy[0]
            ));
        }
        Ok(Population {
            layout: layout.clone(),
            sleepers: Vec::new(),
            groups: Vec::new(),
        })
    }

    /// Number of populated cgroups.
    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }

    /// Add cgroups (and sleepers) up to `n`; the time it took. Call it from outside the
    /// bench's own cgroup, so that the sleepers are not charged to its memory limit
    /// before they move.
    pub(crate) fn grow_to(&mut self, n: usize) -> io::Result<Duration> {
        let start = Instant::now();
        for i in self.groups.len()..n {
            crate::interrupt::check();
            let group = Group::create(&self.layout, &format!("{SCALE_PREFIX}{i}"), None, None)?;
            let mut sleeper = crate::interrupt::spawn(
                Command::new("sleep")
                    .arg("infinity")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            )?;
            if let Err(e) = group.add(sleeper.id()) {
                let _ = sleeper.kill();
                let _ = sleeper.wait();
                return Err(e);
            }
            self.sleepers.push(sleeper);
            self.groups.push(group);
        }
        Ok(start.elapsed())
    }
}

impl Drop for Population {
    fn drop(&mut self) {
        for s in &mut self.sleepers {
            let _ = s.kill();
        }
        for s in &mut self.sleepers {
            let _ = s.wait();
        }
        // `groups` drops after this body: every cgroup is empty by then.
    }
}
