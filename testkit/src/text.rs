//! Reading numbers out of the files vproc renders, for tests (no root needed).

/// The value of a meminfo line in kB, if the line is there.
pub fn meminfo_value(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.strip_prefix(key).is_some_and(|r| r.starts_with(':')))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// The value of a meminfo line in kB (panics when the line is missing).
pub fn meminfo(text: &str, key: &str) -> u64 {
    meminfo_value(text, key).unwrap_or_else(|| panic!("no {key} in {text}"))
}

/// The `cpuN` names of a stat file.
pub fn stat_cpus(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("cpu") && w.len() > 3)
        .map(str::to_owned)
        .collect()
}

/// The first whitespace-separated field of `text` as a number (uptime, loadavg).
pub fn first_number(text: &str) -> f64 {
    nth_number(text, 0)
}

/// Field `n` (from 0) of `text` as a number (`nth_number(uptime, 1)` is the idle time).
pub fn nth_number(text: &str, n: usize) -> f64 {
    text.split_whitespace()
        .nth(n)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number {n} in {text:?}"))
}

/// The ten numbers of the aggregate `cpu` line of a stat file.
pub fn stat_total(text: &str) -> Vec<u64> {
    text.lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Number of processor blocks in cpuinfo.
pub fn processors(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("processor") || l.starts_with("cpu number"))
        .count()
}
