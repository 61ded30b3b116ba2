//! PSI files (`/proc/pressure/*`, `<cgroup>/{cpu,memory,io}.pressure`):
//! `some avg10=0.00 avg60=0.54 avg300=0.41 total=2011383` and a `full` line.

use super::{parse_hundredths, parse_u64, truncate, ParseError, ParseResult};

/// Which resource a PSI file is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PressureKind {
    /// `cpu` pressure.
    Cpu,
    /// `memory` pressure.
    Memory,
    /// `io` pressure.
    Io,
}

impl PressureKind {
    /// Every kind, in the order of `proc/pressure/{cpu,memory,io}`.
    pub const ALL: [PressureKind; 3] = [PressureKind::Cpu, PressureKind::Memory, PressureKind::Io];

    /// The resource's name: `/proc/pressure/<name>`, `<cgroup>/<name>.pressure`.
    pub fn name(self) -> &'static str {
        match self {
            PressureKind::Cpu => "cpu",
            PressureKind::Memory => "memory",
            PressureKind::Io => "io",
        }
    }
}

/// One value per pressure kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PerPressure<T> {
    pub(crate) cpu: T,
    pub(crate) memory: T,
    pub(crate) io: T,
}

impl<T> PerPressure<T> {
    /// The value of `kind`.
    pub(crate) fn get(&self, kind: PressureKind) -> &T {
        match kind {
            PressureKind::Cpu => &self.cpu,
            PressureKind::Memory => &self.memory,
            PressureKind::Io => &self.io,
        }
    }

    /// The value of `kind`, mutably.
    pub(crate) fn get_mut(&mut self, kind: PressureKind) -> &mut T {
        match kind {
            PressureKind::Cpu => &mut self.cpu,
            PressureKind::Memory => &mut self.memory,
            PressureKind::Io => &mut self.io,
        }
    }
}

/// One PSI line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PressureLine {
    /// `false` for `some`, `true` for `full`.
    pub(crate) full: bool,
    /// avg10, avg60, avg300 in hundredths of a percent.
    pub(crate) avg: [u64; 3],
    /// Total stall time in microseconds.
    pub(crate) total_us: u64,
}

/// Parse a PSI file. Every line must parse and there must be at least one.
pub(crate) fn parse_pressure(text: &str) -> ParseResult<Vec<PressureLine>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || ParseError::new(format!("not a PSI line: {:?}", truncate(line)));
        let mut w = line.split_whitespace();
        let full = match w.next() {
            Some("some") => false,
            Some("full") => true,
            _ => return Err(bad()),
        };
        let mut avg = [0u64; 3];
        let mut total_us = None;
        let mut seen = [false; 3];
        for field in w {
            let (k, v) = field.split_once('=').ok_or_else(bad)?;
            match k {
                "avg10" => (avg[0], seen[0]) = (parse_hundredths(v)?, true),
                "avg60" => (avg[1], seen[1]) = (parse_hundredths(v)?, true),
                "avg300" => (avg[2], seen[2]) = (parse_hundredths(v)?, true),
                "total" => total_us = Some(parse_u64(v)?),
                _ => return Err(bad()),
            }
        }
        if seen != [true; 3] {
            return Err(bad());
        }
        out.push(PressureLine {
            full,
            avg,
            total_us: total_us.ok_or_else(bad)?,
        });
    }
    if out.is_empty() {
        return Err(ParseError::new("empty PSI file"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn some_and_full() {
        let p = parse_pressure("some avg10=0.00 avg60=0.54 avg300=0.41 total=2011383\nfull avg10=1.20 avg60=0.00 avg300=0.00 total=0\n").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].avg, [0, 54, 41]);
        assert!(p[1].full);
        assert_eq!(p[1].avg[0], 120);
        assert!(parse_pressure("").is_err());
        assert!(parse_pressure("some avg10=x avg60=0 avg300=0 total=1").is_err());
    }
}
