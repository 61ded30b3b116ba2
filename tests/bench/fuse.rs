//! `cargo bench --bench fuse`: what a container's read of a virtual /proc file costs
//! through vproc, against the cheapest FUSE server possible and against LXCFS.
//!
//! Needs root and /dev/fuse (it mounts filesystems and creates cgroups); anything else
//! missing is skipped with the reason printed. In one run it mounts, each on its own
//! temporary mount point:
//! * vproc (`VPROC_BIN`, default the `target/release/vproc` cargo builds with this
//!   bench);
//! * the floor (`tests/bench/floor/floor.c`, built here with `cc` and libfuse3): fixed
//!   buffers, direct_io, 1 s entry/attribute timeouts, FLUSH answered ENOSYS once. It is
//!   the cheapest server that answers open/read/close, so it shows what the kernel's
//!   FUSE round trips cost by themselves, and vproc's figures minus the floor's are
//!   vproc's own cost;
//! * LXCFS when installed (`lxcfs -p <pidfile> <mnt>`).
//!
//! It then moves itself into a `vproc-test-*` cgroup (512 MiB, cpuset 0, no CPU quota,
//! which would throttle the readers themselves) so that every read is a container's
//! read, and measures, an open + read to EOF with a 64 KiB buffer (as `cat`) + close
//! being one operation:
//! 1. **requests**: the kernel FUSE requests per operation, per server and file, from
//!    the `fuse_request_send`/`fuse_request_end` tracepoints in a private tracefs
//!    instance. The first operation on each file is shown apart: it carries the LOOKUPs
//!    and, on the floor, the one FLUSH whose ENOSYS reply stops the kernel sending more.
//! 2. **latency**: ops/s, p50 and p99 for meminfo, cpuinfo, stat, uptime and loadavg
//!    through the host's /proc, the floor, vproc and LXCFS, with 1 and 4 reader threads.
//!    Targets take turns in short slices (round robin, starting one further each round)
//!    so that machine noise falls on all of them alike; ratios are medians over rounds
//!    of paired slices (two targets' slices of the same round), with their quartiles.
//! 3. **fairness**: the p99 of container B (one read every 1 ms, cpuset 1) alone and
//!    while container A (cpuset 0) reads meminfo from 4 threads back to back: how much
//!    one busy container slows down the others through the shared daemon.
//! 4. **scale**: with N real containers (`vproc-test-scale-<i>` cgroups holding one
//!    `sleep` each), per daemon: read latency from one container, RSS, CPU while idle
//!    and while one container reads back to back (daemon and child processes).
//!
//! Everything is printed as Markdown on stdout; daemons log on stderr. It is a benchmark,
//! not a test: no timing is asserted, and it exits 0 unless setup fails.
//!
//! Knobs (environment): `VPROC_BENCH_SECTIONS` (`requests,latency,fairness,scale`),
//! `VPROC_BENCH_SLICE_MS` (200), `VPROC_BENCH_ROUNDS` (20), `VPROC_BENCH_TRACE_ITERS`
//! (1000), `VPROC_BENCH_FAIR_SECS` (5), `VPROC_BENCH_SCALE` (`1,1000,10000`),
//! `VPROC_BENCH_CPU_SECS` (10), `VPROC_BIN`, `VPROC_BENCH_LXCFS` (a path, or `off`).
#![allow(clippy::disallowed_methods)] // a benchmark reads files and the wall clock

#[path = "fuse/cgroups.rs"]
mod cgroups;
#[path = "fuse/floor.rs"]
mod floor;
#[path = "fuse/interrupt.rs"]
mod interrupt;
#[path = "fuse/measure.rs"]
mod measure;
#[path = "fuse/roles.rs"]
mod roles;
#[path = "fuse/trace.rs"]
mod trace;
#[path = "fuse/usage.rs"]
mod usage;

use cgroups::{Group, Layout, Population};
use measure::{burst, read_or_panic, Samples, BUF};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::str::FromStr;
use std::time::Duration;
use testkit::real::{host_cpus, skip_reason, Daemon, Limits, TestCgroup};
use trace::{Requests, Tracer};

