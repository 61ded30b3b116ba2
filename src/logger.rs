//! A small stderr logger for the `log` facade: one line per event, with a UTC timestamp
//! when stderr is not the journal; under systemd (`JOURNAL_STREAM` set) the line starts
//! with the syslog priority (`<3>`…) instead, which journald turns into the entry's
//! level and stamps itself. (A logging framework would add nothing vproc needs.)

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// A warning that could repeat on every pass or every read is logged the first time,
/// then at most once per `every_ns`, with the count of occurrences left out in between:
/// one line per event, never one per read.
pub(crate) struct Throttle {
    /// Monotonic time of the last logged occurrence; `u64::MAX`: never logged.
    last_ns: AtomicU64,
    suppressed: AtomicU64,
}

impl Throttle {
    pub(crate) const fn new() -> Throttle {
        Throttle {
            last_ns: AtomicU64::new(u64::MAX),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(occurrences suppressed since the last logged one)` when this one is to be
    /// logged, `None` when it is to be counted only.
    pub(crate) fn allow(&self, now_ns: u64, every_ns: u64) -> Option<u64> {
        let last = self.last_ns.load(Ordering::Relaxed);
        let due = last == u64::MAX || now_ns.saturating_sub(last) >= every_ns;
        if due
            && self
                .last_ns
                .compare_exchange(last, now_ns, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

struct StderrLogger {
    level: LevelFilter,
    journal: bool,
}

/// Days since 1970-01-01 → (year, month, day) (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-30T09:12:34.567Z`.
fn timestamp() -> String {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME);
    let (secs, nanos) = t.map_or((0, 0), |t| (t.tv_sec(), t.tv_nsec()));
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60,
        nanos / 1_000_000
    )
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let (tag, priority) = match record.level() {
            Level::Error => ("error", 3),
            Level::Warn => ("warning", 4),
            Level::Info => ("info", 6),
            Level::Debug | Level::Trace => ("debug", 7),
        };
        // Never eprintln!: it panics when stderr is gone (a log pipe whose reader died),
        // and a lost log line must not take the mount down.
        let mut err = std::io::stderr().lock();
        let _ = if self.journal {
            writeln!(err, "<{priority}>vproc: {tag}: {}", record.args())
        } else {
            writeln!(err, "{} vproc: {tag}: {}", timestamp(), record.args())
        };
    }

    fn flush(&self) {}
}

/// Install the logger (once; later calls are ignored): debug with `debug`, warnings
/// only when `quiet`, else info.
pub(crate) fn init(debug: bool, quiet: bool) {
    let level = match (debug, quiet) {
        (true, _) => LevelFilter::Debug,
        (false, true) => LevelFilter::Warn,
        (false, false) => LevelFilter::Info,
    };
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let logger: &'static StderrLogger = Box::leak(Box::new(StderrLogger { level, journal }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_warnings_count_what_they_leave_out() {
        let t = Throttle::new();
        assert_eq!(t.allow(5, 100), Some(0));
        assert_eq!(t.allow(50, 100), None);
        assert_eq!(t.allow(104, 100), None);
        assert_eq!(t.allow(105, 100), Some(2));
        assert_eq!(t.allow(106, 100), None);
    }

    #[test]
    fn dates_from_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_787), (2026, 11, 30));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(timestamp().len(), 24);
    }
}
