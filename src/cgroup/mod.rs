//! cgroup layouts (v1, hybrid, v2) and semantic readings that hide the file names.
//!
//! [`Hierarchies::detect`] reads `/proc/self/mountinfo`; [`Cgroups`] answers questions
//! such as "the smallest memory limit over this cgroup and its ancestors" whatever the
//! version. Readings report each value's own `Result`: deciding what a file shows when
//! a value cannot be read (a fallback) is the sampler's job, not this module's. File
//! names live in [`v1`] and [`v2`] as constants.

pub(crate) mod v1;
pub(crate) mod v2;

use crate::error::{Error, Result};
use crate::parse::cgroup::{
    parse_limit, parse_single_u64, CpuQuota, CpuTime, IoCounters, Limit, MemoryStat,
};
use crate::parse::cpuset::{parse_cpuset, CpuSet};
use crate::parse::mountinfo::parse_mountinfo;
use crate::parse::pressure::{PressureKind, PressureLine};
use crate::parse::proc_pid::parse_pid_cgroup;
use crate::source::{read_text, NodeKind, Source};

/// Where the mount table of the daemon is.
pub(crate) const MOUNTINFO: &str = "/proc/self/mountinfo";

/// How cgroups are mounted on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 controllers plus a (usually controller-less) cgroup2 mount.
    Hybrid,
    /// Only cgroup2.
    Unified,
}

/// Which hierarchy version serves a controller (the files and formulas differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CgroupVersion {
    /// Legacy per-controller hierarchies.
    V1,
    /// The unified hierarchy.
    V2,
}

/// The controllers vproc reads, by meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Controller {
    /// Memory and swap.
    Memory,
    /// CFS quota.
    Cpu,
    /// CPU time (v1 `cpuacct`; v2 `cpu.stat`, a core file of every cgroup).
    Cpuacct,
    /// CPU sets.
    Cpuset,
    /// Block I/O (v1 `blkio`, v2 `io`).
    Io,
}

impl Controller {
    /// Every controller.
    pub const ALL: [Controller; 5] = [
        Controller::Memory,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Cpuset,
        Controller::Io,
    ];

    /// Name in `/proc/<pid>/cgroup` and mount options on v1.
    pub fn v1_name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Cpuset => "cpuset",
            Controller::Io => "blkio",
        }
    }

    /// Name in `cgroup.controllers` on v2; `None` for what every v2 cgroup has.
    fn v2_name(self) -> Option<&'static str> {
        match self {
            Controller::Memory => Some("memory"),
            Controller::Cpu => Some("cpu"),
            Controller::Cpuacct => None,
            Controller::Cpuset => Some("cpuset"),
            Controller::Io => Some("io"),
        }
    }
}

/// One mounted hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mounted {
    /// v1 or v2 files.
    pub version: CgroupVersion,
    mount_point: String,
    /// Root of the mount inside the hierarchy (`/` unless bind-mounted from a subtree).
    root: String,
}

impl Mounted {
    /// Filesystem directory of cgroup `cg`.
    pub fn dir(&self, cg: &str) -> String {
        let rel = if self.root != "/" {
            cg.strip_prefix(self.root.as_str()).unwrap_or(cg)
        } else {
            cg
        };
        let rel = rel.trim_matches('/');
        let base = self.mount_point.trim_end_matches('/');
        if rel.is_empty() {
            base.to_owned()
        } else {
            format!("{base}/{rel}")
        }
    }
}

/// The cgroup paths that identify one container, per controller. They usually agree;
/// on v1 a process can sit in different places per hierarchy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ContainerId {
    /// memory controller path.
    pub(crate) memory: Option<String>,
    /// cpu controller path (quota).
    pub(crate) cpu: Option<String>,
    /// cpuacct path (v2: the unified path, where `cpu.stat` lives).
    pub(crate) cpuacct: Option<String>,
    pub(crate) cpuset: Option<String>,
    /// blkio (v1) / io (v2) path.
    pub(crate) io: Option<String>,
    /// The unified hierarchy path (pressure files), if any.
    pub(crate) unified: Option<String>,
}