/// The files measured.
const FILES: [&str; 5] = [
    "proc/meminfo",
    "proc/cpuinfo",
    "proc/stat",
    "proc/uptime",
    "proc/loadavg",
];
const MEMINFO: &str = "proc/meminfo";
const SECTIONS: [&str; 4] = ["requests", "latency", "fairness", "scale"];
/// Reader threads of the latency section.
const THREADS: [usize; 2] = [1, 4];
/// Memory limit of every container cgroup.
const CONTAINER_MEMORY: u64 = 512 << 20;

/// Run lengths and sections, from the environment.
struct Knobs {
    sections: Vec<String>,
    slice: Duration,
    rounds: usize,
    trace_iters: usize,
    fair: Duration,
    scale: Vec<usize>,
    window: Duration,
}

fn knob<T: FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name}={v:?} is not a valid value")),
        Err(_) => Ok(default),
    }
}

fn list<T: FromStr>(name: &str, default: &str) -> Result<Vec<T>, String> {
    let v = std::env::var(name).unwrap_or_else(|_| default.into());
    v.split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            x.trim()
                .parse()
                .map_err(|_| format!("{name}: {x:?} is not valid"))
        })
        .collect()
}

impl Knobs {
    fn from_env() -> Result<Knobs, String> {
        let sections: Vec<String> = list("VPROC_BENCH_SECTIONS", &SECTIONS.join(","))?;
        if let Some(bad) = sections.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
            return Err(format!(
                "VPROC_BENCH_SECTIONS: unknown section {bad:?} (known: {})",
                SECTIONS.join(",")
            ));
        }
        Ok(Knobs {
            sections,
            slice: Duration::from_millis(knob("VPROC_BENCH_SLICE_MS", 200)?),
            rounds: knob("VPROC_BENCH_ROUNDS", 20)?.max(1),
            trace_iters: knob("VPROC_BENCH_TRACE_ITERS", 1000)?.max(1),
            fair: Duration::from_secs_f64(knob("VPROC_BENCH_FAIR_SECS", 5.0)?),
            scale: {
                // Ascending: each step adds containers to the previous ones.
                let mut n: Vec<usize> = list("VPROC_BENCH_SCALE", "1,1000,10000")?;
                n.sort_unstable();
                n.dedup();
                n
            },
            window: Duration::from_secs_f64(knob("VPROC_BENCH_CPU_SECS", 10.0)?),
        })
    }

    fn wants(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }
}

/// Somewhere to read the files from: the host's /proc or a mounted server.
struct Target {
    name: &'static str,
    root: PathBuf,
    /// The server, its binary and version (None for the host's /proc).
    daemon: Option<(Daemon, PathBuf, String)>,
}

impl Target {
    /// Start `bin -p <pidfile> <mnt>` and wait for the mount; the failure as text.
    fn server(name: &'static str, bin: PathBuf, version: String) -> Result<Target, String> {
        let path = bin.to_str().ok_or("binary path is not UTF-8")?;
        let d = std::panic::catch_unwind(|| Daemon::start(path, &[])).map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| format!("{path} did not mount"))
        })?;
        Ok(Target {
            name,
            root: d.mnt.clone(),
            daemon: Some((d, bin, version)),
        })
    }

    fn file(&self, f: &str) -> PathBuf {
        self.root.join(f)
    }

    fn pid(&self) -> i32 {
        self.daemon.as_ref().map_or(0, |(d, _, _)| d.pid())
    }
}

fn find<'a>(targets: &'a [Target], name: &str) -> Option<&'a Target> {
    targets.iter().find(|t| t.name == name)
}

/// The bench inside its container cgroup: enters on creation, leaves on drop (before the
/// cgroup is removed, which needs it empty).
struct Inside<'a>(&'a TestCgroup);

impl<'a> Inside<'a> {
    fn new(cg: &'a TestCgroup) -> Self {
        cg.enter();
        Inside(cg)
    }

