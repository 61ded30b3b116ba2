//! Views over time, driven with the fake clock and a kernel whose counters move: golden
//! time series of `/proc/stat`, `/proc/loadavg` and `/proc/uptime` over several sampler
//! ticks, per scenario, on cgroup v1 and v2.
//!
//! Each step advances the clock by 5 s (one load period), adds 500 ticks to every host
//! CPU (split user/system/idle), adds CPU time to the container (more on the first
//! visible CPU, some on CPUs the CPU view hides), flips the reader thread between R and
//! S, runs one sampler tick and reads the files. Snapshots: `series__<layout>-<scenario>`.
#![allow(clippy::disallowed_methods)] // the test copies fixture trees

use std::sync::Arc;
use testkit::builder::LiveKernel;
use testkit::{Harness, Scenario};
use vproc::config::{Config, RenderOptions};
use vproc::parse::stat::{parse_stat, StatLine};
use vproc::render::VirtualFile;
use vproc::source::mem::MemSource;
use vproc::source::{NodeKind, Source};

const STEP_NS: u64 = 5_000_000_000;

fn copy_tree(src: &dyn Source, dir: &str, mem: &mut MemSource) {
    for n in src.read_dir(dir).unwrap_or_default() {
        let p = format!("{}/{n}", dir.trim_end_matches('/'));
        match src.metadata(&p).map(|m| m.kind) {
            Ok(NodeKind::Dir) => copy_tree(src, &p, mem),
            Ok(NodeKind::File) => {
                mem.file(&p, src.read(&p).unwrap());
            }
            Ok(NodeKind::Symlink) => {
                mem.link(&p, &src.read_link(&p).unwrap());
            }
            Err(_) => {}
        }
    }
}

/// Host /proc/stat with `step` × (300 user, 50 system, 150 idle) added to every CPU.
fn host_stat(base: &str, step: u64) -> String {
    let s = parse_stat(base);
    let mut out = String::new();
    let mut total = [0u64; 10];
    let mut cpus = String::new();
    for line in &s.lines {
        if let StatLine::Cpu(n, t) = line {
            let mut t = *t;
            t.0[0] += 300 * step;
            t.0[2] += 50 * step;
            t.0[3] += 150 * step;
            for (a, v) in total.iter_mut().zip(t.0) {
                *a += v;
            }
            cpus.push_str(&format!(
                "cpu{n} {}\n",
                t.0.map(|v| v.to_string()).join(" ")
            ));
        }
    }
    out.push_str(&format!(
        "cpu  {}\n",
        total.map(|v| v.to_string()).join(" ")
    ));
    out.push_str(&cpus);
    for o in s.others() {
        out.push_str(o);
        out.push('\n');
    }
    out
}

/// The container's CPU files at `step`: +2 s user and +0.4 s system per step on the first
/// cpuset CPU, +1 s user on the last one (hidden by a CPU view with a small quota);
/// `usage`, `usage_all` and `usage_percpu` agree.
fn bump_usage(k: &LiveKernel, s: &Scenario, base: &MemSource, step: u64) {
    let ns = |secs_tenths: u64| secs_tenths * 100_000_000 * step;
    if s.layout == "v1" {
        let p = "/sys/fs/cgroup/cpu,cpuacct/lxc/c1";
        let all = String::from_utf8(base.read(&format!("{p}/cpuacct.usage_all")).unwrap()).unwrap();
        let mut lines: Vec<(u32, u64, u64)> = all
            .lines()
            .skip(1)
            .map(|l| {
                let w: Vec<u64> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
                (w[0] as u32, w[1], w[2])
            })
            .collect();
        let used: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].1 + lines[i].2 > 0)
            .collect();
        if let (Some(&first), Some(&last)) = (used.first(), used.last()) {
            lines[first].1 += ns(20);
            lines[first].2 += ns(4);
            lines[last].1 += ns(10);
        }
        let total: u64 = lines.iter().map(|(_, u, s)| u + s).sum();
        let text: String = lines
            .iter()
            .map(|(c, u, s)| format!("{c} {u} {s}\n"))
            .collect();
        k.set(
            &format!("{p}/cpuacct.usage_all"),
            format!("cpu user system\n{text}"),
        );
        k.set(&format!("{p}/cpuacct.usage"), format!("{total}\n"));
        // The exact per-CPU totals, consistent with usage_all (as a quiet kernel's are).
        let percpu: Vec<String> = lines.iter().map(|(_, u, s)| (u + s).to_string()).collect();
        k.set(
            &format!("{p}/cpuacct.usage_percpu"),
            format!("{} \n", percpu.join(" ")),
        );
    } else {
        let p = "/sys/fs/cgroup/lxc/c1/cpu.stat";
        let text = String::from_utf8(base.read(p).unwrap()).unwrap();
        let get = |k: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k} ")))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let (u, sy) = (
            get("user_usec") + ns(30) / 1000,
            get("system_usec") + ns(4) / 1000,
        );
        k.set(
            p,
            format!("usage_usec {}\nuser_usec {u}\nsystem_usec {sy}\n", u + sy),
        );
    }
}

fn series(s: &Scenario, options: RenderOptions) -> String {
    let src = s.source();
    let mut base = MemSource::new();
    copy_tree(&src, "/proc", &mut base);
    copy_tree(&src, "/sys", &mut base);
    let host_stat_text = String::from_utf8(base.read("/proc/stat").unwrap()).unwrap();
    let kernel = Arc::new(LiveKernel::new(base.clone()));
    let config = Config {
        render: options,
        ..Config::default()
    };
    let h = Harness::new(kernel.clone(), s.boot_ns, config, s.reader_pid);
    let mut out = String::new();
    for step in 0..4u64 {
        if step > 0 {
            h.clock.advance_ns(STEP_NS);
            kernel.set("/proc/stat", host_stat(&host_stat_text, step));
            bump_usage(&kernel, s, &base, step);
            let state = if step % 2 == 1 { "S" } else { "R" };
            let task = "/proc/4242/task/4242/stat";
            if let Ok(t) = base.read(task) {
                let t = String::from_utf8(t)
                    .unwrap()
                    .replacen(") R ", &format!(") {state} "), 1);
                kernel.set(task, t);
            }
            h.tick();
        }
        out.push_str(&format!("== t = {}s\n", step * 5));
        for f in [VirtualFile::Stat, VirtualFile::Loadavg, VirtualFile::Uptime] {
            let text = h.read(f);
            // The stat lines that matter here: cpu lines and procs_*.
            for l in text
                .lines()
                .filter(|l| !l.starts_with("intr") && !l.starts_with("softirq"))
            {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn time_series_v1_and_v2() {
    for layout in ["v1", "v2"] {
        for s in Scenario::all(layout)
            .into_iter()
            .filter(|s| s.name != "hostile")
        {
            insta::assert_snapshot!(format!("{layout}-{}", s.name), series(&s, s.options));
        }
        // A fractional quota in the CPU view: 1.5 CPUs → 2 visible; the unused half CPU
        // is idle, and the time of the hidden CPUs moves onto the visible ones.
        let s = Scenario::all(layout)
            .into_iter()
            .find(|s| s.name == "memlimit-quota")
            .unwrap();
        let cfs = RenderOptions {
            enable_cfs: true,
            ..s.options
        };
        insta::assert_snapshot!(format!("{layout}-memlimit-quota-cfs"), series(&s, cfs));
    }
}