impl ContainerId {
    /// The path used for `c`.
    pub(crate) fn path(&self, c: Controller) -> Option<&str> {
        match c {
            Controller::Memory => self.memory.as_deref(),
            Controller::Cpu => self.cpu.as_deref(),
            Controller::Cpuacct => self.cpuacct.as_deref(),
            Controller::Cpuset => self.cpuset.as_deref(),
            Controller::Io => self.io.as_deref(),
        }
    }
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all = [
            &self.memory,
            &self.cpu,
            &self.cpuacct,
            &self.cpuset,
            &self.io,
        ];
        if all.iter().all(|p| *p == all[0]) {
            return write!(f, "{}", all[0].as_deref().unwrap_or("-"));
        }
        write!(
            f,
            "memory:{} cpu:{} cpuacct:{} cpuset:{} io:{}",
            self.memory.as_deref().unwrap_or("-"),
            self.cpu.as_deref().unwrap_or("-"),
            self.cpuacct.as_deref().unwrap_or("-"),
            self.cpuset.as_deref().unwrap_or("-"),
            self.io.as_deref().unwrap_or("-")
        )
    }
}

/// The hierarchies of this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchies {
    /// How the hierarchies are mounted (v1, hybrid or v2).
    pub layout: Layout,
    v1: Vec<(Controller, Mounted)>,
    unified: Option<Mounted>,
    unified_controllers: Vec<String>,
}

