//! Renderers: pure functions from a [`Snapshot`] to the bytes of one virtual file.
//!
//! One module per file, one signature: `render_x(snap, ctx, out)`. Renderers cannot
//! fail: whatever could not be read is already an explicit fallback in the snapshot
//! (usually `None`, rendered as the host's file). All arithmetic saturates.

pub mod cpuinfo;
pub mod diskstats;
pub mod loadavg;
pub mod meminfo;
pub mod pressure;
pub mod slabinfo;
pub mod stat;
pub mod swaps;
pub mod sys_cpu;
pub mod uptime;

use crate::config::RenderOptions;
use crate::snapshot::{Parts, Snapshot};

/// Every file vproc renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VirtualFile {
    /// proc/meminfo
    Meminfo,
    /// proc/cpuinfo
    Cpuinfo,
    /// proc/stat
    Stat,
    /// proc/uptime
    Uptime,
    /// proc/diskstats
    Diskstats,
    /// proc/swaps
    Swaps,
    /// proc/loadavg
    Loadavg,
    /// proc/slabinfo
    Slabinfo,
    /// proc/pressure/cpu
    PressureCpu,
    /// proc/pressure/memory
    PressureMemory,
    /// proc/pressure/io
    PressureIo,
    /// sys/devices/system/cpu/online
    CpuOnline,
    /// sys/devices/system/cpu/offline
    CpuOffline,
    /// sys/devices/system/cpu/possible
    CpuPossible,
    /// sys/devices/system/cpu/present
    CpuPresent,
}

impl VirtualFile {
    /// Every file, in the order of the golden tests.
    pub const ALL: [VirtualFile; 15] = [
        VirtualFile::Meminfo,
        VirtualFile::Cpuinfo,
        VirtualFile::Stat,
        VirtualFile::Uptime,
        VirtualFile::Diskstats,
        VirtualFile::Swaps,
        VirtualFile::Loadavg,
        VirtualFile::Slabinfo,
        VirtualFile::PressureCpu,
        VirtualFile::PressureMemory,
        VirtualFile::PressureIo,
        VirtualFile::CpuOnline,
        VirtualFile::CpuOffline,
        VirtualFile::CpuPossible,
        VirtualFile::CpuPresent,
    ];

    /// Path below the mount point.
    pub fn path(self) -> &'static str {
        match self {
            VirtualFile::Meminfo => "proc/meminfo",
            VirtualFile::Cpuinfo => "proc/cpuinfo",
            VirtualFile::Stat => "proc/stat",
            VirtualFile::Uptime => "proc/uptime",
            VirtualFile::Diskstats => "proc/diskstats",
            VirtualFile::Swaps => "proc/swaps",
            VirtualFile::Loadavg => "proc/loadavg",
            VirtualFile::Slabinfo => "proc/slabinfo",
            VirtualFile::PressureCpu => "proc/pressure/cpu",
            VirtualFile::PressureMemory => "proc/pressure/memory",
            VirtualFile::PressureIo => "proc/pressure/io",
            VirtualFile::CpuOnline => "sys/devices/system/cpu/online",
            VirtualFile::CpuOffline => "sys/devices/system/cpu/offline",
            VirtualFile::CpuPossible => "sys/devices/system/cpu/possible",
            VirtualFile::CpuPresent => "sys/devices/system/cpu/present",
        }
    }

    /// The snapshot parts this file is computed from.
    pub fn parts(self) -> Parts {
        match self {
            VirtualFile::Meminfo | VirtualFile::Swaps => Parts::MEMORY,
            VirtualFile::Cpuinfo
            | VirtualFile::CpuOnline
            | VirtualFile::CpuOffline
            | VirtualFile::CpuPossible
            | VirtualFile::CpuPresent => Parts::CPUSET,
            // LOAD: procs_running / procs_blocked come from the container's tasks with -l.
            VirtualFile::Stat => Parts::CPUSET | Parts::CPUACCT | Parts::LOAD,
            VirtualFile::Uptime => Parts::CPUSET | Parts::CPUACCT | Parts::UPTIME,
            VirtualFile::Diskstats => Parts::IO,
            VirtualFile::Loadavg => Parts::LOAD,
            VirtualFile::Slabinfo => Parts::SLAB,
            VirtualFile::PressureCpu | VirtualFile::PressureMemory | VirtualFile::PressureIo => {
                Parts::PRESSURE
            }
        }
    }
}

/// Facts about the read that are not in the snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderCtx {
    /// Options from the command line.
    pub options: RenderOptions,
    /// Start time (ticks after boot) of the init of the reader's pid namespace.
    pub init_start_ticks: Option<u64>,
}

/// Render `file` from `snap` into `out` (appending).
pub fn render(file: VirtualFile, snap: &Snapshot, ctx: &RenderCtx, out: &mut String) {
    match file {
        VirtualFile::Meminfo => meminfo::render_meminfo(snap, ctx, out),
        VirtualFile::Cpuinfo => cpuinfo::render_cpuinfo(snap, ctx, out),
        VirtualFile::Stat => stat::render_stat(snap, ctx, out),
        VirtualFile::Uptime => uptime::render_uptime(snap, ctx, out),
        VirtualFile::Diskstats => diskstats::render_diskstats(snap, ctx, out),
        VirtualFile::Swaps => swaps::render_swaps(snap, ctx, out),
        VirtualFile::Loadavg => loadavg::render_loadavg(snap, ctx, out),
        VirtualFile::Slabinfo => slabinfo::render_slabinfo(snap, ctx, out),
        VirtualFile::PressureCpu => pressure::render_pressure(snap, 0, out),
        VirtualFile::PressureMemory => pressure::render_pressure(snap, 1, out),
        VirtualFile::PressureIo => pressure::render_pressure(snap, 2, out),
        VirtualFile::CpuOnline => sys_cpu::render_online(snap, ctx, out),
        VirtualFile::CpuOffline => sys_cpu::render_offline(snap, ctx, out),
        VirtualFile::CpuPossible => sys_cpu::render_possible(snap, out),
        VirtualFile::CpuPresent => sys_cpu::render_present(snap, out),
    }
}

pub use crate::snapshot::cpu::VisibleCpus;

/// The visible CPUs of a snapshot (the rule lives in [`crate::snapshot::cpu`]).
pub fn visible_cpus(snap: &Snapshot, options: &RenderOptions) -> VisibleCpus {
    crate::snapshot::cpu::visible_cpus(&snap.container, &snap.host, options)
}

/// `Label:` padded to 16 columns, the value right-aligned in 8, then ` kB` (the
/// kernel's and LXCFS's meminfo line).
pub(crate) fn kb_line(out: &mut String, key: &str, value: u64) {
    use std::fmt::Write;
    let label = format!("{key}:");
    let _ = writeln!(out, "{label:<16}{value:>8} kB");
}

/// Append a host file shown unchanged, with the final newline every kernel file has
/// (even if what was read lacked one).
pub(crate) fn push_host(out: &mut String, text: &str) {
    out.push_str(text);
    if !text.is_empty() && !text.ends_with('\n') {
        out.push('\n');
    }
}
