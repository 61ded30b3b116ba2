//! A fixture's `scenario.toml` (the repository's `fixtures/` format, which `vproc
//! inspect --capture` writes and `--root` and the testkit read): flat `key = value`
//! lines, a TOML subset.

use std::collections::BTreeMap;

/// The `key = value` lines (quotes around a value removed; `#` lines skipped).
pub fn scenario_values(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

/// `12.34` seconds → nanoseconds; `None` if it is not a non-negative decimal.
pub fn seconds_to_ns(text: &str) -> Option<u64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<9}");
    int.parse::<u64>()
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(frac.get(..9)?.parse::<u64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_files_parse() {
        let v = scenario_values("# c\nlayout = \"v2\"\nreader_pid = 42\nboot_seconds = \"12.5\"\n");
        assert_eq!(v["layout"], "v2");
        assert_eq!(v["reader_pid"], "42");
        assert_eq!(seconds_to_ns(&v["boot_seconds"]), Some(12_500_000_000));
        assert_eq!(seconds_to_ns("3600"), Some(3_600_000_000_000));
        assert_eq!(seconds_to_ns("x"), None);
        assert_eq!(seconds_to_ns("99999999999999"), None);
    }
}