impl Hierarchies {
    /// Detect the layout from the daemon's mount table.
    pub fn detect(source: &dyn Source) -> Result<Hierarchies> {
        let mounts = parse_mountinfo(&read_text(source, MOUNTINFO)?);
        let mut v1 = Vec::new();
        let mut unified = None;
        for m in mounts {
            match m.fstype.as_str() {
                "cgroup" => {
                    for c in Controller::ALL {
                        let listed = m.super_options.iter().any(|o| o == c.v1_name());
                        if listed && !v1.iter().any(|(k, _)| *k == c) {
                            v1.push((
                                c,
                                Mounted {
                                    version: CgroupVersion::V1,
                                    mount_point: m.mount_point.clone(),
                                    root: m.root.clone(),
                                },
                            ));
                        }
                    }
                }
                "cgroup2" if unified.is_none() => {
                    unified = Some(Mounted {
                        version: CgroupVersion::V2,
                        mount_point: m.mount_point.clone(),
                        root: m.root.clone(),
                    })
                }
                _ => {}
            }
        }
        let layout = match (v1.is_empty(), unified.is_some()) {
            (true, true) => Layout::Unified,
            (false, true) => Layout::Hybrid,
            (false, false) => Layout::Legacy,
            (true, false) => {
                return Err(Error::parse(MOUNTINFO, "no cgroup or cgroup2 mount"));
            }
        };
        let unified_controllers = match &unified {
            Some(u) => read_text(
                source,
                &format!("{}/{}", u.dir("/"), v2::CGROUP_CONTROLLERS),
            )
            .map(|t| t.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(Hierarchies {
            layout,
            v1,
            unified,
            unified_controllers,
        })
    }

    /// The hierarchy that serves a controller, if any: its v1 mount, else the unified
    /// hierarchy when the controller is enabled there (or is a core v2 file).
    pub fn controller(&self, c: Controller) -> Option<&Mounted> {
        if let Some((_, m)) = self.v1.iter().find(|(k, _)| *k == c) {
            return Some(m);
        }
        let u = self.unified.as_ref()?;
        match c.v2_name() {
            None => Some(u),
            Some(name) if self.unified_controllers.iter().any(|x| x == name) => Some(u),
            Some(_) => None,
        }
    }

    /// The hierarchy of `c`, or the error that says none serves it.
    fn mounted(&self, c: Controller) -> Result<&Mounted> {
        self.controller(c).ok_or(Error::NoHierarchy {
            controller: c.v1_name(),
        })
    }

    /// Which cgroups a process is in, per controller (trailing `/init.scope` removed),
    /// from the text of its `/proc/<pid>/cgroup`.
    pub(crate) fn container_of(&self, proc_pid_cgroup: &str) -> Option<ContainerId> {
        let lines = parse_pid_cgroup(proc_pid_cgroup);
        if lines.is_empty() {
            return None;
        }
        let unified_path = lines
            .iter()
            .find(|l| l.hierarchy == 0 && l.controllers.is_empty())
            .map(|l| strip_init_scope(&l.path));
        let path_of = |c: Controller| -> Option<String> {
            match self.controller(c)?.version {
                CgroupVersion::V1 => lines
                    .iter()
                    .find(|l| l.controllers.iter().any(|x| x == c.v1_name()))
                    .map(|l| strip_init_scope(&l.path)),
                CgroupVersion::V2 => unified_path.clone(),
            }
        };
        Some(ContainerId {
            memory: path_of(Controller::Memory),
            cpu: path_of(Controller::Cpu),
            cpuacct: path_of(Controller::Cpuacct),
            cpuset: path_of(Controller::Cpuset),
            io: path_of(Controller::Io),
            unified: unified_path,
        })
    }

    /// Cgroup `path` in every hierarchy that serves a controller (`inspect --cgroup`).
    pub(crate) fn container_at(&self, path: &str) -> ContainerId {
        let at = |c: Controller| self.controller(c).map(|_| path.to_owned());
        ContainerId {
            memory: at(Controller::Memory),
            cpu: at(Controller::Cpu),
            cpuacct: at(Controller::Cpuacct),
            cpuset: at(Controller::Cpuset),
            io: at(Controller::Io),
            unified: self.unified.as_ref().map(|_| path.to_owned()),
        }
    }

    /// The root cgroup for every controller: the host itself.
    pub(crate) fn root_container(&self) -> ContainerId {
        let root = |c: Controller| self.controller(c).map(|_| "/".to_owned());
        ContainerId {
            memory: root(Controller::Memory),
            cpu: root(Controller::Cpu),
            cpuacct: root(Controller::Cpuacct),
            cpuset: root(Controller::Cpuset),
            io: root(Controller::Io),
            unified: self.unified.as_ref().map(|_| "/".to_owned()),
        }
    }
}

/// `/x/init.scope` → `/x`; `/init.scope` → `/` (LXCFS's `prune_init_slice`).
fn strip_init_scope(path: &str) -> String {
    match path.strip_suffix("/init.scope") {
        Some("") => "/".to_owned(),
        Some(p) => p.to_owned(),
        None => path.to_owned(),
    }
}

/// `/a/b` → `/a/b`, `/a`, `/`.
fn self_and_ancestors(cg: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = cg.trim_end_matches('/').to_owned();
    loop {
        if cur.is_empty() {
            out.push("/".to_owned());
            return out;
        }
        out.push(cur.clone());
        match cur.rfind('/') {
            Some(i) => cur.truncate(i),
            None => cur.clear(),
        }
    }
}

/// A memory cgroup as read: each value with its own result.
#[derive(Debug)]
pub(crate) struct MemoryReading {
    /// The smallest limit over the cgroup and its ancestors.
    pub(crate) limit: Result<Limit>,
    /// Memory in use, bytes.
    pub(crate) usage: Result<u64>,
    /// `memory.stat` counters.
    pub(crate) stat: Result<MemoryStat>,
    pub(crate) swap: SwapReading,
}

/// Swap as a cgroup accounts it.
#[derive(Debug)]
pub(crate) enum SwapReading {
    /// The kernel keeps no swap figures for this cgroup (no swap accounting).
    NotAccounted,
    /// The swap files exist but cannot be read.
    Unreadable(Error),
    /// Swap-only figures (v1: the memsw share beyond memory).
    Accounted {
        /// Swap-only limit, the smallest over the ancestors.
        limit: Result<Limit>,
        /// Swap in use, bytes.
        usage: Result<u64>,
        /// v1 `memory.swappiness` (0: "a full device", as LXCFS).
        swappiness: Option<u64>,
    },
}

/// Semantic reads of one host's cgroups.
pub(crate) struct Cgroups<'a> {
    pub(crate) source: &'a dyn Source,
    pub(crate) hierarchies: &'a Hierarchies,
}

impl Cgroups<'_> {
    /// The path of `file` in cgroup `cg` of controller `c`.
    fn path(&self, c: Controller, cg: &str, file: &str) -> Result<String> {
        Ok(format!("{}/{}", self.hierarchies.mounted(c)?.dir(cg), file))
    }

