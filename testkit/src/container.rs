//! A container as a runtime makes one, for real-kernel tests: a `vproc-test-*` cgroup
//! with limits, a new pid and mount namespace (its own `/proc`), and vproc's files
//! bind-mounted over `/proc/*` and `/sys/devices/system/cpu` — what `vproc mounts` lists,
//! what the LXC hook and `docker -v` do.

use crate::real::{Limits, TestCgroup};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// `s` as one single-quoted shell word.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A container reading through the vproc mounted at `mnt`.
pub struct Container {
    /// Its cgroup (removed on drop, after every process in it ended).
    pub cgroup: TestCgroup,
    mnt: PathBuf,
}

impl Container {
    /// A new container with `limits`, reading vproc mounted at `mnt`.
    pub fn new(mnt: &Path, limits: Limits) -> Container {
        Container {
            cgroup: TestCgroup::create(limits),
            mnt: mnt.to_path_buf(),
        }
    }

    /// The shell lines that bind vproc's files over the container's own (only files that
    /// exist on both sides, as the LXC hook does).
    fn binds(&self) -> String {
        let m = self.mnt.display();
        format!(
            "for f in meminfo cpuinfo stat uptime diskstats swaps loadavg slabinfo pressure/cpu pressure/memory pressure/io; do \
               [ -e {m}/proc/$f ] && [ -e /proc/$f ] && mount --bind {m}/proc/$f /proc/$f; done; \
             mount --bind {m}/sys/devices/system/cpu /sys/devices/system/cpu"
        )
    }

    /// The command that runs `script` (a shell script) as the container's init: pid 1
    /// of a new pid namespace, in its own mount namespace with vproc's files bound.
    fn inner(&self, script: &str) -> String {
        let body = format!("{}; {script}", self.binds());
        format!(
            "exec unshare --pid --fork --mount --mount-proc --propagation private sh -c {}",
            shell_quote(&body)
        )
    }

    /// Run `script` in the container; its output (whatever the exit status).
    pub fn output(&self, script: &str) -> Output {
        self.cgroup
            .command(&self.inner(script))
            .stdin(Stdio::null())
            .output()
            .expect("running a container")
    }

    /// Run `script` in the container and return its stdout; panics with stderr if it fails.
    pub fn run(&self, script: &str) -> String {
        let out = self.output(script);
        assert!(
            out.status.success(),
            "in the container: {script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start `script` in the container (stdout piped, stderr inherited).
    pub fn spawn(&self, script: &str) -> Child {
        self.cgroup
            .command(&self.inner(script))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting a container")
    }
}

/// `Command` for `sh -c <cmd>` (tests that build their own pipelines).
pub fn sh(cmd: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(cmd);
    c
}
