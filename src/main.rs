//! The `vproc` binary.
//!
//! This release renders files from the live kernel without mounting (`--print`); the
//! FUSE daemon with LXCFS's command line is the next milestone.

use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;
use vproc::clock::SystemClock;
use vproc::config::{Config, IdentityMode, RenderOptions};
use vproc::render::VirtualFile;
use vproc::sampler::Engine;
use vproc::source::host::HostSource;
use vproc::vfs::Vfs;

/// Per-container /proc and /sys/devices/system/cpu views (an LXCFS successor).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Print what process PID would read in FILE (e.g. proc/meminfo), then exit.
    #[arg(long, value_name = "FILE")]
    print: Option<String>,
    /// The reading process (default: this process).
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,
    /// CPU view: cap visible CPUs at the CFS quota.
    #[arg(long)]
    enable_cfs: bool,
    /// Show no swap.
    #[arg(short = 'u', long)]
    disable_swap: bool,
    /// Virtualise loadavg.
    #[arg(short = 'l', long)]
    enable_loadavg: bool,
    /// Zero the Zswap lines.
    #[arg(long)]
    disable_zswap: bool,
    /// Whose cgroup a reader sees: `init` (of its pid namespace, as LXCFS) or `reader`.
    #[arg(long, default_value = "init", value_parser = ["init", "reader"])]
    identity: String,
    /// Debug logging.
    #[arg(short = 'd', long)]
    debug: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    vproc::logger::init(cli.debug);
    let Some(path) = cli.print.as_deref() else {
        eprintln!(
            "vproc: this build renders files with --print FILE; mounting is not available yet"
        );
        return ExitCode::from(2);
    };
    let Some(file) = VirtualFile::ALL
        .into_iter()
        .find(|f| f.path() == path.trim_start_matches('/'))
    else {
        eprintln!(
            "vproc: unknown file {path:?}; known: {}",
            VirtualFile::ALL.map(|f| f.path()).join(" ")
        );
        return ExitCode::from(2);
    };
    let clock_ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(100);
    let config = Config {
        render: RenderOptions {
            enable_cfs: cli.enable_cfs,
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
        ..Config::default()
    };
    let engine = Engine::new(Arc::new(HostSource::new()), Arc::new(SystemClock), config);
    let vfs = Vfs::new(engine);
    let pid = cli.pid.unwrap_or_else(std::process::id);
    print!("{}", vfs.render_for(file, pid));
    ExitCode::SUCCESS
}
