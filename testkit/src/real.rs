//! The real kernel, for end-to-end tests and benchmarks: a mounted daemon, `vproc-test-*`
//! cgroups on whatever layout the host has, readers inside them. Every resource is
//! released in `Drop`, so a failing assertion leaves no mount, no daemon and no cgroup
//! behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use vproc::cgroup::{Controller, Hierarchies, Layout};
use vproc::source::host::HostSource;

pub use crate::text::*;

/// Why real-kernel tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    if std::env::var_os("VPROC_EMULATED").is_some() {
        return Some("running under qemu-user: FUSE messages are not byte-swapped (s390x) and the daemon binary cannot be executed".into());
    }
    if !nix::unistd::geteuid().is_root() {
        return Some("not root: mounting FUSE and creating cgroups need root".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing".into());
    }
    None
}

/// Report that `test` skips for `reason`: a loud line on stderr, and a line in the file
/// `$VPROC_SKIP_LOG` names (CI counts those: a skipped test is reported as skipped,
/// never as passed, although `cargo test` counts it as passed).
pub fn skipped(test: &str, reason: &str) {
    eprintln!("\n*** SKIPPED {test}: {reason} ***\n");
    if let Some(log) = std::env::var_os("VPROC_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(log) {
            // One write of the whole line: tests skip from parallel threads, and an
            // O_APPEND write is not interleaved with another (writeln! may write twice).
            let _ = f.write_all(format!("{test}: {reason}\n").as_bytes());
        }
    }
}

/// Report a skip (see [`skipped`]) and return true when the test cannot run here.
pub fn skip(test: &str) -> bool {
    match skip_reason() {
        Some(r) => {
            skipped(test, &r);
            true
        }
        None => false,
    }
}

/// Whether `path` is currently a FUSE mount point.
pub fn is_fuse_mount(path: &Path) -> bool {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    vproc::parse::mountinfo::parse_mountinfo(&text)
        .iter()
        .any(|m| Path::new(&m.mount_point) == path && m.fstype.starts_with("fuse"))
}

