//! A daemon's resource use from /proc: the daemon and every process it started (LXCFS
//! forks helpers), so that no work escapes the count.

use std::collections::HashMap;
use std::fs;

/// The fields of `/proc/<pid>/stat` after the command name (field 3 is index 0).
fn stat_fields(pid: i32) -> Option<Vec<i64>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    // Field 3 (the state letter) is not a number; keep its slot so indexes match man 5 proc.
    Some(
        rest.split_whitespace()
            .map(|w| w.parse().unwrap_or(0))
            .collect(),
    )
}

/// `root` and its descendants (one scan of /proc).
fn family(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1).copied()) {
            children.entry(ppid as i32).or_default().push(pid);
        }
    }
    let mut all = vec![root];
    let mut i = 0;
    while i < all.len() {
        all.extend(children.get(&all[i]).into_iter().flatten());
        i += 1;
    }
    all
}

/// Resident memory of `root` and its descendants, KiB (`VmRSS`).
pub(crate) fn rss_kib(root: i32) -> u64 {
    family(root)
        .into_iter()
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

/// CPU time of `root` and its descendants, clock ticks: utime + stime of each, plus
/// cutime + cstime (children that already exited and were reaped).
pub(crate) fn cpu_ticks(root: i32) -> u64 {
    family(root)
        .into_iter()
        .filter_map(stat_fields)
        .map(|f| f.get(11..15).map_or(0, |t| t.iter().sum::<i64>()).max(0) as u64)
        .sum()
}

/// Clock ticks per second (`CLK_TCK`).
pub(crate) fn ticks_per_sec() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as f64
}
