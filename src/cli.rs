//! The command line: LXCFS's (`vproc [options] [mountpoint]`, default `/var/lib/lxcfs`)
//! plus vproc's own subcommands.

use crate::config::{Config, IdentityMode, RenderOptions};
use crate::render::VirtualFile;
use crate::source::host::HostSource;
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Per-container /proc and /sys/devices/system/cpu views over FUSE, a drop-in successor
/// to LXCFS.
///
/// Started without a subcommand, vproc mounts its files at MOUNTPOINT (the LXCFS
/// layout: proc/meminfo, proc/stat, ..., sys/devices/system/cpu) and serves them in the
/// foreground until SIGTERM; every LXCFS option is accepted.
#[derive(Parser, Debug)]
#[command(
    name = "vproc",
    version,
    about,
    long_about,
    disable_version_flag = true,
    disable_help_subcommand = true,
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where to mount (created if missing).
    #[arg(default_value = "/var/lib/lxcfs")]
    mountpoint: PathBuf,
    /// Debug logging.
    #[arg(short = 'd', long)]
    debug: bool,
    /// Accepted for LXCFS compatibility: vproc always runs in the foreground.
    #[arg(short = 'f', long)]
    foreground: bool,
    /// Print help (LXCFS documents -n for this).
    #[arg(short = 'n', action = ArgAction::Help, hide = true)]
    help_n: Option<bool>,
    /// Extra FUSE mount options (comma list: ro, noexec, noatime, default_permissions,
    /// max_read=N...; allow_other, direct_io, nonempty and *_timeout are vproc's own and
    /// ignored).
    #[arg(short = 'o', value_name = "OPTIONS")]
    options: Option<String>,
    /// Pidfile (default: <runtime-dir>/lxcfs.pid).
    #[arg(short = 'p', long, value_name = "FILE")]
    pidfile: Option<PathBuf>,
    /// Print the version.
    #[arg(short = 'v', long, action = ArgAction::Version)]
    version: Option<bool>,
    /// Ignored (legacy LXCFS option).
    #[arg(short = 's', hide = true)]
    legacy_s: bool,
    /// Accepted for LXCFS compatibility: vproc always pins the processes it resolves.
    #[arg(long)]
    enable_pidfd: bool,
    /// Accepted for LXCFS compatibility; pressure files are read-only in vproc.
    #[arg(long)]
    enable_psi_poll: bool,
    /// Directory for the default pidfile.
    #[arg(long, value_name = "DIR", default_value = "/run")]
    runtime_dir: PathBuf,
    /// LXCFS 6.0's /cgroup view: not provided by vproc (refused).
    #[arg(long, hide = true)]
    enable_cgroup: bool,
    #[command(flatten)]
    view: ViewArgs,
    /// Print what process --pid would read in FILE (e.g. proc/meminfo) and exit, without
    /// mounting (same as `vproc inspect --pid PID FILE`).
    #[arg(long, value_name = "FILE")]
    print: Option<String>,
    /// The reading process for --print (default: this process).
    #[arg(long, value_name = "PID", requires = "print")]
    pid: Option<u32>,
    /// Internal: run as a serving process of the supervisor (descriptors and flags).
    #[arg(long, hide = true, value_name = "SPEC")]
    serve: Option<String>,
}

