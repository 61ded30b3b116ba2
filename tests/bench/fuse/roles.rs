//! The fairness section's readers run as separate processes (this bench binary run
//! again with `--vproc-bench-role`), each in its own container cgroup, as a real
//! container's readers would be. The parent moves a child into its cgroup, then writes
//! `go` on its stdin; the child answers on stdout:
//!
//! * `load PATH THREADS`: reads `PATH` from `THREADS` threads back to back, prints
//!   `running`, stops at the next stdin line (or EOF: the parent is gone) and prints
//!   `<reads> <elapsed ns>`;
//! * `paced PATH INTERVAL_US MS`: one read every `INTERVAL_US` for `MS` milliseconds,
//!   then prints `<reads> <p50 µs> <p99 µs>`.

use crate::cgroups::Group;
use crate::measure::{burst, paced};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const FLAG: &str = "--vproc-bench-role";

/// If this process is a reader child, run it and return its exit code.
pub(crate) fn child_main() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (flag, role) = args.split_first()?;
    if flag != FLAG {
        return None;
    }
    Some(match run_child(role) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench reader: {e}");
            ExitCode::FAILURE
        }
    })
}

fn run_child(role: &[String]) -> Result<(), String> {
    let num = |s: &String| s.parse::<u64>().map_err(|_| format!("bad number {s:?}"));
    let mut line = String::new();
    io::stdin()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    match role {
        [r, path, threads] if r == "load" => {
            let stop = AtomicBool::new(false);
            let threads = num(threads)? as usize;
            let s = std::thread::scope(|s| {
                let h =
                    s.spawn(|| burst(Path::new(path), threads, |_| stop.load(Ordering::Relaxed)));
                println!("running");
                let _ = io::stdout().flush();
                let _ = io::stdin().read_line(&mut line);
                stop.store(true, Ordering::Relaxed);
                h.join()
            })
            .map_err(|_| "load threads failed")?;
            println!("{} {}", s.ops(), s.elapsed.as_nanos());
        }
        [r, path, interval_us, ms] if r == "paced" => {
            let mut s = paced(
                Path::new(path),
                Duration::from_micros(num(interval_us)?),
                Duration::from_millis(num(ms)?),
            );
            let (p50, p99) = (s.percentile_us(0.5), s.percentile_us(0.99));
            println!("{} {p50} {p99}", s.ops());
        }
        _ => return Err(format!("unknown role {role:?}")),
    }
    Ok(())
}

/// A running reader child; killed and reaped on drop.
struct Child {
    process: std::process::Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Child {
    /// Start `role` inside `group` and tell it to go.
    fn start(group: &Group, role: &[String]) -> io::Result<Child> {
        let mut process = crate::interrupt::spawn(
            Command::new(std::env::current_exe()?)
                .arg(FLAG)
                .args(role)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        )?;
        let (Some(stdin), Some(stdout)) = (process.stdin.take(), process.stdout.take()) else {
            unreachable!("both are piped");
        };
        let mut c = Child {
            process,
            stdin,
            stdout: BufReader::new(stdout),
        };
        group.add(c.process.id())?;
        writeln!(c.stdin, "go")?;
        Ok(c)
    }

    /// The next line of the child's output, as numbers.
    fn numbers(&mut self) -> io::Result<Vec<f64>> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(io::Error::other("bench reader exited early"));
        }
        Ok(line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A `load` child reading in a tight loop.
pub(crate) struct Load(Child);

impl Load {
    /// Start `threads` readers of `path` in `group`; returns once they run.
    pub(crate) fn start(group: &Group, path: &Path, threads: usize) -> io::Result<Load> {
        let role = [
            "load".into(),
            path.display().to_string(),
            threads.to_string(),
        ];
        let mut c = Child::start(group, &role)?;
        let mut line = String::new();
        c.stdout.read_line(&mut line)?;
        if line.trim() != "running" {
            return Err(io::Error::other("bench load reader did not start"));
        }
        Ok(Load(c))
    }

    /// Stop it; its reads per second.
    pub(crate) fn stop(mut self) -> io::Result<f64> {
        writeln!(self.0.stdin, "stop")?;
        match self.0.numbers()?[..] {
            [reads, ns] => Ok(reads / (ns / 1e9).max(1e-9)),
            _ => Err(io::Error::other("bad output from the load reader")),
        }
    }
}

/// What a `paced` child measured.
pub(crate) struct Paced {
    /// Median latency, µs.
    pub(crate) p50_us: f64,
    /// 99th percentile, µs.
    pub(crate) p99_us: f64,
}

/// Run a `paced` child in `group`: one read of `path` every `interval` for `dur`.
pub(crate) fn paced_in(
    group: &Group,
    path: &Path,
    interval: Duration,
    dur: Duration,
) -> io::Result<Paced> {
    let role = [
        "paced".into(),
        path.display().to_string(),
        interval.as_micros().to_string(),
        dur.as_millis().to_string(),
    ];
    let mut c = Child::start(group, &role)?;
    match c.numbers()?[..] {
        [_, p50_us, p99_us] => Ok(Paced { p50_us, p99_us }),
        _ => Err(io::Error::other("bad output from the paced reader")),
    }
}