    /// Read `file` in cgroup `cg` of controller `c`.
    fn read(&self, c: Controller, cg: &str, file: &str) -> Result<String> {
        read_text(self.source, &self.path(c, cg, file)?)
    }

    /// Read and parse `file`, attaching the path to a parse error.
    fn parsed<T>(
        &self,
        c: Controller,
        cg: &str,
        file: &str,
        parse: impl FnOnce(&str) -> crate::parse::ParseResult<T>,
    ) -> Result<T> {
        let path = self.path(c, cg, file)?;
        let text = read_text(self.source, &path)?;
        parse(&text).map_err(|e| Error::parse(&path, e.what))
    }

    /// A one-number file.
    fn number(&self, c: Controller, cg: &str, file: &str) -> Result<u64> {
        self.parsed(c, cg, file, parse_single_u64)
    }

    /// Version of the hierarchy serving `c`.
    pub(crate) fn version(&self, c: Controller) -> Option<CgroupVersion> {
        self.hierarchies.controller(c).map(|m| m.version)
    }

    /// The smallest limit over `cg` and its ancestors. A missing or unreadable file on an
    /// ancestor is skipped (the v2 root has no limit files); on `cg` itself it is an error.
    fn min_limit_over_ancestors(&self, c: Controller, cg: &str, file: &str) -> Result<Limit> {
        let mut limit = Limit::Max;
        for (i, p) in self_and_ancestors(cg).iter().enumerate() {
            match self.parsed(c, p, file, parse_limit) {
                Ok(l) => limit = limit.min(l),
                Err(e) if i == 0 && !(p == "/" && e.is_missing()) => return Err(e),
                Err(_) => {}
            }
        }
        Ok(limit)
    }

    /// The cgroup that accounts `cg`'s memory: `cg` itself, or, when the memory
    /// controller is not enabled there (a v2 leaf without memory files), the nearest
    /// ancestor that has `usage_file`. `CgroupGone` when `cg` does not exist or only the
    /// root accounts it (the host's values are shown then).
    fn memory_cgroup(&self, cg: &str, usage_file: &str) -> Result<String> {
        let mount = self.hierarchies.mounted(Controller::Memory)?;
        let gone = || Error::CgroupGone {
            path: mount.dir(cg),
        };
        if self.source.metadata(&mount.dir(cg)).is_err() {
            return Err(gone());
        }
        self_and_ancestors(cg)
            .into_iter()
            .take_while(|p| p != "/")
            .find(|p| {
                self.source
                    .metadata(&format!("{}/{usage_file}", mount.dir(p)))
                    .is_ok()
            })
            .ok_or_else(gone)
    }

    /// Memory, swap and `memory.stat` of `cg`. `Err(CgroupGone)` when the cgroup is gone
    /// (or only the root accounts it).
    pub(crate) fn memory(&self, cg: &str) -> Result<MemoryReading> {
        match self.hierarchies.mounted(Controller::Memory)?.version {
            CgroupVersion::V1 => v1::memory(self, cg),
            CgroupVersion::V2 => v2::memory(self, cg),
        }
    }

    /// Limit, usage and counters of the cgroup accounting `cg`, with the version's file
    /// names. `CgroupGone` when none of the three exists.
    fn memory_basics(&self, cg: &str, files: MemoryFiles) -> Result<MemoryBasics> {
        let m = Controller::Memory;
        let owner = self.memory_cgroup(cg, files.usage)?;
        let stat = self
            .read(m, &owner, files.stat)
            .map(|t| (files.parse_stat)(&t));
        let limit = self.min_limit_over_ancestors(m, &owner, files.limit);
        let usage = self.number(m, &owner, files.usage);
        if let (Err(a), Err(b), Err(_)) = (&limit, &usage, &stat) {
            if a.is_missing() && b.is_missing() {
                return Err(Error::CgroupGone {
                    path: self.path(m, &owner, "")?,
                });
            }
        }
        Ok(MemoryBasics {
            owner,
            limit,
            usage,
            stat,
        })
    }

    /// The swap reading from a (limit, usage) pair of swap files, `NotAccounted` when the
    /// usage file does not exist.
    fn swap_reading(
        &self,
        usage: Result<u64>,
        limit: impl FnOnce() -> Result<Limit>,
        swappiness: Option<u64>,
    ) -> SwapReading {
        match usage {
            Err(e) if e.is_missing() => SwapReading::NotAccounted,
            Err(e @ Error::Io { .. }) => SwapReading::Unreadable(e),
            usage => SwapReading::Accounted {
                limit: limit(),
                usage,
                swappiness,
            },
        }
    }