    /// Run `f` with the bench back in the root cgroups.
    fn outside<R>(&self, f: impl FnOnce() -> R) -> R {
        self.0.leave();
        let r = f();
        self.0.enter();
        r
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

fn table(head: &[&str], rows: &[Vec<String>]) {
    println!("| {} |", head.join(" | "));
    println!("|{}", "---|".repeat(head.len()));
    for r in rows {
        println!("| {} |", r.join(" | "));
    }
    println!();
}

/// What `cmd` prints (stdout, else stderr: `lxcfs --version` writes there).
fn output(cmd: &mut Command) -> String {
    let Ok(o) = cmd.output() else {
        return String::new();
    };
    let text = if o.stdout.is_empty() {
        o.stderr
    } else {
        o.stdout
    };
    String::from_utf8_lossy(&text).trim().to_owned()
}

fn vproc_bin() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("VPROC_BIN") {
        return Ok(p.into());
    }
    // `cargo bench` builds this binary before the bench; build it when the bench
    // executable is run by hand after a clean.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_vproc"));
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(&cargo)
            .args(["build", "--release", "--bin", "vproc"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!("{cargo} build --release --bin vproc failed"));
        }
    }
    Ok(bin)
}

fn lxcfs_bin() -> Result<PathBuf, String> {
    match std::env::var("VPROC_BENCH_LXCFS") {
        Ok(v) if v == "off" => Err("VPROC_BENCH_LXCFS=off".into()),
        Ok(v) => Ok(v.into()),
        Err(_) => std::env::var_os("PATH")
            .and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("lxcfs"))
                    .find(|p| p.is_file())
            })
            .ok_or_else(|| "not installed (apt-get install lxcfs)".into()),
    }
}

fn main() -> ExitCode {
    if let Some(code) = roles::child_main() {
        return code;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench setup failed: {e}");
            println!("\n**Setup failed:** {e}");
            ExitCode::FAILURE
        }
    }
}

fn header() {
    let env: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("VPROC_"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let args: Vec<String> = std::env::args().collect();
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    println!("# vproc FUSE benchmark\n");
    println!(
        "- command: `{}cargo bench --bench fuse` (bench binary: `{}`)",
        env.iter().map(|e| format!("{e} ")).collect::<String>(),
        args.join(" ")
    );
    println!(
        "- machine: Linux {}, {} CPUs ({model})",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        host_cpus()
    );
    println!(
        "- source: {} at `{}`\n",
        env!("CARGO_MANIFEST_DIR"),
        output(Command::new("git").args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty"
        ]))
    );
}

