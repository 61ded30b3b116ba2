//! `/proc/uptime`: `207.69 351.96`.

use super::{parse_hundredths, ParseError, ParseResult};

/// Uptime and idle time in hundredths of a second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Uptime {
    /// Seconds since boot ×100.
    pub(crate) uptime_cs: u64,
    /// Idle seconds summed over CPUs ×100.
    pub(crate) idle_cs: u64,
}

/// Parse the uptime line.
pub(crate) fn parse_uptime(text: &str) -> ParseResult<Uptime> {
    let mut w = text.split_whitespace();
    let (Some(up), Some(idle)) = (w.next(), w.next()) else {
        return Err(ParseError::new("uptime: expected two numbers"));
    };
    Ok(Uptime {
        uptime_cs: parse_hundredths(up)?,
        idle_cs: parse_hundredths(idle)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_numbers() {
        assert_eq!(
            parse_uptime("207.69 351.96\n"),
            Ok(Uptime {
                uptime_cs: 20769,
                idle_cs: 35196
            })
        );
        assert!(parse_uptime("207.69").is_err());
    }
}
