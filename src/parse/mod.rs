//! Pure parsers: kernel text in, typed values out. No I/O, no paths, no clocks.
//!
//! Host `/proc` parsers keep what they do not understand (in order) so that renderers can
//! pass unknown lines through unchanged; cgroup parsers are strict about numbers, because
//! a number that does not parse must become an explicit fallback, never a guess.

pub(crate) mod cgroup;
pub(crate) mod cpuinfo;
pub mod cpuset;
pub(crate) mod diskstats;
pub(crate) mod meminfo;
pub mod mountinfo;
pub mod pressure;
pub(crate) mod proc_pid;
pub mod scenario;
pub mod stat;
pub(crate) mod swaps;
pub(crate) mod uptime;

use std::fmt;

/// Why a text did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What was wrong, for the log line.
    pub what: String,
}

impl ParseError {
    pub(crate) fn new(what: impl Into<String>) -> Self {
        ParseError { what: what.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for ParseError {}

/// Result of a parser.
pub type ParseResult<T> = Result<T, ParseError>;

/// Largest number accepted from the kernel. No counter, size or time vproc reads comes
/// near 2^63 (the kernel keeps most of them in signed 64-bit types); a larger value is
/// the signature of a wrapped or corrupted counter and is treated as garbage, so that
/// no absurd number reaches a file.
pub const MAX_KERNEL_NUMBER: u64 = i64::MAX as u64;

/// A decimal `u64` with no sign and no garbage, at most [`MAX_KERNEL_NUMBER`].
pub(crate) fn parse_u64(word: &str) -> ParseResult<u64> {
    word.parse::<u64>()
        .ok()
        .filter(|v| *v <= MAX_KERNEL_NUMBER)
        .ok_or_else(|| ParseError::new(format!("not an unsigned number: {:?}", truncate(word))))
}

/// A fixed-point number with two decimals (`12.34`, as in uptime, loadavg and pressure)
/// as hundredths. Missing or shorter fractions are accepted (`12`, `12.3`).
pub(crate) fn parse_hundredths(word: &str) -> ParseResult<u64> {
    let (int, frac) = word.split_once('.').unwrap_or((word, ""));
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new(format!(
            "not a two-decimal number: {:?}",
            truncate(word)
        )));
    }
    let int = parse_u64(int)?;
    let frac = match frac.len() {
        0 => 0,
        1 => parse_u64(frac)? * 10,
        _ => parse_u64(frac)?,
    };
    int.checked_mul(100)
        .and_then(|v| v.checked_add(frac))
        .filter(|v| *v <= MAX_KERNEL_NUMBER)
        .ok_or_else(|| ParseError::new("number out of range"))
}

/// At most 40 characters of `s`, for error messages about hostile input.
pub(crate) fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hundredths() {
        assert_eq!(parse_hundredths("12.34"), Ok(1234));
        assert_eq!(parse_hundredths("0.05"), Ok(5));
        assert_eq!(parse_hundredths("7"), Ok(700));
        assert_eq!(parse_hundredths("7.5"), Ok(750));
        assert!(parse_hundredths("7.555").is_err());
        assert!(parse_hundredths("-1.00").is_err());
        assert!(parse_hundredths("184467440737095516.15").is_err());
    }
}
