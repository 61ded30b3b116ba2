//! cgroup layouts (v1, hybrid, v2) and semantic getters that hide the file names.
//!
//! [`Hierarchies::detect`] reads `/proc/self/mountinfo`; [`Cgroups`] answers questions
//! such as "the smallest memory limit over this cgroup and its ancestors" whatever the
//! version, returning typed values ([`Limit`], [`CpuSet`], [`MemoryView`]). File names
//! live in [`v1`] and [`v2`] as constants.

pub mod v1;
pub mod v2;

use crate::error::{Error, Result};
use crate::parse::cgroup::{CpuQuota, Limit};
use crate::parse::cpuset::{parse_cpuset, CpuSet};
use crate::parse::mountinfo::parse_mountinfo;
use crate::parse::proc_pid::parse_pid_cgroup;
use crate::snapshot::{CgroupVersion, ContainerId, CpuUsage, IoDevice, MemoryView};
use crate::source::{read_text, Source};

/// Where the mount table of the daemon is.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";

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
    pub fn v2_name(self) -> Option<&'static str> {
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
    /// v1 or v2 formulas.
    pub version: CgroupVersion,
    /// Mount point (`/sys/fs/cgroup/memory`).
    pub mount_point: String,
    /// Root of the mount inside the hierarchy (`/` unless bind-mounted from a subtree).
    pub root: String,
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