    /// The CPUs of `cg`: its own list, else the effective list, else the nearest ancestor
    /// with a non-empty list. A list that does not parse is an error (never silently
    /// replaced by an ancestor's).
    pub(crate) fn cpuset(&self, cg: &str) -> Result<CpuSet> {
        let c = Controller::Cpuset;
        let (cpus, effective) = match self.hierarchies.mounted(c)?.version {
            CgroupVersion::V1 => (v1::CPUSET_CPUS, v1::CPUSET_EFFECTIVE_CPUS),
            CgroupVersion::V2 => (v2::CPUSET_CPUS, v2::CPUSET_CPUS_EFFECTIVE),
        };
        let mut first_err = None;
        for p in self_and_ancestors(cg) {
            for file in [cpus, effective] {
                match self.parsed(c, &p, file, parse_cpuset) {
                    Ok(set) if !set.is_empty() => return Ok(set),
                    Ok(_) => {}
                    Err(e @ Error::Parse { .. }) => return Err(e),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        Err(first_err.unwrap_or(Error::CgroupGone {
            path: cg.to_owned(),
        }))
    }

    /// The tightest CFS quota over `cg` and its ancestors (`None`: no quota anywhere).
    pub(crate) fn cpu_quota(&self, cg: &str) -> Result<Option<CpuQuota>> {
        let version = self.hierarchies.mounted(Controller::Cpu)?.version;
        let mut best: Option<CpuQuota> = None;
        for (i, p) in self_and_ancestors(cg).iter().enumerate() {
            let q = match version {
                CgroupVersion::V1 => v1::cfs_quota(self, p),
                CgroupVersion::V2 => v2::cpu_max(self, p),
            };
            match q {
                Ok(Some(q)) if best.is_none_or(|b| q.is_tighter_than(&b)) => best = Some(q),
                Ok(_) => {}
                // No cpu files at this level (a v2 cgroup without the cpu controller):
                // the quotas above it still apply.
                Err(e) if i == 0 && !e.is_missing() => return Err(e),
                Err(_) => {}
            }
        }
        Ok(best)
    }

    /// Cumulative CPU time of `cg`.
    pub(crate) fn cpu_time(&self, cg: &str) -> Result<CpuTime> {
        match self.hierarchies.mounted(Controller::Cpuacct)?.version {
            CgroupVersion::V1 => v1::cpu_time(self, cg),
            CgroupVersion::V2 => v2::cpu_time(self, cg),
        }
    }

    /// Block I/O of `cg` per device; `Ok(None)` when this kernel keeps no per-cgroup
    /// figures vproc can use.
    pub(crate) fn io(&self, cg: &str) -> Result<Option<Vec<IoCounters>>> {
        match self.hierarchies.mounted(Controller::Io)?.version {
            CgroupVersion::V1 => v1::io(self, cg),
            CgroupVersion::V2 => v2::io(self, cg).map(Some),
        }
    }

    /// The pressure lines of `cg` (cgroup v2 only).
    pub(crate) fn pressure(&self, cg: &str, kind: PressureKind) -> Result<Vec<PressureLine>> {
        v2::pressure(self, cg, kind)
    }

    /// The cgroup's own slab caches (v1 `memory.kmem.slabinfo`), when the kernel reports
    /// any (current kernels leave the file empty).
    pub(crate) fn slabinfo(&self, cg: &str) -> Option<String> {
        (self.version(Controller::Memory) == Some(CgroupVersion::V1))
            .then(|| v1::kmem_slabinfo(self, cg))
            .flatten()
    }

    /// Whether cgroup `cg` of controller `c` exists.
    pub(crate) fn exists(&self, c: Controller, cg: &str) -> bool {
        self.hierarchies
            .controller(c)
            .is_some_and(|m| self.source.metadata(&m.dir(cg)).is_ok())
    }

    /// The pids of `cg` and of its descendants down to `depth` levels, for loadavg.
    pub(crate) fn pids(&self, c: Controller, cg: &str, depth: u32) -> Vec<u32> {
        let mut out = Vec::new();
        if let Ok(t) = self.read(c, cg, v1::CGROUP_PROCS) {
            out.extend(t.split_whitespace().filter_map(|w| w.parse::<u32>().ok()));
        }
        if depth > 0 {
            if let Some(m) = self.hierarchies.controller(c) {
                for name in self.source.read_dir(&m.dir(cg)).unwrap_or_default() {
                    let child = format!("{}/{}", cg.trim_end_matches('/'), name);
                    let is_dir = self
                        .source
                        .metadata(&m.dir(&child))
                        .is_ok_and(|md| md.kind == NodeKind::Dir);
                    if is_dir {
                        out.extend(self.pids(c, &child, depth - 1));
                    }
                }
            }
        }
        out
    }
}

/// The values every memory cgroup has, and the cgroup that accounts them.
struct MemoryBasics {
    owner: String,
    limit: Result<Limit>,
    usage: Result<u64>,
    stat: Result<MemoryStat>,
}

/// The memory file names of one cgroup version.
#[derive(Clone, Copy)]
struct MemoryFiles {
    stat: &'static str,
    parse_stat: fn(&str) -> MemoryStat,
    limit: &'static str,
    usage: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::mem::MemSource;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n\
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    #[test]
    fn detects_layouts() {
        let mut m = MemSource::new();
        m.file(MOUNTINFO, HYBRID);
        let h = Hierarchies::detect(&m).unwrap();
        assert_eq!(h.layout, Layout::Hybrid);
        assert_eq!(
            h.controller(Controller::Memory).unwrap().dir("/"),
            "/sys/fs/cgroup/memory"
        );
        // cpuset is neither on v1 nor enabled on the unified mount.
        assert!(h.controller(Controller::Cpuset).is_none());
        let cg = Cgroups {
            source: &m,
            hierarchies: &h,
        };
        assert!(matches!(
            cg.cpuset("/x"),
            Err(Error::NoHierarchy {
                controller: "cpuset"
            })
        ));

        let mut m = MemSource::new();
        m.file(
            MOUNTINFO,
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        m.file(
            "/sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory pids\n",
        );
        let h = Hierarchies::detect(&m).unwrap();
        assert_eq!(h.layout, Layout::Unified);
        assert_eq!(
            h.controller(Controller::Cpuset).unwrap().dir("/a/b"),
            "/sys/fs/cgroup/a/b"
        );
        assert_eq!(
            h.controller(Controller::Cpuacct).unwrap().dir("/"),
            "/sys/fs/cgroup"
        );

        let mut m = MemSource::new();
        m.file(MOUNTINFO, "1 2 0:1 / / rw - ext4 /dev/sda rw\n");
        assert!(Hierarchies::detect(&m).is_err());
    }

    #[test]
    fn container_paths_strip_init_scope() {
        let mut m = MemSource::new();
        m.file(MOUNTINFO, HYBRID);
        let h = Hierarchies::detect(&m).unwrap();
        let id = h
            .container_of(
                "4:memory:/lxc/c1/init.scope\n2:cpuacct:/lxc/c1\n1:cpu:/\n0::/init.scope\n",
            )
            .unwrap();
        assert_eq!(id.memory.as_deref(), Some("/lxc/c1"));
        assert_eq!(id.cpu.as_deref(), Some("/"));
        assert_eq!(id.unified.as_deref(), Some("/"));
        assert_eq!(id.cpuset, None);
        assert_eq!(h.root_container().memory.as_deref(), Some("/"));
        assert!(h.container_of("garbage").is_none());
    }

    #[test]
    fn ancestors() {
        assert_eq!(self_and_ancestors("/a/b"), vec!["/a/b", "/a", "/"]);
        assert_eq!(self_and_ancestors("/"), vec!["/"]);
        assert_eq!(strip_init_scope("/init.scope"), "/");
        assert_eq!(strip_init_scope("/x/init.scope"), "/x");
        let m = Mounted {
            version: CgroupVersion::V1,
            mount_point: "/sys/fs/cgroup/memory".into(),
            root: "/lxc".into(),
        };
        assert_eq!(m.dir("/lxc/c1"), "/sys/fs/cgroup/memory/c1");
    }
}