fn run() -> Result<(), String> {
    header();
    if let Some(r) = skip_reason() {
        println!("**Skipped entirely:** {r}");
        return Ok(());
    }
    let knobs = Knobs::from_env()?;
    let mut skipped: Vec<String> = Vec::new();

    let mut targets = vec![Target {
        name: "/proc",
        root: PathBuf::from("/"),
        daemon: None,
    }];
    let floor = floor::build().and_then(|bin| {
        Target::server(
            "floor",
            bin,
            format!("libfuse {}", floor::libfuse_version()),
        )
    });
    match floor {
        Ok(t) => targets.push(t),
        Err(e) => skipped.push(format!("floor (every floor column): {e}")),
    }
    let vproc = vproc_bin()?;
    let version = output(Command::new(&vproc).arg("--version"));
    targets.push(
        Target::server("vproc", vproc, version).map_err(|e| format!("vproc did not mount: {e}"))?,
    );
    let lxcfs = lxcfs_bin().and_then(|bin| {
        let version = output(Command::new(&bin).arg("--version"));
        Target::server("lxcfs", bin, version.trim_matches('"').into())
    });
    match lxcfs {
        Ok(t) => targets.push(t),
        Err(e) => skipped.push(format!("LXCFS (every lxcfs column): {e}")),
    }

    // After the daemons: they must not inherit the blocked signals.
    interrupt::watch().map_err(|e| format!("blocking signals: {e}"))?;
    let cg = TestCgroup::create(Limits {
        memory: Some(CONTAINER_MEMORY),
        cpus: Some("0"),
        ..Limits::default()
    });
    let inside = Inside::new(&cg);
    let rows: Vec<Vec<String>> = targets
        .iter()
        .filter_map(|t| {
            let (_, bin, version) = t.daemon.as_ref()?;
            Some(vec![
                t.name.to_string(),
                format!("`{}`", bin.display()),
                version.clone(),
                t.pid().to_string(),
                format!("`{}`", t.root.display()),
            ])
        })
        .collect();
    table(
        &["server", "binary", "version", "pid", "mount point"],
        &rows,
    );
    println!(
        "Readers: this process in cgroup `{}` ({:?} layout; 512 MiB, cpuset 0, no CPU quota), \
         reading through the daemons' mounts as a container would.\n",
        cg.name, cg.layout
    );

    let layout = Layout::detect();
    for name in SECTIONS {
        if !knobs.wants(name) {
            skipped.push(format!("{name}: not in VPROC_BENCH_SECTIONS"));
            continue;
        }
        let layout = layout.as_ref().map_err(Clone::clone);
        let result = match name {
            "requests" => requests(&targets, knobs.trace_iters),
            "latency" => {
                latency(&targets, &knobs);
                Ok(())
            }
            "fairness" => layout.and_then(|l| fairness(&targets, l, &knobs)),
            _ => layout.and_then(|l| scale(&targets, &inside, l, &knobs)),
        };
        if let Err(e) = result {
            println!("**{name}: stopped:** {e}\n");
            skipped.push(format!("{name}: {e}"));
        }
    }

    println!("## Skipped\n");
    if skipped.is_empty() {
        println!("Nothing.");
    }
    for s in &skipped {
        println!("- {s}");
    }
    Ok(())
}

/// Requests of opcode `name` per operation, over `per` operations.
fn per_op(r: &Requests, name: &str, per: usize) -> String {
    format!("{:.2}", *r.sent.get(name).unwrap_or(&0) as f64 / per as f64)
}

const MAIN_OPS: [&str; 6] = ["LOOKUP", "GETATTR", "OPEN", "READ", "FLUSH", "RELEASE"];

fn errno_name(e: i32) -> String {
    format!("{:?}", nix::errno::Errno::from_raw(e))
}

fn requests(targets: &[Target], iters: usize) -> Result<(), String> {
    println!("## Kernel FUSE requests per open + read + close\n");
    let tracer = Tracer::new()?;
    println!(
        "From the `fuse_request_send` and `fuse_request_end` tracepoints (a private tracefs \
         instance, filtered on each mount's connection). \"first\" is the first operation on \
         the file since the mount (the mount check had already looked up `proc/meminfo`); the \
         columns are per operation over the next {iters}, one thread back to back.\n"
    );
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    let mut buf = vec![0u8; BUF];
    for t in targets.iter().filter(|t| t.daemon.is_some()) {
        let conn =
            trace::connection(&t.root).map_err(|e| format!("stat {}: {e}", t.root.display()))?;
        for f in FILES {
            let path = t.file(f);
            let first = tracer.count(conn, || {
                read_or_panic(&path, &mut buf);
            })?;
            let steady = tracer.count(conn, || {
                for _ in 0..iters {
                    interrupt::check();
                    read_or_panic(&path, &mut buf);
                }
            })?;
            let first_cell = first
                .sent
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .chain(
                    first
                        .failed
                        .iter()
                        .map(|((k, e), v)| format!("{k}→{} ×{v}", errno_name(*e))),
                )
                .collect::<Vec<_>>()
                .join(", ");
            let other: Vec<String> = steady
                .sent
                .keys()
                .filter(|k| !MAIN_OPS.contains(&k.as_str()))
                .map(|k| format!("{k} {}", per_op(&steady, k, iters)))
                .collect();
            let total: u64 = steady.sent.values().sum();
            let failed: Vec<String> = steady
                .failed
                .iter()
                .map(|((k, e), v)| {
                    format!("{k}→{} {:.2}", errno_name(*e), *v as f64 / iters as f64)
                })
                .collect();
            let mut row = vec![t.name.to_string(), f.to_string(), first_cell];
            row.extend(MAIN_OPS.iter().map(|op| per_op(&steady, op, iters)));
            row.push(if other.is_empty() {
                "–".into()
            } else {
                other.join(", ")
            });
            row.push(format!("{:.2}", total as f64 / iters as f64));
            row.push(if failed.is_empty() {
                "–".into()
            } else {
                failed.join(", ")
            });
            if first.lost || steady.lost {
                row.push("**events lost**".into());
            }
            if f == MEMINFO {
                let ops: Vec<String> = MAIN_OPS
                    .iter()
                    .map(|op| format!("{op} {}", per_op(&steady, op, iters)))
                    .collect();
                summary.push(format!("- {}: {} per op", t.name, ops.join(" ")));
            }
            rows.push(row);
        }
    }
    let mut head = vec!["server", "file", "first operation"];
    head.extend(MAIN_OPS);
    head.extend(["other", "total", "error replies"]);
    table(&head, &rows);
    println!("Per open + read + close of `proc/meminfo`, steady state:\n");
    for s in summary {
        println!("{s}");
    }
    println!();
    Ok(())
}