/// The hierarchies of this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchies {
    /// The layout.
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

    /// The unified hierarchy, if mounted.
    pub fn unified(&self) -> Option<&Mounted> {
        self.unified.as_ref()
    }

    /// Which cgroups a process is in, per controller (trailing `/init.scope` removed).
    pub fn container_of(&self, source: &dyn Source, pid: u32) -> Result<ContainerId> {
        let path = format!("/proc/{pid}/cgroup");
        let lines = parse_pid_cgroup(&read_text(source, &path)?);
        if lines.is_empty() {
            return Err(Error::parse(&path, "no cgroup lines"));
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
        Ok(ContainerId {
            memory: path_of(Controller::Memory),
            cpu: path_of(Controller::Cpu),
            cpuacct: path_of(Controller::Cpuacct),
            cpuset: path_of(Controller::Cpuset),
            io: path_of(Controller::Io),
            unified: unified_path,
        })
    }

    /// The root cgroup for every controller (readers vproc cannot identify).
    pub fn root_container(&self) -> ContainerId {
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
pub fn strip_init_scope(path: &str) -> String {
    match path.strip_suffix("/init.scope") {
        Some("") => "/".to_owned(),
        Some(p) => p.to_owned(),
        None => path.to_owned(),
    }
}

/// `/a/b` → `/a/b`, `/a`, `/`.
pub fn self_and_ancestors(cg: &str) -> Vec<String> {
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

/// Semantic reads of one host's cgroups.
pub struct Cgroups<'a> {
    /// Where files come from.
    pub source: &'a dyn Source,
    /// The host's hierarchies.
    pub hierarchies: &'a Hierarchies,
}

impl Cgroups<'_> {
    /// Read `file` in cgroup `cg` of controller `c`.
    pub(crate) fn read(&self, c: Controller, cg: &str, file: &str) -> Result<String> {
        let m = self.hierarchies.controller(c).ok_or(Error::NotFound)?;
        read_text(self.source, &format!("{}/{}", m.dir(cg), file))
    }

    /// Path of `file` in `cg` for error messages.
    pub(crate) fn path(&self, c: Controller, cg: &str, file: &str) -> String {
        match self.hierarchies.controller(c) {
            Some(m) => format!("{}/{}", m.dir(cg), file),
            None => format!("<no {} hierarchy>{cg}/{file}", c.v1_name()),
        }
    }

    /// Version of the hierarchy serving `c`.
    pub fn version(&self, c: Controller) -> Option<CgroupVersion> {
        self.hierarchies.controller(c).map(|m| m.version)
    }

    /// The smallest limit over `cg` and its ancestors. A missing or unreadable file on an
    /// ancestor is skipped (the v2 root has no limit files); on `cg` itself it is an error.
    pub(crate) fn min_limit_over_ancestors(
        &self,
        c: Controller,
        cg: &str,
        file: &str,
    ) -> Result<Limit> {
        let mut limit = Limit::Max;
        for (i, p) in self_and_ancestors(cg).iter().enumerate() {
            match self.read(c, p, file).and_then(|t| {
                crate::parse::cgroup::parse_limit(&t)
                    .map_err(|e| Error::parse(&self.path(c, p, file), e.what))
            }) {
                Ok(l) => limit = limit.min(l),
                Err(e) if i == 0 && !(p == "/" && e.is_not_found()) => return Err(e),
                Err(_) => {}
            }
        }
        Ok(limit)
    }

    /// (limit, usage, counters) of a memory cgroup, the same on v1 and v2 but for the
    /// file names: the limit is the minimum over ancestors (host shown if unreadable),
    /// the usage falls back to an estimate from the counters, unreadable counters are 0.
    /// `Err(NotFound)` when none of the three exists (the cgroup is gone).
    /// The cgroup that accounts `cg`'s memory: `cg` itself, or, when the memory
    /// controller is not enabled there (a v2 leaf without memory files), the nearest
    /// ancestor that has `usage_file`. `Err(NotFound)` when `cg` no longer exists or only
    /// the root accounts it (the host's values are shown then).
    pub(crate) fn memory_cgroup(&self, cg: &str, usage_file: &str) -> Result<String> {
        let m = Controller::Memory;
        let mount = self.hierarchies.controller(m).ok_or(Error::NotFound)?;
        if self.source.metadata(&mount.dir(cg)).is_err() {
            return Err(Error::NotFound);
        }
        for p in self_and_ancestors(cg) {
            if p == "/" {
                break;
            }
            match self
                .source
                .metadata(&format!("{}/{usage_file}", mount.dir(&p)))
            {
                Ok(_) => return Ok(p),
                Err(_) => continue,
            }
        }
        Err(Error::NotFound)
    }

    /// `(accounting cgroup, limit, usage, counters)` of `cg` (see [`Self::memory_cgroup`]).
    pub(crate) fn memory_basics(
        &self,
        cg: &str,
        stat_file: &str,
        parse_stat: fn(&str) -> crate::snapshot::MemoryStat,
        limit_file: &str,
        usage_file: &str,
        fb: &mut Vec<crate::snapshot::Fallback>,
    ) -> Result<(String, Limit, u64, crate::snapshot::MemoryStat)> {
        use crate::snapshot::Fallback;
        let m = Controller::Memory;
        let owned = self.memory_cgroup(cg, usage_file)?;
        let cg = owned.as_str();
        let (stat, stat_err) = match self.read(m, cg, stat_file) {
            Ok(t) => (parse_stat(&t), None),
            Err(e) => (crate::snapshot::MemoryStat::default(), Some(e)),
        };
        let limit = self.min_limit_over_ancestors(m, cg, limit_file);
        let usage = self.read(m, cg, usage_file).and_then(|t| {
            crate::parse::cgroup::parse_single_u64(&t)
                .map_err(|e| Error::parse(&self.path(m, cg, usage_file), e.what))
        });
        if let (Err(a), Err(b), Some(_)) = (&limit, &usage, &stat_err) {
            if a.is_not_found() && b.is_not_found() {
                return Err(Error::NotFound);
            }
        }
        let mut note = |what: &'static str, e: &Error| {
            fb.push(Fallback {
                what,
                reason: e.to_string(),
            })
        };
        if let Some(e) = &stat_err {
            note("memory.stat counters (shown as 0)", e);
        }
        let limit = limit.unwrap_or_else(|e| {
            note("memory limit (host MemTotal shown)", &e);
            Limit::Max
        });
        let usage = usage.unwrap_or_else(|e| {
            note("memory usage (estimated from memory.stat)", &e);
            stat.estimated_usage()
        });
        Ok((owned.clone(), limit, usage, stat))
    }

    /// Memory, swap and memory.stat of `cg`; per-field fallbacks are appended to `fb`.
    pub fn memory(&self, cg: &str, fb: &mut Vec<crate::snapshot::Fallback>) -> Result<MemoryView> {
        match self.version(Controller::Memory).ok_or(Error::NotFound)? {
            CgroupVersion::V1 => v1::memory(self, cg, fb),
            CgroupVersion::V2 => v2::memory(self, cg, fb),
        }
    }

    /// The CPUs of `cg`: its own list, else the effective list, else the nearest ancestor
    /// with a non-empty list. A list that does not parse is an error (never silently
    /// replaced by an ancestor's).
    pub fn cpuset(&self, cg: &str) -> Result<CpuSet> {
        let (cpus, effective) = match self.version(Controller::Cpuset).ok_or(Error::NotFound)? {
            CgroupVersion::V1 => (v1::CPUSET_CPUS, v1::CPUSET_EFFECTIVE_CPUS),
            CgroupVersion::V2 => (v2::CPUSET_CPUS, v2::CPUSET_CPUS_EFFECTIVE),
        };
        let mut first_err = None;
        for p in self_and_ancestors(cg) {
            for file in [cpus, effective] {
                match self.read(Controller::Cpuset, &p, file) {
                    Ok(t) => match parse_cpuset(&t) {
                        Ok(set) if !set.is_empty() => return Ok(set),
                        Ok(_) => {}
                        Err(e) => {
                            return Err(Error::parse(
                                &self.path(Controller::Cpuset, &p, file),
                                e.what,
                            ))
                        }
                    },
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        Err(first_err.unwrap_or(Error::NotFound))
    }

    /// The tightest CFS quota over `cg` and its ancestors (`None`: no quota anywhere).
    pub fn cpu_quota(&self, cg: &str) -> Result<Option<CpuQuota>> {
        let version = self.version(Controller::Cpu).ok_or(Error::NotFound)?;
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
                Err(e) if i == 0 && !e.is_not_found() => return Err(e),
                Err(_) => {}
            }
        }
        Ok(best)
    }

    /// CPU time of `cg`.
    pub fn cpu_usage(&self, cg: &str) -> Result<CpuUsage> {
        match self.version(Controller::Cpuacct).ok_or(Error::NotFound)? {
            CgroupVersion::V1 => v1::cpu_usage(self, cg),
            CgroupVersion::V2 => v2::cpu_usage(self, cg),
        }
    }

    /// Block I/O of `cg` per device; `Ok(None)` when this kernel keeps no per-cgroup
    /// figures vproc can use (the host file is shown).
    pub fn io(&self, cg: &str) -> Result<Option<Vec<IoDevice>>> {
        match self.version(Controller::Io).ok_or(Error::NotFound)? {
            CgroupVersion::V1 => v1::io(self, cg),
            CgroupVersion::V2 => v2::io(self, cg).map(Some),
        }
    }

    /// The pids of `cg` and of its descendants down to `depth` levels, for loadavg.
    pub fn pids(&self, c: Controller, cg: &str, depth: u32) -> Vec<u32> {
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
                        .is_ok_and(|md| md.kind == crate::source::NodeKind::Dir);
                    if is_dir {
                        out.extend(self.pids(c, &child, depth - 1));
                    }
                }
            }
        }
        out
    }
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
            h.controller(Controller::Memory).unwrap().mount_point,
            "/sys/fs/cgroup/memory"
        );
        // cpuset is neither on v1 nor enabled on the unified mount.
        assert!(h.controller(Controller::Cpuset).is_none());

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
        m.file(
            "/proc/7/cgroup",
            "4:memory:/lxc/c1/init.scope\n2:cpuacct:/lxc/c1\n1:cpu:/\n0::/init.scope\n",
        );
        let h = Hierarchies::detect(&m).unwrap();
        let id = h.container_of(&m, 7).unwrap();
        assert_eq!(id.memory.as_deref(), Some("/lxc/c1"));
        assert_eq!(id.cpu.as_deref(), Some("/"));
        assert_eq!(id.unified.as_deref(), Some("/"));
        assert_eq!(id.cpuset, None);
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