/// Wait until `cond` holds (up to 10 s).
pub fn wait_for(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// A FUSE daemon (vproc or lxcfs) on its own temporary mount point and pidfile.
pub struct Daemon {
    /// The daemon process (None once stopped).
    pub child: Option<Child>,
    /// Temporary directory holding the mount point and the pidfile.
    pub dir: tempfile::TempDir,
    /// The mount point.
    pub mnt: PathBuf,
    /// The pidfile.
    pub pidfile: PathBuf,
}

impl Daemon {
    /// Start `program args... -p <pidfile> <mnt>` and wait for the mount.
    pub fn start(program: &str, args: &[&str]) -> Daemon {
        Daemon::start_with_env(program, args, &[])
    }

    /// [`Daemon::start`] with extra environment variables.
    pub fn start_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("vproc-e2e")
            .tempdir()
            .unwrap();
        let mnt = dir.path().join("mnt");
        fs::create_dir_all(&mnt).unwrap();
        let mnt = fs::canonicalize(&mnt).unwrap();
        let pidfile = dir.path().join("daemon.pid");
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .arg("-p")
            .arg(&pidfile)
            .arg(&mnt)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        let d = Daemon {
            child: Some(child),
            dir,
            mnt,
            pidfile,
        };
        let m = d.mnt.clone();
        wait_for(&format!("{program} to mount {}", m.display()), || {
            is_fuse_mount(&m) && m.join("proc/meminfo").exists()
        });
        d
    }

    /// The daemon's pid.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Send a signal to the daemon.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// SIGTERM and wait; returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        for _ in 0..200 {
            if let Ok(Some(st)) = child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        if is_fuse_mount(&self.mnt) {
            let _ = nix::mount::umount2(&self.mnt, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Limits for a test cgroup.
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    /// Memory limit, bytes.
    pub memory: Option<u64>,
    /// Swap limit (beyond memory), bytes.
    pub swap: Option<u64>,
    /// cpuset list.
    pub cpus: Option<&'static str>,
    /// CFS quota and period, µs.
    pub quota: Option<(u64, u64)>,
}

/// A `vproc-test-*` cgroup on whatever layout the host has; removed on drop.
pub struct TestCgroup {
    /// Its name (`vproc-test-<pid>-<n>`).
    pub name: String,
    /// Directories created (children first when removing).
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` files a reader joins.
    procs: Vec<PathBuf>,
    /// The host's layout.
    pub layout: Layout,
}

fn write(path: &Path, value: &str) {
    fs::write(path, value)
        .unwrap_or_else(|e| panic!("writing {value:?} to {}: {e}", path.display()));
}

impl TestCgroup {
    /// Create it with these limits in every hierarchy vproc reads.
    pub fn create(limits: Limits) -> TestCgroup {
        let h = Hierarchies::detect(&HostSource::new()).expect("cgroup layout");
        let name = format!(
            "vproc-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let mut cg = TestCgroup {
            name: name.clone(),
            dirs: Vec::new(),
            procs: Vec::new(),
            layout: h.layout,
        };
        let cg_path = format!("/{name}");
        let mut seen = Vec::new();
        for c in [
            Controller::Memory,
            Controller::Cpu,
            Controller::Cpuacct,
            Controller::Cpuset,
            Controller::Io,
        ] {
            let Some(m) = h.controller(c) else { continue };
            let dir = PathBuf::from(m.dir(&cg_path));
            // On v2 every controller shares one directory: create it once, configure it
            // for each controller.
            if !seen.contains(&dir) {
                seen.push(dir.clone());
                if m.version == vproc::cgroup::CgroupVersion::V2 {
                    let root = PathBuf::from(m.dir("/"));
                    let ctl =
                        fs::read_to_string(root.join("cgroup.subtree_control")).unwrap_or_default();
                    for want in ["memory", "cpu", "cpuset"] {
                        if !ctl.split_whitespace().any(|x| x == want) {
                            let _ =
                                fs::write(root.join("cgroup.subtree_control"), format!("+{want}"));
                        }
                    }
                }
                fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
                cg.dirs.push(dir.clone());
                cg.procs.push(dir.join("cgroup.procs"));
            }
            let v1 = m.version == vproc::cgroup::CgroupVersion::V1;
            match c {
                Controller::Memory => {
                    if let Some(mem) = limits.memory {
                        write(
                            &dir.join(if v1 {
                                "memory.limit_in_bytes"
                            } else {
                                "memory.max"
                            }),
                            &mem.to_string(),
                        );
                        if let Some(swap) = limits.swap {
                            if v1 {
                                let f = dir.join("memory.memsw.limit_in_bytes");
                                if f.exists() {
                                    write(&f, &(mem + swap).to_string());
                                }
                            } else if dir.join("memory.swap.max").exists() {
                                write(&dir.join("memory.swap.max"), &swap.to_string());
                            }
                        }
                    }
                }
                Controller::Cpuset => {
                    if v1 {
                        let parent =
                            fs::read_to_string(PathBuf::from(m.dir("/")).join("cpuset.mems"))
                                .unwrap();
                        write(&dir.join("cpuset.mems"), parent.trim());
                    }
                    if let Some(cpus) = limits.cpus {
                        write(&dir.join("cpuset.cpus"), cpus);
                    } else if v1 {
                        let parent =
                            fs::read_to_string(PathBuf::from(m.dir("/")).join("cpuset.cpus"))
                                .unwrap();
                        write(&dir.join("cpuset.cpus"), parent.trim());
                    }
                }
                Controller::Cpu => {
                    if let Some((q, p)) = limits.quota {
                        if v1 {
                            write(&dir.join("cpu.cfs_period_us"), &p.to_string());
                            write(&dir.join("cpu.cfs_quota_us"), &q.to_string());
                        } else {
                            write(&dir.join("cpu.max"), &format!("{q} {p}"));
                        }
                    }
                }
                _ => {}
            }
        }
        cg
    }

    /// The content of cgroup file `name` (`memory.stat`, `cpuacct.usage`, ...), from
    /// whichever of the cgroup's directories has it.
    pub fn file(&self, name: &str) -> Option<String> {
        self.dirs
            .iter()
            .find_map(|d| fs::read_to_string(d.join(name)).ok())
    }

    /// A `key value` line of a flat-keyed cgroup file (`memory.stat`, `cpu.stat`).
    pub fn stat_value(&self, file: &str, key: &str) -> Option<u64> {
        self.file(file)?
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} ")))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Whether the kernel accounts swap for this cgroup (v1 `memory.memsw.*`, v2
    /// `memory.swap.*`).
    pub fn accounts_swap(&self) -> bool {
        self.dirs.iter().any(|d| {
            d.join("memory.memsw.limit_in_bytes").exists() || d.join("memory.swap.max").exists()
        })
    }

    /// Move the calling process (all its threads: `cgroup.procs`) into this cgroup.
    pub fn enter(&self) {
        for p in &self.procs {
            write(p, &std::process::id().to_string());
        }
    }

    /// Move process `pid` (all its threads) into this cgroup.
    pub fn adopt(&self, pid: u32) {
        for p in &self.procs {
            write(p, &pid.to_string());
        }
    }

    /// Move process `pid` back to the root cgroups (if it still exists).
    pub fn leave_pid(&self, pid: u32) {
        for p in &self.procs {
            if let Some(root) = p.parent().and_then(Path::parent) {
                let _ = fs::write(root.join("cgroup.procs"), pid.to_string());
            }
        }
    }

    /// Spawn a long-running command inside the cgroup with its stdout piped.
    pub fn spawn_piped(&self, cmd: &str) -> Child {
        self.command(&format!("exec {cmd}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Move the calling process back to the root cgroups (before the cgroup is removed).
    pub fn leave(&self) {
        for p in &self.procs {
            let root = p
                .parent()
                .and_then(Path::parent)
                .map(|d| d.join("cgroup.procs"));
            if let Some(root) = root {
                let _ = fs::write(root, std::process::id().to_string());
            }
        }
    }

    /// A shell snippet that moves the shell into this cgroup.
    fn join_snippet(&self) -> String {
        self.procs
            .iter()
            .map(|p| format!("echo $$ > {};", p.display()))
            .collect()
    }

    /// `sh -c "<join the cgroup>; <cmd>"`, not started.
    pub fn command(&self, cmd: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(format!("{} {cmd}", self.join_snippet()));
        c
    }

    /// Run `cmd` (a shell command) inside the cgroup and return its stdout.
    pub fn run(&self, cmd: &str) -> String {
        run_shell(&self.join_snippet(), cmd)
    }

    /// `cat` a file from inside the cgroup.
    pub fn cat(&self, path: &Path) -> String {
        self.run(&format!("exec cat {}", path.display()))
    }

    /// Spawn a long-running command inside the cgroup.
    pub fn spawn(&self, cmd: &str) -> Child {
        spawn_shell(&self.join_snippet(), cmd)
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            for attempt in 0..500 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                // Only tests put processes in vproc-test-* cgroups: end what a test left.
                if attempt % 25 == 24 {
                    let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                    for pid in procs
                        .split_whitespace()
                        .filter_map(|p| p.parse::<i32>().ok())
                    {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if dir.exists() {
                eprintln!("*** test cgroup {} could not be removed ***", dir.display());
            }
        }
    }
}

/// Run `sh -c "<join> <cmd>"` (join moves the shell into a cgroup) and return stdout;
/// panics with stderr if it fails.
fn run_shell(join: &str, cmd: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{join} {cmd}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Spawn `sh -c "<join> exec <cmd>"` with stdout discarded.
fn spawn_shell(join: &str, cmd: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("{join} exec {cmd}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Number of processors of this machine (its own /proc/cpuinfo).
pub fn host_cpus() -> usize {
    processors(&fs::read_to_string("/proc/cpuinfo").unwrap_or_default())
}

/// Whether the host (or VM) has a pure cgroup v2 layout.
pub fn pure_v2() -> bool {
    Hierarchies::detect(&HostSource::new()).is_ok_and(|h| h.layout == Layout::Unified)
}

/// The reason to skip a pure-v2 test here, if any.
pub fn skip_v2(test: &str) -> bool {
    if skip(test) {
        return true;
    }
    if !pure_v2() {
        skipped(
            test,
            "not a pure cgroup v2 host (this suite runs in the v2 VM: bash ci/vm.sh)",
        );
        return true;
    }
    false
}

/// True inside the throw-away test VM (set by `tests/vm/run-v2vm`'s callers), where tests
/// may change global settings (sysctls, swap, loop devices).
pub fn in_test_vm() -> bool {
    std::env::var_os("VPROC_IN_VM").is_some()
}

/// A tree of cgroup v2 directories under `/sys/fs/cgroup/vproc-test-*`, removed (with
/// every process in it killed) on drop.
pub struct V2Tree {
    /// The top directory's name.
    pub name: String,
    dirs: Vec<PathBuf>,
}

/// The cgroup v2 mount point.
pub const CGROUP2: &str = "/sys/fs/cgroup";

impl V2Tree {
    /// A new top directory `vproc-test-<pid>-<n>`.
    pub fn new() -> V2Tree {
        let name = format!(
            "vproc-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let mut t = V2Tree {
            name: name.clone(),
            dirs: Vec::new(),
        };
        t.mkdir("");
        t
    }

    /// The directory of `rel` ("" = the top).
    pub fn dir(&self, rel: &str) -> PathBuf {
        let p = PathBuf::from(CGROUP2).join(&self.name);
        if rel.is_empty() {
            p
        } else {
            p.join(rel)
        }
    }

    /// The cgroup path of `rel` as `/proc/<pid>/cgroup` shows it.
    pub fn path(&self, rel: &str) -> String {
        if rel.is_empty() {
            format!("/{}", self.name)
        } else {
            format!("/{}/{rel}", self.name)
        }
    }

    /// Create `rel`.
    pub fn mkdir(&mut self, rel: &str) -> PathBuf {
        let d = self.dir(rel);
        fs::create_dir(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        self.dirs.push(d.clone());
        d
    }

    /// Write `value` to `file` of `rel`.
    pub fn set(&self, rel: &str, file: &str, value: &str) {
        write(&self.dir(rel).join(file), value);
    }

    /// Read `file` of `rel`.
    pub fn get(&self, rel: &str, file: &str) -> String {
        fs::read_to_string(self.dir(rel).join(file)).unwrap_or_default()
    }

    /// Run a shell command inside `rel` and return its stdout.
    pub fn run(&self, rel: &str, cmd: &str) -> String {
        run_shell(&self.join_snippet(rel), cmd)
    }

    /// Start a long-running shell command inside `rel`.
    pub fn spawn(&self, rel: &str, cmd: &str) -> Child {
        spawn_shell(&self.join_snippet(rel), cmd)
    }

    fn join_snippet(&self, rel: &str) -> String {
        format!("echo $$ > {}/cgroup.procs;", self.dir(rel).display())
    }
}

impl Default for V2Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for V2Tree {
    fn drop(&mut self) {
        // cgroup.kill (Linux 5.14+) ends every process left in the tree.
        let _ = fs::write(self.dir("").join("cgroup.kill"), "1");
        for dir in self.dirs.iter().rev() {
            for _ in 0..100 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A loop device over a fresh file of `mib` MiB in a temporary directory; detached on
/// drop. Only for the test VM (it creates block devices).
pub struct LoopDevice {
    /// `/dev/loopN`.
    pub dev: String,
    /// (major, minor).
    pub devno: (u32, u32),
    _dir: tempfile::TempDir,
}

impl LoopDevice {
    /// Attach a new loop device, or None if the kernel has no loop support.
    pub fn new(mib: u64) -> Option<LoopDevice> {
        let dir = tempfile::tempdir().ok()?;
        let file = dir.path().join("disk.img");
        let f = fs::File::create(&file).ok()?;
        f.set_len(mib << 20).ok()?;
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&file)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let minor: u32 = dev.trim_start_matches("/dev/loop").parse().ok()?;
        Some(LoopDevice {
            dev,
            devno: (7, minor),
            _dir: dir,
        })
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("swapoff").arg(&self.dev).output();
        let _ = Command::new("umount").arg(&self.dev).output();
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).output();
    }
}
