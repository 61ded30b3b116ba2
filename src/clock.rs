//! Time is injected: the sampler and the read path ask a [`Clock`], never the OS directly,
//! so tests drive time with a fake clock and uptime/stat goldens are byte-stable.

/// One instant, on the two kernel clocks vproc needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// `CLOCK_MONOTONIC` in nanoseconds: ages of snapshots, staleness.
    pub mono_ns: u64,
    /// `CLOCK_BOOTTIME` in nanoseconds: the clock of `/proc/uptime` and of process
    /// start times (`/proc/<pid>/stat` field 22), so container ages use it.
    pub boot_ns: u64,
}

impl Timestamp {
    /// Nanoseconds from `earlier` to `self` on the monotonic clock (0 if `earlier` is later).
    pub fn mono_since(&self, earlier: &Timestamp) -> u64 {
        self.mono_ns.saturating_sub(earlier.mono_ns)
    }
}

/// A source of time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// A clock that always says the same instant (`inspect --root` replays a capture at
/// the time it was taken).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedClock(pub(crate) Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// The real clocks of the machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        use nix::time::{clock_gettime, ClockId};
        let read = |id: ClockId| {
            clock_gettime(id)
                .map(|t| {
                    (t.tv_sec().max(0) as u64)
                        .saturating_mul(1_000_000_000)
                        .saturating_add(t.tv_nsec().max(0) as u64)
                })
                .unwrap_or(0)
        };
        Timestamp {
            mono_ns: read(ClockId::CLOCK_MONOTONIC),
            boot_ns: read(ClockId::CLOCK_BOOTTIME),
        }
    }
}

const _: () = {
    const fn assert_clock<T: Clock>() {}
    assert_clock::<SystemClock>();
};
