//! `/proc/stat`: the `cpu` aggregate, the `cpuN` lines, and every other line verbatim.

use super::parse_u64;

/// The ten time columns of a `cpu` line, in USER_HZ ticks:
/// user nice system idle iowait irq softirq steal guest guest_nice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes(pub [u64; 10]);

impl CpuTimes {
    /// Column indices.
    pub const USER: usize = 0;
    /// nice
    pub const NICE: usize = 1;
    /// system
    pub const SYSTEM: usize = 2;
    /// idle
    pub const IDLE: usize = 3;
    /// iowait
    pub const IOWAIT: usize = 4;

    /// All ticks that are not idle (LXCFS's "host_busy": every column but idle, guest
    /// columns included, as LXCFS computes it).
    pub fn busy(&self) -> u64 {
        self.0
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != Self::IDLE)
            .fold(0u64, |a, (_, v)| a.saturating_add(*v))
    }

    /// Every column summed: the CPU's elapsed ticks.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, v| a.saturating_add(*v))
    }
}

/// One line of `/proc/stat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatLine {
    /// The `cpu` aggregate line.
    CpuTotal(CpuTimes),
    /// A `cpuN` line.
    Cpu(u32, CpuTimes),
    /// Any other line (`intr`, `ctxt`, `btime`, ...), verbatim.
    Other(String),
}

/// The parsed file, in kernel order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelStat {
    /// The lines in file order.
    pub lines: Vec<StatLine>,
}

impl KernelStat {
    /// The `cpuN` lines, in file order.
    pub fn cpus(&self) -> impl Iterator<Item = (u32, &CpuTimes)> {
        self.lines.iter().filter_map(|l| match l {
            StatLine::Cpu(n, t) => Some((*n, t)),
            _ => None,
        })
    }

    /// The times of CPU `n`, if the host listed it.
    pub fn cpu(&self, n: u32) -> Option<&CpuTimes> {
        self.cpus().find(|(c, _)| *c == n).map(|(_, t)| t)
    }

    /// The lines that are not about CPUs, in order.
    pub fn others(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|l| match l {
            StatLine::Other(s) => Some(s.as_str()),
            _ => None,
        })
    }
}

fn parse_times<'a>(words: impl Iterator<Item = &'a str>) -> Option<CpuTimes> {
    let mut t = CpuTimes::default();
    let mut n = 0;
    for (slot, w) in t.0.iter_mut().zip(words) {
        *slot = parse_u64(w).ok()?;
        n += 1;
    }
    // Kernels since 2.6.33 print all ten; fewer than four is not a cpu line.
    (n >= 4).then_some(t)
}

/// Parse `/proc/stat`. Never fails: a `cpu` line that does not parse is kept verbatim.
pub fn parse_stat(text: &str) -> KernelStat {
    let lines = text
        .lines()
        .map(|raw| {
            let mut words = raw.split_whitespace();
            let first = words.next().unwrap_or("");
            if let Some(id) = first.strip_prefix("cpu") {
                if id.is_empty() {
                    if let Some(t) = parse_times(words) {
                        return StatLine::CpuTotal(t);
                    }
                } else if let (Ok(n), Some(t)) = (id.parse::<u32>(), parse_times(words)) {
                    return StatLine::Cpu(n, t);
                }
            }
            StatLine::Other(raw.to_owned())
        })
        .collect();
    KernelStat { lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lines_and_others() {
        let s = parse_stat(
            "cpu  7678 0 5217 47903 758 0 72 14 0 0\ncpu0 2921 0 2490 25296 117 0 14 5 0 0\ncpu1 4757 0 2727 22606 640 0 57 8 0 0\nintr 1 2\nbtime 1795906082\n",
        );
        assert_eq!(s.cpus().count(), 2);
        assert_eq!(s.cpu(1).unwrap().0[0], 4757);
        assert_eq!(s.cpu(1).unwrap().busy(), 4757 + 2727 + 640 + 57 + 8);
        assert_eq!(
            s.others().collect::<Vec<_>>(),
            vec!["intr 1 2", "btime 1795906082"]
        );
        assert!(matches!(s.lines[0], StatLine::CpuTotal(_)));
    }

    #[test]
    fn garbage_cpu_line_is_kept_verbatim() {
        let s = parse_stat("cpu0 x y\ncpufreq 1 2 3 4\n");
        assert_eq!(s.cpus().count(), 0);
        assert_eq!(s.others().count(), 2);
    }
}