/// Options that change what the files show (the daemon's and `inspect`'s).
#[derive(Args, Debug, Clone)]
struct ViewArgs {
    /// Virtualise /proc/loadavg (and procs_running/procs_blocked of /proc/stat).
    #[arg(short = 'l', long)]
    enable_loadavg: bool,
    /// Show no swap.
    #[arg(short = 'u', long)]
    disable_swap: bool,
    /// CPU view: visible CPUs capped at the CFS quota (cpuinfo, stat, online).
    #[arg(long, overrides_with = "disable_cfs")]
    enable_cfs: bool,
    /// No CPU view (the default; LXCFS 4.0's spelling).
    #[arg(long, overrides_with = "enable_cfs")]
    disable_cfs: bool,
    /// Zero the Zswap lines of meminfo.
    #[arg(long)]
    disable_zswap: bool,
    /// Whose cgroup a reader sees: `init` (of its pid namespace, as LXCFS) or `reader`
    /// (its own; for pods that share a process namespace).
    #[arg(long, default_value = "init", value_parser = ["init", "reader"])]
    identity: String,
    /// Serve these files as the host's (comma list: meminfo,stat,sys/devices/system/cpu/online...):
    /// an emergency switch per file, where SIGUSR2 switches all.
    #[arg(long, value_name = "FILES", value_delimiter = ',', value_parser = parse_file_name)]
    disable_file: Vec<VirtualFile>,
    /// A read never sees data older than this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    max_staleness: u64,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show what a process or a cgroup would read, without a mount.
    ///
    /// FILE: proc/meminfo, meminfo, sys/devices/system/cpu/online...; default: every
    /// file. A pid that does not exist is an error.
    Inspect {
        /// The reading process (default: this one).
        #[arg(long, value_name = "PID", conflicts_with = "cgroup")]
        pid: Option<u32>,
        /// A reader in this cgroup (its path in the hierarchy, e.g. /lxc/c1).
        #[arg(long, value_name = "PATH")]
        cgroup: Option<String>,
        /// Read a captured kernel tree (fixtures/ format) instead of this machine's.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Write the inputs of this view into DIR as a fixture (for a bug report).
        #[arg(long, value_name = "DIR")]
        capture: Option<PathBuf>,
        /// Show where each value came from: the reader's resolution, the CPU rule,
        /// fallbacks, and every kernel file read.
        #[arg(long)]
        explain: bool,
        #[command(flatten)]
        view: ViewArgs,
        /// Files to show.
        #[arg(value_name = "FILE", value_parser = parse_file_name)]
        files: Vec<VirtualFile>,
    },
    /// Print the bind mounts a container needs.
    ///
    /// Every file vproc serves that this host's kernel has, and sys/devices/system/cpu:
    /// host path and container path per line, or `docker run`/`podman run` flags.
    Mounts {
        /// Print them as `docker run` / `podman run` flags (without `/proc/pressure/*`,
        /// which OCI runtimes refuse to bind).
        #[arg(long, alias = "podman", conflicts_with = "nspawn")]
        docker: bool,
        /// Print them as `systemd-nspawn` flags.
        #[arg(long)]
        nspawn: bool,
        /// vproc's mount point.
        #[arg(long, value_name = "DIR", default_value = "/var/lib/lxcfs")]
        mountpoint: String,
    },
    /// Print a file that installs vproc in a container stack.
    ///
    /// A systemd unit, an LXC/Incus mount hook and its config lines, a Kubernetes
    /// DaemonSet with an example pod.
    Deploy {
        #[command(subcommand)]
        what: Deploy,
    },
    /// Print the manual page.
    ///
    /// Roff, for `vproc man | man -l -`; with --dir, every page (vproc.1 and one per
    /// subcommand) is written into a directory.
    Man {
        /// Write vproc.1, vproc-inspect.1, ... into DIR (e.g. /usr/share/man/man1).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print shell completions.
    ///
    /// For example `vproc completions bash > /usr/share/bash-completion/completions/vproc`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Upgrade a running vproc to the binary now on disk.
    ///
    /// The new serving process takes over the connection: no read fails, and load
    /// averages and CPU counters carry over. The same as SIGUSR1, but waits and reports.
    Upgrade {
        /// The running vproc's pidfile.
        #[arg(
            short = 'p',
            long,
            value_name = "FILE",
            default_value = "/run/lxcfs.pid"
        )]
        pidfile: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum Deploy {
    /// The systemd unit (the supervisor is the unit's main process).
    Systemd {
        /// The binary the unit starts.
        #[arg(long, default_value = "/usr/bin/vproc")]
        binary: String,
        /// Options for the daemon (e.g. "-l --enable-cfs").
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        args: String,
        /// vproc's mount point.
        #[arg(long, default_value = "/var/lib/lxcfs")]
        mountpoint: String,
    },
    /// The LXC/Incus mount hook (a shell script).
    LxcHook {
        /// vproc's mount point.
        #[arg(long, default_value = "/var/lib/lxcfs")]
        mountpoint: String,
    },
    /// The LXC config lines that run the hook.
    LxcConfig {
        /// Where the hook is installed.
        #[arg(long, default_value = "/usr/share/vproc/lxc.mount.hook")]
        hook: String,
    },
    /// The Kubernetes DaemonSet and an example pod.
    Kubernetes {
        /// The container image holding the vproc binary.
        #[arg(long, default_value = "registry.example.com/vproc:0.1.0")]
        image: String,
        /// vproc's mount point on the nodes.
        #[arg(long, default_value = "/var/lib/lxcfs")]
        mountpoint: String,
    },
}

fn deploy(what: &Deploy) -> ExitCode {
    use crate::deploy as d;
    let host = HostSource::new();
    let text = match what {
        Deploy::Systemd {
            binary,
            args,
            mountpoint,
        } => d::systemd_unit(binary, args, mountpoint),
        Deploy::LxcHook { mountpoint } => d::lxc_hook(mountpoint, &d::bind_paths(&host)),
        Deploy::LxcConfig { hook } => d::lxc_config(hook),
        Deploy::Kubernetes { image, mountpoint } => {
            d::kubernetes(image, mountpoint, &d::bind_paths(&host))
        }
    };
    print!("{text}");
    ExitCode::SUCCESS
}

fn mounts(docker: bool, nspawn: bool, mountpoint: &str) -> ExitCode {
    let paths = crate::deploy::bind_paths(&HostSource::new());
    if docker {
        println!("{}", crate::deploy::docker_flags(mountpoint, &paths));
    } else if nspawn {
        println!("{}", crate::deploy::nspawn_flags(mountpoint, &paths));
    } else {
        for p in paths {
            println!("{mountpoint}/{p} /{p}");
        }
    }
    ExitCode::SUCCESS
}

/// `-o` options vproc sets itself or that make no sense for it (LXCFS drops the same).
fn keep_mount_option(o: &str) -> bool {
    let name = o.split('=').next().unwrap_or(o);
    !(o.is_empty()
        || o == "allow_other"
        || o == "direct_io"
        || o == "nonempty"
        || name.ends_with("_timeout"))
}

fn parse_file_name(name: &str) -> Result<VirtualFile, String> {
    VirtualFile::by_name(name).ok_or_else(|| {
        let known: Vec<&str> = VirtualFile::ALL.iter().map(|f| f.path()).collect();
        format!("unknown file {name:?}; known: {}", known.join(" "))
    })
}

fn config(view: &ViewArgs) -> Config {
    let clock_ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
        .unwrap_or(100);
    Config {
        render: RenderOptions {
            enable_cfs: view.enable_cfs && !view.disable_cfs,
            disable_swap: view.disable_swap,
            enable_loadavg: view.enable_loadavg,
            disable_zswap: view.disable_zswap,
            clock_ticks,
        },
        identity: if view.identity == "reader" {
            IdentityMode::Reader
        } else {
            IdentityMode::Init
        },
        max_staleness_ns: view.max_staleness.saturating_mul(1_000_000),
        host_files: view
            .disable_file
            .iter()
            .fold(0, |bits, f| bits | 1 << f.index()),
        ..Config::default()
    }
}

fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get() * 2)
        .clamp(4, 32)
}

