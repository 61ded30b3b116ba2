//! Renderers: pure functions from a [`Snapshot`] to the bytes of one virtual file.
//!
//! One module per file, one signature: `render_x(snap, options, out)`. Renderers cannot
//! fail: whatever could not be read is already an explicit fallback in the snapshot
//! (usually `None`, rendered as the host's file). All arithmetic saturates.

mod cpuinfo;
mod diskstats;
mod loadavg;
mod meminfo;
mod pressure;
mod slabinfo;
mod stat;
mod swaps;
mod sys_cpu;
mod uptime;

use crate::config::RenderOptions;
use crate::parse::pressure::PressureKind;
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

    /// Position in [`VirtualFile::ALL`] (the render-cache slot of the file).
    pub fn index(self) -> usize {
        VirtualFile::ALL
            .iter()
            .position(|f| *f == self)
            .unwrap_or(0)
    }

    /// The file named `name`: its path below the mount point (`proc/meminfo`, with or
    /// without a leading `/`), or what follows `proc/` or `sys/devices/system/cpu/`
    /// (`meminfo`, `pressure/io`, `online`).
    pub fn by_name(name: &str) -> Option<VirtualFile> {
        let name = name.trim().trim_start_matches('/');
        VirtualFile::ALL.into_iter().find(|f| {
            let p = f.path();
            p == name
                || p.strip_prefix("proc/") == Some(name)
                || p.strip_prefix("sys/devices/system/cpu/") == Some(name)
        })
    }

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
    pub(crate) fn parts(self) -> Parts {
        match self {
            VirtualFile::Meminfo | VirtualFile::Swaps => Parts::MEMORY,
            VirtualFile::Cpuinfo
            | VirtualFile::CpuOnline
            | VirtualFile::CpuOffline
            | VirtualFile::CpuPossible
            | VirtualFile::CpuPresent => Parts::CPUSET,
            // LOAD: procs_running / procs_blocked come from the container's tasks with -l.
            VirtualFile::Stat => Parts::CPUSET | Parts::CPUACCT | Parts::LOAD,
            // The idle column comes from the same history as /proc/stat's.
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

/// Render `file` from `snap` into `out` (appending).
pub(crate) fn render(
    file: VirtualFile,
    snap: &Snapshot,
    options: &RenderOptions,
    out: &mut String,
) {
    match file {
        VirtualFile::Meminfo => meminfo::render_meminfo(snap, options, out),
        VirtualFile::Cpuinfo => cpuinfo::render_cpuinfo(snap, options, out),
        VirtualFile::Stat => stat::render_stat(snap, options, out),
        VirtualFile::Uptime => uptime::render_uptime(snap, options, out),
        VirtualFile::Diskstats => diskstats::render_diskstats(snap, out),
        VirtualFile::Swaps => swaps::render_swaps(snap, options, out),
        VirtualFile::Loadavg => loadavg::render_loadavg(snap, options, out),
        VirtualFile::Slabinfo => slabinfo::render_slabinfo(snap, out),
        VirtualFile::PressureCpu => pressure::render_pressure(snap, PressureKind::Cpu, out),
        VirtualFile::PressureMemory => pressure::render_pressure(snap, PressureKind::Memory, out),
        VirtualFile::PressureIo => pressure::render_pressure(snap, PressureKind::Io, out),
        VirtualFile::CpuOnline => sys_cpu::render_online(snap, options, out),
        VirtualFile::CpuOffline => sys_cpu::render_offline(snap, options, out),
        VirtualFile::CpuPossible => sys_cpu::render_possible(snap, out),
        VirtualFile::CpuPresent => sys_cpu::render_present(snap, options, out),
    }
}

use crate::snapshot::cpu::VisibleCpus;

/// The visible CPUs of a snapshot (the rule lives in [`crate::snapshot::cpu`]).
pub(crate) fn visible_cpus(snap: &Snapshot, options: &RenderOptions) -> VisibleCpus {
    crate::snapshot::cpu::visible_cpus(&snap.container, &snap.host, options)
}

/// `Label:` padded to 16 columns, the value right-aligned in 8, then ` kB` (the
/// kernel's and LXCFS's meminfo line).
fn kb_line(out: &mut String, key: &str, value: u64) {
    use std::fmt::Write;
    out.push_str(key);
    out.push(':');
    for _ in key.len() + 1..16 {
        out.push(' ');
    }
    let _ = writeln!(out, "{value:>8} kB");
}

/// Append a host file shown unchanged, with the final newline every kernel file has
/// (even if what was read lacked one).
fn push_host(out: &mut String, text: &str) {
    out.push_str(text);
    if !text.is_empty() && !text.ends_with('\n') {
        out.push('\n');
    }
}