/// One latency cell, computed.
struct Cell {
    ops_s: f64,
    p50: f64,
    p99: f64,
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "–".into(),
    }
}

/// The median and the quartiles of `values` (sorted in place); `None` when empty.
fn quartiles(values: &mut [f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = |p: f64| values[((values.len() - 1) as f64 * p).round() as usize];
    Some((at(0.25), at(0.5), at(0.75)))
}

/// One cell's rounds, per target: the slices that ran next to each other in time.
struct Rounds {
    /// `[target][round]`.
    slices: Vec<Vec<Samples>>,
}

impl Rounds {
    /// `a / b` per round (`metric` of target `a`'s slice over target `b`'s slice of the
    /// same round): the median and the interquartile range, as `1.23 (1.10–1.31)`.
    /// Pairing slices of the same round cancels the machine's slow drifts (another
    /// tenant's load, frequency changes) that a ratio of totals absorbs.
    fn paired(
        &mut self,
        a: Option<usize>,
        b: Option<usize>,
        metric: fn(&mut Samples) -> f64,
    ) -> String {
        let (Some(a), Some(b)) = (a, b) else {
            return "–".into();
        };
        let mut per_round: Vec<f64> = (0..self.slices[a].len())
            .filter_map(|r| {
                let x = metric(&mut self.slices[a][r]);
                let y = metric(&mut self.slices[b][r]);
                (y > 0.0).then(|| x / y)
            })
            .collect();
        match quartiles(&mut per_round) {
            Some((q1, med, q3)) => format!("{med:.2} ({q1:.2}–{q3:.2})"),
            None => "–".into(),
        }
    }
}

fn latency(targets: &[Target], knobs: &Knobs) {
    println!("## Throughput and latency of open + read + close\n");
    println!(
        "{} rounds × {} ms per target and cell, targets in round robin (each round starts one \
         further), after a warm-up of a quarter slice each. Latency is per operation, over \
         all threads. Ratios are the median over rounds of the ratio of two targets' slices \
         in the same round, with the interquartile range in parentheses.\n",
        knobs.rounds,
        knobs.slice.as_millis()
    );
    let position = |name| targets.iter().position(|t| t.name == name);
    let (floor, vproc, lxcfs) = (position("floor"), position("vproc"), position("lxcfs"));
    let ops = |s: &mut Samples| s.ops_per_sec();
    let p99 = |s: &mut Samples| s.percentile_us(0.99);
    let mut ratios = Vec::new();
    for threads in THREADS {
        let mut rows = Vec::new();
        for f in FILES {
            for t in targets {
                burst(&t.file(f), threads, |e| e >= knobs.slice / 4);
            }
            let mut rounds = Rounds {
                slices: targets.iter().map(|_| Vec::new()).collect(),
            };
            for round in 0..knobs.rounds {
                let mut slices: Vec<Option<Samples>> = targets.iter().map(|_| None).collect();
                for k in 0..targets.len() {
                    let i = (round + k) % targets.len();
                    slices[i] = Some(burst(&targets[i].file(f), threads, |e| e >= knobs.slice));
                }
                for (i, s) in slices.into_iter().enumerate() {
                    rounds.slices[i].push(s.expect("every target ran"));
                }
            }
            let mut totals: Vec<Samples> = targets.iter().map(|_| Samples::default()).collect();
            for (total, slices) in totals.iter_mut().zip(&rounds.slices) {
                for s in slices {
                    total.merge(s.clone());
                }
            }
            let cells: Vec<Cell> = totals
                .iter_mut()
                .map(|s| Cell {
                    ops_s: s.ops_per_sec(),
                    p50: s.percentile_us(0.5),
                    p99: s.percentile_us(0.99),
                })
                .collect();
            for ((t, c), s) in targets.iter().zip(&cells).zip(&totals) {
                rows.push(vec![
                    f.into(),
                    t.name.into(),
                    format!("{:.0}", c.ops_s),
                    format!("{:.1}", c.p50),
                    format!("{:.1}", c.p99),
                    s.ops().to_string(),
                ]);
            }
            let cell = |i: Option<usize>| i.map(|i| &cells[i]);
            ratios.push(vec![
                f.into(),
                threads.to_string(),
                rounds.paired(vproc, floor, ops),
                rounds.paired(vproc, lxcfs, ops),
                rounds.paired(vproc, floor, p99),
                match (cell(vproc), cell(floor)) {
                    (Some(v), Some(f)) => format!("{:+.1}", v.p50 - f.p50),
                    _ => "–".into(),
                },
                ratio(cell(lxcfs).map(|c| c.ops_s), cell(floor).map(|c| c.ops_s)),
            ]);
        }
        println!(
            "### {threads} reader thread{}\n",
            if threads > 1 { "s" } else { "" }
        );
        table(
            &["file", "target", "ops/s", "p50 µs", "p99 µs", "reads"],
            &rows,
        );
    }
    println!("### Ratios\n");
    table(
        &[
            "file",
            "threads",
            "vproc / floor ops/s",
            "vproc / LXCFS ops/s",
            "vproc p99 / floor p99",
            "vproc p50 − floor p50 µs (all reads)",
            "LXCFS / floor ops/s (all reads)",
        ],
        &ratios,
    );
}

fn fairness(targets: &[Target], layout: &Layout, knobs: &Knobs) -> Result<(), String> {
    println!("## Fairness: one busy container against a quiet one\n");
    let interval = Duration::from_millis(1);
    let b_cpus = if host_cpus() >= 2 { "1" } else { "0" };
    let pid = std::process::id();
    let create = |name: String, cpus| {
        Group::create(layout, &name, Some(CONTAINER_MEMORY), Some(cpus))
            .map_err(|e| format!("creating {name}: {e}"))
    };
    let a = create(format!("vproc-test-fair-a-{pid}"), "0")?;
    let b = create(format!("vproc-test-fair-b-{pid}"), b_cpus)?;
    println!(
        "Container B (cpuset {b_cpus}) reads `proc/meminfo` once every {} ms for {:.0} s, first \
         alone, then while container A (cpuset 0) reads it from 4 threads back to back. Each \
         reader is a separate process in its own 512 MiB cgroup.\n",
        interval.as_millis(),
        knobs.fair.as_secs_f64()
    );
    let mut rows = Vec::new();
    let err = |e: std::io::Error| e.to_string();
    for t in targets.iter().filter(|t| t.daemon.is_some()) {
        let path = t.file(MEMINFO);
        let alone = roles::paced_in(&b, &path, interval, knobs.fair).map_err(err)?;
        let load = roles::Load::start(&a, &path, 4).map_err(err)?;
        let busy = roles::paced_in(&b, &path, interval, knobs.fair).map_err(err)?;
        let a_rate = load.stop().map_err(err)?;
        rows.push(vec![
            t.name.into(),
            format!("{:.1}", alone.p50_us),
            format!("{:.1}", alone.p99_us),
            format!("{:.1}", busy.p50_us),
            format!("{:.1}", busy.p99_us),
            format!("{:.2}", busy.p99_us / alone.p99_us.max(1e-3)),
            format!("{a_rate:.0}"),
        ]);
    }
    table(
        &[
            "server",
            "B p50 alone µs",
            "B p99 alone µs",
            "B p50 with A µs",
            "B p99 with A µs",
            "B p99 with A / alone",
            "A reads/s",
        ],
        &rows,
    );
    Ok(())
}

fn scale(
    targets: &[Target],
    inside: &Inside,
    layout: &Layout,
    knobs: &Knobs,
) -> Result<(), String> {
    println!("## Scale: N containers\n");
    let daemons: Vec<&Target> = ["vproc", "lxcfs"]
        .iter()
        .filter_map(|n| find(targets, n))
        .collect();
    let mut pop = Population::new(layout)?;
    println!(
        "N cgroups `{}<i>` (memory, cpu, cpuacct, cpuset), each holding one `sleep`. Per N and \
         daemon: latency of `proc/meminfo` read back to back for {w:.0} s by one container \
         (this process), the daemon's CPU over that time (\"reading\") and over {w:.0} s idle, \
         and its RSS afterwards; daemon figures include its child processes.\n",
        cgroups::SCALE_PREFIX,
        w = knobs.window.as_secs_f64()
    );
    let tps = usage::ticks_per_sec();
    let cpu_s = |ticks: u64| ticks as f64 / tps;
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut result = Ok(());
    let mut buf = vec![0u8; BUF];
    for &n in &knobs.scale {
        match inside.outside(|| pop.grow_to(n)) {
            Ok(took) => notes.push(format!("{n}: {:.1} s to create", took.as_secs_f64())),
            Err(e) => {
                result = Err(format!("creating {n} containers (got {}): {e}", pop.len()));
                break;
            }
        }
        for d in &daemons {
            read_or_panic(&d.file(MEMINFO), &mut buf);
        }
        interrupt::sleep(Duration::from_secs(1));
        let before: Vec<u64> = daemons.iter().map(|d| usage::cpu_ticks(d.pid())).collect();
        let start = std::time::Instant::now();
        interrupt::sleep(knobs.window);
        let idle_s = start.elapsed().as_secs_f64();
        for (d, before) in daemons.iter().zip(before) {
            let idle = cpu_s(usage::cpu_ticks(d.pid()).saturating_sub(before)) / idle_s;
            let c0 = usage::cpu_ticks(d.pid());
            let mut s = burst(&d.file(MEMINFO), 1, |e| e >= knobs.window);
            let busy = cpu_s(usage::cpu_ticks(d.pid()).saturating_sub(c0));
            rows.push(vec![
                n.to_string(),
                d.name.into(),
                format!("{:.1}", s.percentile_us(0.5)),
                format!("{:.1}", s.percentile_us(0.99)),
                format!("{:.1}", usage::rss_kib(d.pid()) as f64 / 1024.0),
                format!("{:.1}", idle * 100.0),
                format!("{:.1}", busy / s.elapsed.as_secs_f64() * 100.0),
                format!("{:.0}", s.ops_per_sec()),
                format!("{:.1}", busy * 1e6 / s.ops().max(1) as f64),
            ]);
        }
    }
    table(
        &[
            "containers",
            "daemon",
            "p50 µs",
            "p99 µs",
            "RSS MiB",
            "CPU % idle",
            "CPU % reading",
            "reads/s",
            "daemon CPU µs/read",
        ],
        &rows,
    );
    let start = std::time::Instant::now();
    drop(pop);
    notes.push(format!("cleanup: {:.1} s", start.elapsed().as_secs_f64()));
    println!("Cgroup setup: {}.\n", notes.join("; "));
    result
}
