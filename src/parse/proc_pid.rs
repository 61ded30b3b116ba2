//! Per-process files: `/proc/<pid>/cgroup`, `/proc/<pid>/stat`, `/proc/<pid>/status`.

use super::{parse_u64, truncate, ParseError, ParseResult};

/// One line of `/proc/<pid>/cgroup`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CgroupLine {
    /// Hierarchy id (0 for the unified hierarchy).
    pub(crate) hierarchy: u32,
    /// Controllers of a v1 hierarchy (`cpu`, `cpuacct`, `name=systemd`); empty for v2.
    pub(crate) controllers: Vec<String>,
    /// Path relative to the hierarchy root.
    pub(crate) path: String,
}

/// Parse `/proc/<pid>/cgroup`. Lines that do not parse are skipped.
pub(crate) fn parse_pid_cgroup(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let hierarchy = parts.next()?.parse().ok()?;
            let controllers = parts
                .next()?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let path = parts.next()?.to_owned();
            path.starts_with('/').then_some(CgroupLine {
                hierarchy,
                controllers,
                path,
            })
        })
        .collect()
}

/// The fields of `/proc/<pid>/stat` vproc uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PidStat {
    /// Field 3: state letter (`R`, `S`, `D`, ...).
    pub(crate) state: char,
    /// Field 4: parent pid.
    pub(crate) ppid: u32,
    /// Field 22: start time in clock ticks after boot.
    pub(crate) start_ticks: u64,
}

/// Parse `/proc/<pid>/stat`. The command name (field 2) may contain spaces and
/// parentheses, so fields are counted from the last `)`.
pub(crate) fn parse_pid_stat(text: &str) -> ParseResult<PidStat> {
    let bad = || ParseError::new(format!("not a stat line: {:?}", truncate(text)));
    let close = text.rfind(')').ok_or_else(bad)?;
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // fields[0] is field 3 (state); field 22 is fields[19].
    if fields.len() < 20 {
        return Err(bad());
    }
    let state = fields[0].chars().next().ok_or_else(bad)?;
    Ok(PidStat {
        state,
        ppid: fields[1].parse().map_err(|_| bad())?,
        start_ticks: parse_u64(fields[19])?,
    })
}

/// The `NSpid:` line of `/proc/<pid>/status`: the pid in each nested pid namespace,
/// outermost (ours) first, innermost (the process's own) last.
pub(crate) fn parse_nspid(text: &str) -> Option<Vec<u32>> {
    let line = text.lines().find(|l| l.starts_with("NSpid:"))?;
    line["NSpid:".len()..]
        .split_whitespace()
        .map(|w| w.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_lines() {
        let c =
            parse_pid_cgroup("4:memory:/process_api/1b\n1:cpu,cpuacct:/x:y\n0::/init.scope\nbad\n");
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].controllers, vec!["memory"]);
        assert_eq!(c[1].path, "/x:y");
        assert_eq!(c[2].hierarchy, 0);
        assert!(c[2].controllers.is_empty());
    }

    #[test]
    fn stat_with_odd_comm() {
        let s = parse_pid_stat("1 (a b) c) S 0 0 0 0 -1 4194560 27021 2615461 0 359 27 144 4326 1293 20 0 13 0 24 40034304 2552").unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.start_ticks, 24);
        assert!(parse_pid_stat("1 (x) S 0").is_err());
    }

    #[test]
    fn nspid() {
        assert_eq!(
            parse_nspid("Name:\tx\nNSpid:\t4242\t1\n"),
            Some(vec![4242, 1])
        );
        assert_eq!(parse_nspid("Name:\tx\n"), None);
    }
}
