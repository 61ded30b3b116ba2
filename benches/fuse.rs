//! Read latency and throughput through the mount, vproc against LXCFS in the same run.
//!
//! `cargo bench --bench fuse` (root, /dev/fuse; LXCFS from Debian's `lxcfs` if
//! installed). The bench process moves itself into a `vproc-test-*` cgroup (512 MiB,
//! cpuset 0; no CPU quota, which would throttle the bench itself) so that every read is
//! a container's read, then for each
//! file does open + read to EOF (64 KiB buffer) + close `VPROC_BENCH_ITERS` times
//! (default 3000) on
//! the host's `/proc`, on vproc and on LXCFS, and reports the median and 99th
//! percentile latency, and the throughput of 4 threads reading meminfo concurrently.
//! Prints a Markdown table (the README's performance section).
#![allow(clippy::disallowed_methods)] // a benchmark reads files and the wall clock

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use testkit::real::{skip_reason, Daemon, Limits, TestCgroup};

const FILES: [&str; 7] = [
    "proc/meminfo",
    "proc/cpuinfo",
    "proc/stat",
    "proc/uptime",
    "proc/loadavg",
    "proc/diskstats",
    "sys/devices/system/cpu/online",
];

/// Open, read to EOF with a 64 KiB buffer (as `cat` and stdio readers do), close.
fn read_once(path: &Path, buf: &mut [u8]) -> usize {
    use std::io::Read;
    let mut f = fs::File::open(path).expect("open");
    let mut total = 0;
    loop {
        match f.read(buf).expect("read") {
            0 => return total,
            n => total += n,
        }
    }
}

fn read_times(path: &Path, n: usize) -> Vec<Duration> {
    let mut buf = vec![0u8; 64 << 10];
    for _ in 0..n / 10 + 10 {
        read_once(path, &mut buf);
    }
    (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(read_once(path, &mut buf));
            t.elapsed()
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn throughput(path: &Path, threads: usize, per_thread: usize) -> f64 {
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; 64 << 10];
                for _ in 0..per_thread {
                    std::hint::black_box(read_once(path, &mut buf));
                }
            });
        }
    });
    (threads * per_thread) as f64 / t.elapsed().as_secs_f64()
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    if let Some(r) = skip_reason() {
        eprintln!("bench skipped: {r}");
        return;
    }
    let iters: usize = std::env::var("VPROC_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let vproc = Daemon::start(env!("CARGO_BIN_EXE_vproc"), &[]);
    let lxcfs = ["/usr/bin/lxcfs", "/usr/local/bin/lxcfs"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(|p| Daemon::start(p, &[]));
    let cg = TestCgroup::create(Limits {
        memory: Some(512 << 20),
        cpus: Some("0"),
        ..Limits::default()
    });
    cg.enter();
    let mut mounts: Vec<(&str, PathBuf)> = vec![
        ("host /proc", PathBuf::from("/")),
        ("vproc", vproc.mnt.clone()),
    ];
    if let Some(l) = &lxcfs {
        mounts.push(("lxcfs", l.mnt.clone()));
    }
    println!("\nopen+read+close latency, µs (median / p99), {iters} reads per cell:\n");
    print!("| file |");
    for (name, _) in &mounts {
        print!(" {name} |");
    }
    if lxcfs.is_some() {
        print!(" lxcfs / vproc (median) |");
    }
    println!();
    println!(
        "|---|{}",
        "---|".repeat(mounts.len() + usize::from(lxcfs.is_some()))
    );
    for f in FILES {
        print!("| {f} |");
        let mut medians = Vec::new();
        for (_, root) in &mounts {
            let mut t = read_times(&root.join(f), iters);
            t.sort();
            let (p50, p99) = (percentile(&t, 0.5), percentile(&t, 0.99));
            medians.push(p50);
            print!(" {} / {} |", us(p50), us(p99));
        }
        if lxcfs.is_some() {
            print!(
                " {:.2}× |",
                medians[2].as_secs_f64() / medians[1].as_secs_f64()
            );
        }
        println!();
    }
    println!("\nthroughput, 4 threads reading proc/meminfo, reads/s:\n");
    for (name, root) in &mounts {
        println!(
            "- {name}: {:.0}",
            throughput(&root.join("proc/meminfo"), 4, iters / 2)
        );
    }
    cg.leave();
}
