//! `/proc/loadavg`: `0.60 0.21 0.07 1/81 3860`.

use super::{parse_hundredths, parse_u64, ParseError, ParseResult};

/// The parsed line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadAvg {
    /// 1, 5 and 15 minute averages in hundredths.
    pub avg: [u64; 3],
    /// Runnable tasks.
    pub running: u64,
    /// All tasks.
    pub total: u64,
    /// Most recently allocated pid.
    pub last_pid: u64,
}

/// Parse the loadavg line.
pub fn parse_loadavg(text: &str) -> ParseResult<LoadAvg> {
    let w: Vec<&str> = text.split_whitespace().collect();
    if w.len() < 5 {
        return Err(ParseError::new("loadavg: expected 5 fields"));
    }
    let (running, total) = w[3]
        .split_once('/')
        .ok_or_else(|| ParseError::new("loadavg: expected running/total"))?;
    Ok(LoadAvg {
        avg: [
            parse_hundredths(w[0])?,
            parse_hundredths(w[1])?,
            parse_hundredths(w[2])?,
        ],
        running: parse_u64(running)?,
        total: parse_u64(total)?,
        last_pid: parse_u64(w[4])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let l = parse_loadavg("0.60 0.21 0.07 1/81 3860\n").unwrap();
        assert_eq!(l.avg, [60, 21, 7]);
        assert_eq!((l.running, l.total, l.last_pid), (1, 81, 3860));
        assert!(parse_loadavg("0.60 0.21").is_err());
    }
}
