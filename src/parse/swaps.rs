//! `/proc/swaps`: a header and one line per active swap area.

use super::parse_u64;

/// One swap area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SwapArea {
    /// Device or file name.
    pub(crate) filename: String,
    /// `partition` or `file`.
    pub(crate) kind: String,
    /// Size in kB.
    pub(crate) size_kb: u64,
    /// Used in kB.
    pub used_kb: u64,
    /// Priority (may be negative).
    pub(crate) priority: i64,
}

/// Parse swaps; the header and lines that do not parse are skipped.
pub(crate) fn parse_swaps(text: &str) -> Vec<SwapArea> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() < 5 {
                return None;
            }
            // The filename may contain spaces (escaped by the kernel as \040, but be lenient):
            // the last four fields are fixed.
            let n = w.len();
            Some(SwapArea {
                filename: w[..n - 4].join(" "),
                kind: w[n - 4].to_owned(),
                size_kb: parse_u64(w[n - 3]).ok()?,
                used_kb: parse_u64(w[n - 2]).ok()?,
                priority: w[n - 1].parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas() {
        let s = parse_swaps("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-1                               partition\t4194300\t\t12288\t\t-2\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].size_kb, 4194300);
        assert_eq!(s[0].priority, -2);
        assert!(parse_swaps("Filename\n").is_empty());
    }
}