fn inspect(view: &ViewArgs, opts: crate::inspect::InspectOptions) -> ExitCode {
    match crate::inspect::run(config(view), opts) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vproc: {e}");
            ExitCode::from(1)
        }
    }
}

fn upgrade(pidfile: &std::path::Path) -> ExitCode {
    let status_path = PathBuf::from(format!("{}.status", pidfile.display()));
    let field = |text: &str, key: &str| -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
    };
    let pid = match crate::os::read_pidfile(pidfile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "vproc: cannot read pidfile {}: {e} (is vproc running? use -p)",
                pidfile.display()
            );
            return ExitCode::from(1);
        }
    };
    let before = crate::os::read_status(&status_path).unwrap_or_default();
    let upgrades = |t: &str| {
        field(t, "upgrades")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let outcome = |t: &str| field(t, "last-upgrade").unwrap_or_default();
    if let Err(e) = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGUSR1,
    ) {
        eprintln!("vproc: cannot signal pid {pid}: {e}");
        return ExitCode::from(1);
    }
    for _ in 0..400 {
        std::thread::sleep(Duration::from_millis(100));
        let now = crate::os::read_status(&status_path).unwrap_or_default();
        if upgrades(&now) > upgrades(&before) {
            println!(
                "vproc: upgraded; serving process {}",
                field(&now, "server").unwrap_or_default()
            );
            return ExitCode::SUCCESS;
        }
        if now != before && outcome(&now).starts_with("failed") {
            eprintln!("vproc: upgrade {}", outcome(&now));
            return ExitCode::from(1);
        }
    }
    eprintln!("vproc: no answer from pid {pid} within 40 s");
    ExitCode::from(1)
}

