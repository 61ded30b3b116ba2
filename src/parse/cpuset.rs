//! CPU lists as the kernel writes them (`0-3,8,10-11`), both ways.

use super::{truncate, ParseError, ParseResult};
use std::fmt;

/// Largest CPU number accepted. The kernel's `NR_CPUS` tops out at 8192 on the
/// architectures vproc supports; the bound keeps a hostile `0-4294967295` from
/// allocating gigabytes.
pub(crate) const MAX_CPU: u32 = 65_535;

/// A set of CPU numbers, sorted and without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CpuSet(Vec<u32>);

impl CpuSet {
    /// A set from any CPU numbers.
    pub fn from_cpus(cpus: impl IntoIterator<Item = u32>) -> Self {
        let mut v: Vec<u32> = cpus.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        CpuSet(v)
    }

    /// `0..n`.
    pub fn first_n(n: u32) -> Self {
        CpuSet((0..n).collect())
    }

    /// Number of CPUs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no CPU is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: u32) -> bool {
        self.0.binary_search(&cpu).is_ok()
    }

    /// CPUs in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().copied()
    }

    /// The CPUs in both sets.
    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        CpuSet(
            self.0
                .iter()
                .copied()
                .filter(|c| other.contains(*c))
                .collect(),
        )
    }

    /// The CPUs of `self` that are not in `other`.
    pub fn difference(&self, other: &CpuSet) -> CpuSet {
        CpuSet(
            self.0
                .iter()
                .copied()
                .filter(|c| !other.contains(*c))
                .collect(),
        )
    }

    /// The first `n` CPUs (all of them if there are fewer).
    pub fn take(&self, n: usize) -> CpuSet {
        CpuSet(self.0.iter().copied().take(n).collect())
    }
}

/// Parse a kernel CPU list. Whitespace around the list (the trailing newline) is ignored;
/// an empty list is an empty set.
pub fn parse_cpuset(text: &str) -> ParseResult<CpuSet> {
    let text = text.trim();
    let mut cpus = Vec::new();
    if text.is_empty() {
        return Ok(CpuSet(cpus));
    }
    let bad = || ParseError::new(format!("not a CPU list: {:?}", truncate(text)));
    for part in text.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let lo: u32 = lo.trim().parse().map_err(|_| bad())?;
        let hi: u32 = hi.trim().parse().map_err(|_| bad())?;
        if lo > hi || hi > MAX_CPU {
            return Err(bad());
        }
        cpus.extend(lo..=hi);
    }
    Ok(CpuSet::from_cpus(cpus))
}

impl fmt::Display for CpuSet {
    /// The kernel's list format (`0-3,8`), without a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                i += 1;
                end += 1;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lxcfs_cpusetrange_cases() {
        let s = parse_cpuset("1,2").unwrap();
        assert!(s.contains(1) && s.contains(2) && !s.contains(0) && !s.contains(3));
        let s = parse_cpuset("1-3,5").unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![1, 2, 3, 5]);
        let s = parse_cpuset("1,4-5").unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![1, 4, 5]);
        assert!(parse_cpuset("").unwrap().is_empty());
        assert!(parse_cpuset("\n").unwrap().is_empty());
    }

    #[test]
    fn rejects_garbage_and_huge_ranges() {
        for bad in ["x", "3-1", "0-4294967295", "1,,2", "-1", "1-"] {
            assert!(parse_cpuset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips_against_naive_model() {
        // Every subset of 0..12: format, parse back, compare with the naive set.
        for mask in 0u32..(1 << 12) {
            let cpus: Vec<u32> = (0..12).filter(|b| mask & (1 << b) != 0).collect();
            let set = CpuSet::from_cpus(cpus.clone());
            let text = set.to_string();
            let back = parse_cpuset(&text).unwrap();
            assert_eq!(back.iter().collect::<Vec<_>>(), cpus, "{text}");
        }
        assert_eq!(
            CpuSet::from_cpus([0, 1, 2, 3, 8, 10, 11]).to_string(),
            "0-3,8,10-11"
        );
    }
}
