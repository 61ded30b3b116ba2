//! The unit of every measurement: open, read to EOF with a 64 KiB buffer (as `cat` and
//! stdio readers do), close; timed one by one.

use crate::interrupt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Read buffer size.
pub(crate) const BUF: usize = 64 << 10;

/// Open `path`, read it to EOF, close it; the number of bytes read.
pub(crate) fn read_once(path: &Path, buf: &mut [u8]) -> io::Result<usize> {
    let mut f = File::open(path)?;
    let mut total = 0;
    loop {
        match f.read(buf)? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

/// [`read_once`], panicking (and so unwinding into the cleanup) if the read fails.
pub(crate) fn read_or_panic(path: &Path, buf: &mut [u8]) -> usize {
    read_once(path, buf).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The latencies of a series of reads and the wall time the series took.
#[derive(Clone, Debug, Default)]
pub(crate) struct Samples {
    lat_ns: Vec<u64>,
    /// Wall time of the series (summed when series are merged).
    pub(crate) elapsed: Duration,
    sorted: bool,
}

impl Samples {
    /// Number of reads.
    pub(crate) fn ops(&self) -> usize {
        self.lat_ns.len()
    }

    /// Reads per second of wall time.
    pub(crate) fn ops_per_sec(&self) -> f64 {
        self.ops() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Add another series (another slice of the same cell).
    pub(crate) fn merge(&mut self, other: Samples) {
        self.lat_ns.extend(other.lat_ns);
        self.elapsed += other.elapsed;
        self.sorted = false;
    }

    /// The `p` quantile (0 to 1, nearest rank) in µs; 0 without samples.
    pub(crate) fn percentile_us(&mut self, p: f64) -> f64 {
        if self.lat_ns.is_empty() {
            return 0.0;
        }
        if !self.sorted {
            self.lat_ns.sort_unstable();
            self.sorted = true;
        }
        let i = ((self.lat_ns.len() as f64 - 1.0) * p).round() as usize;
        self.lat_ns[i.min(self.lat_ns.len() - 1)] as f64 / 1e3
    }
}

/// `threads` threads read `path` back to back, timing every read, until `done(elapsed)`
/// holds (checked after each read). The threads start together.
pub(crate) fn burst(
    path: &Path,
    threads: usize,
    done: impl Fn(Duration) -> bool + Sync,
) -> Samples {
    let barrier = Barrier::new(threads + 1);
    let (lat_ns, elapsed) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; BUF];
                    let mut lat = Vec::with_capacity(1 << 14);
                    barrier.wait();
                    let start = Instant::now();
                    loop {
                        interrupt::check();
                        let t = Instant::now();
                        std::hint::black_box(read_or_panic(path, &mut buf));
                        let now = Instant::now();
                        lat.push((now - t).as_nanos() as u64);
                        if done(now - start) {
                            return lat;
                        }
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let lat: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("reader thread panicked"))
            .collect();
        (lat, start.elapsed())
    });
    Samples {
        lat_ns,
        elapsed,
        sorted: false,
    }
}

/// One read of `path` every `interval` for `dur` (a latency-sensitive reader that is
/// mostly idle). A read that overruns its slot delays the schedule instead of bunching
/// the following reads.
pub(crate) fn paced(path: &Path, interval: Duration, dur: Duration) -> Samples {
    let mut buf = vec![0u8; BUF];
    let mut lat_ns = Vec::new();
    let start = Instant::now();
    let mut next = start;
    while start.elapsed() < dur {
        interrupt::check();
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
        let t = Instant::now();
        std::hint::black_box(read_or_panic(path, &mut buf));
        lat_ns.push(t.elapsed().as_nanos() as u64);
    }
    Samples {
        lat_ns,
        elapsed: start.elapsed(),
        sorted: false,
    }
}