/// `vproc --version`: the version, what this build does, for which machine.
fn version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let files: Vec<&str> = VirtualFile::ALL.iter().map(|f| f.path()).collect();
        format!(
            "{}\n\
             target: {}-linux\n\
             cgroups: v1, hybrid, v2\n\
             features: reader identities pinned by pidfd; connection kept across serving-process crashes (FUSE_NOTIFY_RESEND, Linux >= 6.9) and live upgrades (SIGUSR1); soft state carried over; inspect with capture and replay\n\
             files: {} sys/devices/system/cpu/cpuN",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH,
            files.join(" ")
        )
    })
}

/// The command line's definition, with the long version.
fn command() -> clap::Command {
    Cli::command().version(version())
}

/// Extra sections of vproc(1), after the options (roff).
const MANUAL_SECTIONS: &str = r#".SH FILES
.TP
\fI/var/lib/lxcfs\fR
The default mount point: \fIproc/{meminfo,cpuinfo,stat,uptime,diskstats,swaps,loadavg,slabinfo,pressure/*}\fR and \fIsys/devices/system/cpu\fR, the LXCFS layout, so existing LXC hooks, container bind mounts and Kubernetes manifests work unchanged.
.TP
\fI/run/lxcfs.pid\fR
The pidfile: the supervisor's pid. \fI/run/lxcfs.pid.status\fR shows the serving process, its generation and the last upgrade.
.SH SIGNALS
.TP
\fBSIGTERM\fR, \fBSIGINT\fR, \fBSIGHUP\fR
Unmount and exit.
.TP
\fBSIGUSR1\fR
Upgrade: the binary now on disk takes over the connection; no read fails, load averages and CPU counters continue (\fBvproc upgrade\fR sends it and waits).
.TP
\fBSIGUSR2\fR
Switch virtualization off (every file shows the host's values) or back on.
.SH EXIT STATUS
0 after an unmount on request; 1 when vproc cannot run (not root, no \fI/dev/fuse\fR, mount point unusable) or its serving process crashed 10 times in 60 seconds; 2 for a usage error.
.SH EXAMPLES
.TP
\fBvproc -l /var/lib/lxcfs\fR
Serve the views, with virtualized load averages.
.TP
\fBpodman run $(vproc mounts --docker) ...\fR
Bind the files into a container.
.TP
\fBvproc inspect --pid 1234 --explain meminfo\fR
What process 1234 reads in /proc/meminfo, and where each value comes from.
.SH SEE ALSO
\fBlxcfs\fR(1), \fBproc\fR(5), \fBcgroups\fR(7), \fBsystemd.service\fR(5)
"#;

/// Render one manual page: `cmd`'s own sections, then `extra` (roff).
fn render_manual(cmd: clap::Command, extra: &str, out: &mut Vec<u8>) -> std::io::Result<()> {
    let versioned = cmd.get_version().is_some();
    let man = clap_mangen::Man::new(cmd);
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    out.extend_from_slice(extra.as_bytes());
    if versioned {
        man.render_version_section(out)?;
    }
    Ok(())
}

/// One page per subcommand of `cmd`, nested ones too: titled vproc-deploy-systemd(1),
/// used as `vproc deploy systemd`.
fn subcommand_pages(
    cmd: &clap::Command,
    used_as: &str,
    pages: &mut Vec<(String, clap::Command, &'static str)>,
) {
    for sub in cmd.get_subcommands() {
        let used_as = format!("{used_as} {}", sub.get_name());
        let name = used_as.replace(' ', "-");
        let page = sub
            .clone()
            .display_name(name.clone())
            .bin_name(used_as.clone());
        pages.push((name, page, ".SH SEE ALSO\n\\fBvproc\\fR(1)\n"));
        subcommand_pages(sub, &used_as, pages);
    }
}

/// `vproc man`: print vproc(1), or write it and one page per subcommand into `dir`.
fn manual(dir: Option<&std::path::Path>) -> ExitCode {
    // The page title carries the version number alone (the long version is lines).
    let cmd = Cli::command().version(env!("CARGO_PKG_VERSION"));
    let mut pages = vec![("vproc".to_owned(), cmd.clone(), MANUAL_SECTIONS)];
    if dir.is_some() {
        subcommand_pages(&cmd, "vproc", &mut pages);
    }
    for (name, page, extra) in pages {
        let mut out = Vec::new();
        let written = render_manual(page, extra, &mut out).and_then(|()| match dir {
            Some(dir) => crate::os::write_file(&dir.join(format!("{name}.1")), &out),
            None => std::io::Write::write_all(&mut std::io::stdout(), &out),
        });
        if let Err(e) = written {
            eprintln!("vproc: manual page {name}: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// The `vproc` binary.
pub fn main() -> ExitCode {
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit());
    // Subcommands that print for a user: only warnings on stderr.
    let quiet = matches!(
        cli.command,
        Some(
            Command::Inspect { .. }
                | Command::Mounts { .. }
                | Command::Deploy { .. }
                | Command::Man { .. }
                | Command::Completions { .. }
        )
    ) || cli.print.is_some();
    crate::logger::init(cli.debug, quiet);
    if let Some(spec) = &cli.serve {
        let Some(spec) = crate::server::ServeSpec::parse(spec) else {
            eprintln!("vproc: --serve is internal to vproc's supervisor");
            return ExitCode::from(2);
        };
        return match spec.adopt(worker_threads()) {
            Ok(args) => {
                ExitCode::from(crate::server::run(config(&cli.view), args).clamp(0, 255) as u8)
            }
            Err(e) => {
                eprintln!("vproc: {e}");
                ExitCode::from(1)
            }
        };
    }
    match &cli.command {
        Some(Command::Upgrade { pidfile }) => return upgrade(pidfile),
        Some(Command::Inspect {
            pid,
            cgroup,
            root,
            capture,
            explain,
            view,
            files,
        }) => {
            let who = match (pid, cgroup) {
                (Some(p), _) => Some(crate::engine::Who::Pid(*p)),
                (None, Some(c)) => Some(crate::engine::Who::Cgroup(c.clone())),
                (None, None) => None,
            };
            let opts = crate::inspect::InspectOptions {
                who,
                files: files.clone(),
                root: root.clone(),
                capture: capture.clone(),
                explain: *explain,
            };
            return inspect(view, opts);
        }
        Some(Command::Mounts {
            docker,
            nspawn,
            mountpoint,
        }) => return mounts(*docker, *nspawn, mountpoint),
        Some(Command::Man { dir }) => return manual(dir.as_deref()),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(*shell, &mut command(), "vproc", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Command::Deploy { what }) => return deploy(what),
        None => {}
    }
    if let Some(path) = cli.print.as_deref() {
        // LXCFS-era spelling of `vproc inspect --pid PID FILE`.
        let Ok(file) = parse_file_name(path) else {
            eprintln!("vproc: {}", parse_file_name(path).unwrap_err());
            return ExitCode::from(2);
        };
        let opts = crate::inspect::InspectOptions {
            who: cli.pid.map(crate::engine::Who::Pid),
            files: vec![file],
            root: None,
            capture: None,
            explain: false,
        };
        return inspect(&cli.view, opts);
    }
    if cli.enable_cgroup {
        eprintln!(
            "vproc: --enable-cgroup (LXCFS's /cgroup view) is not provided; use cgroup namespaces"
        );
        return ExitCode::from(1);
    }
    if cli.enable_pidfd {
        log::info!("--enable-pidfd: accepted; vproc always pins the processes it resolves");
    }
    if cli.enable_psi_poll {
        log::info!("--enable-psi-poll: accepted; pressure files are read-only (writes get EINVAL)");
    }
    let opts = crate::supervisor::SupervisorOptions {
        mountpoint: cli.mountpoint.clone(),
        pidfile: cli
            .pidfile
            .clone()
            .unwrap_or_else(|| cli.runtime_dir.join("lxcfs.pid")),
        mount_options: cli
            .options
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|o| keep_mount_option(o))
            .map(str::to_owned)
            .collect(),
        server_args: std::env::args().skip(1).collect(),
    };
    match crate::supervisor::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vproc: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lxcfs_mount_options_vproc_sets_itself_are_dropped() {
        for o in [
            "allow_other",
            "direct_io",
            "nonempty",
            "entry_timeout=0.5",
            "attr_timeout=0.5",
            "negative_timeout=1",
            "ac_attr_timeout=2",
            "",
        ] {
            assert!(!keep_mount_option(o), "{o}");
        }
        for o in ["ro", "noexec", "max_read=131072", "default_permissions"] {
            assert!(keep_mount_option(o), "{o}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
    }
}
