//! `vproc`: mount per-container `/proc` and `/sys/devices/system/cpu` views, with
//! LXCFS's command line (`vproc [options] [mountpoint]`, default `/var/lib/lxcfs`).

use clap::{ArgAction, Parser};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use vproc::clock::SystemClock;
use vproc::config::{Config, IdentityMode, RenderOptions};
use vproc::daemon::{self, DaemonOptions};
use vproc::render::VirtualFile;
use vproc::sampler::Engine;
use vproc::source::host::HostSource;
use vproc::vfs::Vfs;

/// Per-container /proc and /sys/devices/system/cpu views over FUSE (an LXCFS successor).
///
/// Accepts every LXCFS option; runs in the foreground.
#[derive(Parser, Debug)]
#[command(version, about, disable_version_flag = true)]
struct Cli {
    /// Where to mount (created if missing).
    #[arg(default_value = "/var/lib/lxcfs")]
    mountpoint: PathBuf,
    /// Debug logging (implies foreground).
    #[arg(short = 'd', long)]
    debug: bool,
    /// Accepted for LXCFS compatibility: vproc always runs in the foreground.
    #[arg(short = 'f', long)]
    foreground: bool,
    /// Print help (LXCFS documents -n for this).
    #[arg(short = 'n', action = ArgAction::Help, hide = true)]
    help_n: Option<bool>,
    /// Virtualise /proc/loadavg.
    #[arg(short = 'l', long)]
    enable_loadavg: bool,
    /// Extra FUSE mount options (comma list; allow_other, direct_io, nonempty and
    /// *_timeout are vproc's own and ignored).
    #[arg(short = 'o', value_name = "OPTIONS")]
    options: Option<String>,
    /// Pidfile (default: <runtime-dir>/lxcfs.pid).
    #[arg(short = 'p', long, value_name = "FILE")]
    pidfile: Option<PathBuf>,
    /// Show no swap.
    #[arg(short = 'u', long)]
    disable_swap: bool,
    /// Print the version.
    #[arg(short = 'v', long, action = ArgAction::Version)]
    version: Option<bool>,
    /// Ignored (legacy LXCFS option).
    #[arg(short = 's', hide = true)]
    legacy_s: bool,
    /// CPU view: visible CPUs capped at the CFS quota (cpuinfo, stat, online).
    #[arg(long, overrides_with = "disable_cfs")]
    enable_cfs: bool,
    /// No CPU view (the default; LXCFS 4.0's spelling).
    #[arg(long, overrides_with = "enable_cfs")]
    disable_cfs: bool,
    /// Accepted for LXCFS compatibility (pid namespaces are always tracked safely).
    #[arg(long)]
    enable_pidfd: bool,
    /// Zero the Zswap lines of meminfo.
    #[arg(long)]
    disable_zswap: bool,
    /// Accepted for LXCFS compatibility; pressure files are read-only in vproc.
    #[arg(long)]
    enable_psi_poll: bool,
    /// Directory for the default pidfile.
    #[arg(long, value_name = "DIR", default_value = "/run")]
    runtime_dir: PathBuf,
    /// LXCFS 6.0's /cgroup view: not provided by vproc (refused).
    #[arg(long, hide = true)]
    enable_cgroup: bool,
    /// Whose cgroup a reader sees: `init` (of its pid namespace, as LXCFS) or `reader`
    /// (its own; for pods that share a process namespace).
    #[arg(long, default_value = "init", value_parser = ["init", "reader"])]
    identity: String,
    /// A read never sees data older than this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    max_staleness: u64,
    /// Print what process --pid would read in FILE (e.g. proc/meminfo) and exit, without
    /// mounting.
    #[arg(long, value_name = "FILE")]
    print: Option<String>,
    /// The reading process for --print (default: this process).
    #[arg(long, value_name = "PID", requires = "print")]
    pid: Option<u32>,
}

/// `-o` options vproc sets itself or that make no sense for it (LXCFS drops the same).
fn keep_mount_option(o: &str) -> bool {
    !(o.is_empty()
        || o == "allow_other"
        || o == "direct_io"
        || o == "nonempty"
        || o.starts_with("entry_timeout")
        || o.starts_with("attr_timeout"))
}

fn config(cli: &Cli) -> Config {
    let clock_ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
        .unwrap_or(100);
    Config {
        render: RenderOptions {
            enable_cfs: cli.enable_cfs && !cli.disable_cfs,
            disable_swap: cli.disable_swap,
            enable_loadavg: cli.enable_loadavg,
            disable_zswap: cli.disable_zswap,
            clock_ticks,
        },
        identity: if cli.identity == "reader" {
            IdentityMode::Reader
        } else {
            IdentityMode::Init
        },
        max_staleness_ns: cli.max_staleness.saturating_mul(1_000_000),
        ..Config::default()
    }
}

fn print_file(cli: &Cli, path: &str) -> ExitCode {
    let Some(file) = VirtualFile::ALL
        .into_iter()
        .find(|f| f.path() == path.trim_start_matches('/'))
    else {
        let known: Vec<&str> = VirtualFile::ALL.iter().map(|f| f.path()).collect();
        eprintln!("vproc: unknown file {path:?}; known: {}", known.join(" "));
        return ExitCode::from(2);
    };
    let engine = Engine::new(
        Arc::new(HostSource::new()),
        Arc::new(SystemClock),
        config(cli),
    );
    let vfs = Vfs::new(engine);
    print!(
        "{}",
        vfs.render_for(file, cli.pid.unwrap_or_else(std::process::id))
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    vproc::logger::init(cli.debug);
    if let Some(path) = cli.print.clone() {
        return print_file(&cli, &path);
    }
    if cli.enable_cgroup {
        eprintln!(
            "vproc: --enable-cgroup (LXCFS's /cgroup view) is not provided; use cgroup namespaces"
        );
        return ExitCode::from(1);
    }
    if cli.enable_pidfd {
        log::info!("--enable-pidfd: accepted; vproc always validates cached pid namespaces");
    }
    if cli.enable_psi_poll {
        log::info!("--enable-psi-poll: accepted; pressure files are read-only (writes get EINVAL)");
    }
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get() * 2)
        .clamp(4, 32);
    let opts = DaemonOptions {
        mountpoint: cli.mountpoint.clone(),
        pidfile: cli
            .pidfile
            .clone()
            .unwrap_or_else(|| cli.runtime_dir.join("lxcfs.pid")),
        config: config(&cli),
        mount_options: cli
            .options
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|o| keep_mount_option(o))
            .map(str::to_owned)
            .collect(),
        threads,
    };
    match daemon::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vproc: {e}");
            ExitCode::from(1)
        }
    }
}
