//! `/proc/diskstats`: `major minor name` and the counters (14, 18 or 20 columns in total
//! depending on the kernel).

use super::parse_u64;

/// One device line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DiskStat {
    /// Device major number.
    pub(crate) major: u32,
    /// Device minor number.
    pub(crate) minor: u32,
    /// Kernel device name (`sda`, `nvme0n1p1`).
    pub(crate) name: String,
    /// The counters after the name, as printed.
    pub(crate) counters: Vec<u64>,
}

/// Parse diskstats; lines that do not parse are skipped (they name no device).
pub(crate) fn parse_diskstats(text: &str) -> Vec<DiskStat> {
    text.lines()
        .filter_map(|line| {
            let mut w = line.split_whitespace();
            let major = w.next()?.parse().ok()?;
            let minor = w.next()?.parse().ok()?;
            let name = w.next()?.to_owned();
            let counters = w.map(parse_u64).collect::<Result<Vec<_>, _>>().ok()?;
            Some(DiskStat {
                major,
                minor,
                name,
                counters,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_lines() {
        let d = parse_diskstats("   7       0 loop0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n 259       0 nvme0n1 1 2\nbroken\n");
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].major, d[0].minor, d[0].name.as_str()),
            (7, 0, "loop0")
        );
        assert_eq!(d[0].counters.len(), 17);
    }
}
