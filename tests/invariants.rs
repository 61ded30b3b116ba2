//! Property tests: invariants that hold for every input, including garbage.
//!
//! * meminfo: MemFree ≤ MemAvailable ≤ MemTotal, SwapFree ≤ SwapTotal, every line vproc
//!   computes is ≤ MemTotal (swap lines ≤ SwapTotal);
//! * stat: the per-CPU lines sum to the `cpu` line, column by column; no number ≥ 2^63
//!   (a wrapped subtraction would show up as one);
//! * processor blocks in cpuinfo = CPUs in `online` = `cpuN` lines in stat;
//! * swaps: the one `none` line agrees with meminfo;
//! * every non-empty file ends with a newline; nothing panics.
#![allow(clippy::disallowed_methods)] // tests read fixtures directly

use proptest::prelude::*;
use std::sync::Arc;
use testkit::builder::{KernelBuilder, V2_CONTAINER};
use testkit::text::meminfo_value;
use testkit::{fixtures_dir, Harness, Scenario};
use vproc::config::{Config, RenderOptions};
use vproc::parse::cpuset::parse_cpuset;
use vproc::render::VirtualFile;
use vproc::source::mem::MemSource;
use vproc::source::Source;

const PID: u32 = 777;

/// Keys vproc computes (the others pass through from the host).
const COMPUTED: &[&str] = &[
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SwapCached",
    "Active",
    "Inactive",
    "Active(anon)",
    "Inactive(anon)",
    "Active(file)",
    "Inactive(file)",
    "Unevictable",
    "Dirty",
    "Writeback",
    "AnonPages",
    "Mapped",
    "Shmem",
    "Slab",
    "SReclaimable",
    "SUnreclaim",
    "AnonHugePages",
    "ShmemHugePages",
    "ShmemPmdMapped",
    "Zswap",
    "Zswapped",
];

fn check_all(h: &Harness, label: &str) -> Result<(), TestCaseError> {
    check_files(h, label, true)
}

/// `cpuinfo_intact`: false when the host's cpuinfo itself is garbage (its blocks cannot
/// be invented, so their count is not checked).
fn check_files(h: &Harness, label: &str, cpuinfo_intact: bool) -> Result<(), TestCaseError> {
    for f in VirtualFile::ALL {
        let t = h.read(f);
        prop_assert!(
            t.is_empty() || t.ends_with('\n'),
            "{label} {f:?} lacks a final newline"
        );
    }
    // meminfo
    let m = h.read(VirtualFile::Meminfo);
    if let Some(total) = meminfo_value(&m, "MemTotal") {
        let free = meminfo_value(&m, "MemFree").unwrap_or(0);
        let avail = meminfo_value(&m, "MemAvailable").unwrap_or(total);
        prop_assert!(
            free <= avail && avail <= total,
            "{label}: free {free} avail {avail} total {total}"
        );
        for k in COMPUTED {
            if let Some(v) = meminfo_value(&m, k) {
                prop_assert!(v <= total, "{label}: {k} {v} > MemTotal {total}");
            }
        }
    }
    let st = meminfo_value(&m, "SwapTotal").unwrap_or(0);
    let sf = meminfo_value(&m, "SwapFree").unwrap_or(0);
    prop_assert!(sf <= st, "{label}: SwapFree {sf} > SwapTotal {st}");
    // swaps agrees with meminfo when virtualised
    let swaps = h.read(VirtualFile::Swaps);
    if let Some(line) = swaps.lines().find(|l| l.starts_with("none ")) {
        let w: Vec<u64> = line
            .split_whitespace()
            .skip(2)
            .filter_map(|x| x.parse().ok())
            .collect();
        prop_assert_eq!(w[0], st, "{}: swaps size", label);
        prop_assert_eq!(w[1], st - sf, "{}: swaps used", label);
    }
    // stat
    let s = h.read(VirtualFile::Stat);
    let mut agg: Option<Vec<u64>> = None;
    let mut sum = vec![0u64; 10];
    let mut per_cpu = 0usize;
    for line in s.lines() {
        let mut w = line.split_whitespace();
        let name = w.next().unwrap_or("");
        if !name.starts_with("cpu") {
            continue;
        }
        let nums: Vec<u64> = w.map(|x| x.parse().unwrap()).collect();
        for n in &nums {
            prop_assert!(*n < 1 << 63, "{label}: absurd number {n} in {line}");
        }
        if name == "cpu" {
            agg = Some(nums);
        } else {
            per_cpu += 1;
            for (a, n) in sum.iter_mut().zip(&nums) {
                *a += n;
            }
        }
    }
    if let Some(agg) = agg {
        prop_assert_eq!(
            agg,
            sum,
            "{}: per-CPU lines do not sum to the aggregate",
            label
        );
    }
    // CPU counts agree
    let online = parse_cpuset(&h.read(VirtualFile::CpuOnline)).unwrap();
    let cpuinfo = h.read(VirtualFile::Cpuinfo);
    let blocks = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor\t:") || l.starts_with("cpu number"))
        .count();
    prop_assert_eq!(per_cpu, online.len(), "{}: stat cpuN vs online", label);
    if cpuinfo_intact {
        prop_assert_eq!(blocks, online.len(), "{}: cpuinfo blocks vs online", label);
    }
    Ok(())
}

fn harness(mem: MemSource, options: RenderOptions) -> Harness {
    let config = Config {
        render: options,
        ..Config::default()
    };
    Harness::new(Arc::new(mem), 183_742_580_000_000, config, PID)
}

fn limit() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("max".to_owned()),
        (0u64..64 << 30).prop_map(|v| v.to_string()),
        Just("0".to_owned()),
    ]
}

fn cpuset4() -> impl Strategy<Value = String> {
    prop::collection::btree_set(0u32..6, 0..6).prop_map(|s| {
        s.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    })
}

fn options() -> impl Strategy<Value = RenderOptions> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(cfs, swap, load)| RenderOptions {
        enable_cfs: cfs,
        disable_swap: swap,
        enable_loadavg: load,
        ..RenderOptions::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random but well-formed v2 cgroups.
    #[test]
    fn v2_values_keep_invariants(
        max in limit(), swap_max in limit(), current in 0u64..80 << 30,
        swap_current in 0u64..8 << 30,
        stat in prop::collection::vec(0u64..80 << 30, 8),
        cpus in cpuset4(), quota in 1_000u64..900_000, period in 1_000u64..1_000_000,
        user in 0u64..1 << 40, system in 0u64..1 << 40, opts in options(),
    ) {
        let c = V2_CONTAINER;
        let mem = KernelBuilder::new()
            .host_capture(&fixtures_dir().join("host/x86_64-4cpu"))
            .v2_container(PID)
            .file(&format!("{c}/memory.max"), &max)
            .file(&format!("{c}/memory.swap.max"), &swap_max)
            .file(&format!("{c}/memory.current"), current.to_string())
            .file(&format!("{c}/memory.swap.current"), swap_current.to_string())
            .file(&format!("{c}/memory.stat"), format!(
                "file {}\nactive_file {}\ninactive_file {}\nactive_anon {}\ninactive_anon {}\nshmem {}\nslab_reclaimable {}\nanon_thp {}\n",
                stat[0], stat[1], stat[2], stat[3], stat[4], stat[5], stat[6], stat[7]))
            .file(&format!("{c}/cpuset.cpus"), &cpus)
            .file(&format!("{c}/cpu.max"), format!("{quota} {period}"))
            .file(&format!("{c}/cpu.stat"), format!("usage_usec {}\nuser_usec {user}\nsystem_usec {system}\n", user + system))
            .build();
        check_all(&harness(mem, opts), "v2")?;
    }

    /// Random but well-formed v1 cgroups.
    #[test]
    fn v1_values_keep_invariants(
        limit in 0u64..64 << 30, memsw in 0u64..80 << 30, usage in 0u64..80 << 30,
        memsw_usage in 0u64..80 << 30, swappiness in 0u64..101,
        percpu in prop::collection::vec((0u64..1 << 44, 0u64..1 << 44), 4),
        cpus in cpuset4(), quota in -1i64..900_000, opts in options(),
    ) {
        let mut b = KernelBuilder::new()
            .host_capture(&fixtures_dir().join("host/x86_64-4cpu"))
            .v1_container(PID)
            .file("/sys/fs/cgroup/memory/ct/memory.limit_in_bytes", limit.to_string())
            .file("/sys/fs/cgroup/memory/ct/memory.memsw.limit_in_bytes", memsw.to_string())
            .file("/sys/fs/cgroup/memory/ct/memory.usage_in_bytes", usage.to_string())
            .file("/sys/fs/cgroup/memory/ct/memory.memsw.usage_in_bytes", memsw_usage.to_string())
            .file("/sys/fs/cgroup/memory/ct/memory.swappiness", swappiness.to_string())
            .file("/sys/fs/cgroup/memory/ct/memory.stat", "total_cache 4096\ntotal_active_file 4096\n")
            .file("/sys/fs/cgroup/cpuset/ct/cpuset.cpus", &cpus)
            .file("/sys/fs/cgroup/cpu,cpuacct/ct/cpu.cfs_quota_us", quota.to_string())
            .file("/sys/fs/cgroup/cpu,cpuacct/ct/cpu.cfs_period_us", "100000");
        let all: String = percpu.iter().enumerate().map(|(i, (u, s))| format!("{i} {u} {s}\n")).collect();
        let total: u64 = percpu.iter().map(|(u, s)| u + s).sum();
        b = b.file("/sys/fs/cgroup/cpu,cpuacct/ct/cpuacct.usage_all", format!("cpu user system\n{all}"))
            .file("/sys/fs/cgroup/cpu,cpuacct/ct/cpuacct.usage", total.to_string());
        check_all(&harness(b.build(), opts), "v1")?;
    }
}

/// Every file of a scenario, as kernel paths (host capture and cgroup tree).
fn input_files(s: &Scenario) -> Vec<String> {
    fn walk(src: &dyn Source, dir: &str, out: &mut Vec<String>) {
        for n in src.read_dir(dir).unwrap_or_default() {
            let p = format!("{}/{n}", dir.trim_end_matches('/'));
            match src.metadata(&p).map(|m| m.kind) {
                Ok(vproc::source::NodeKind::Dir) => walk(src, &p, out),
                Ok(vproc::source::NodeKind::File) => out.push(p),
                _ => {}
            }
        }
    }
    let src = s.source();
    let mut out = Vec::new();
    walk(&src, "/proc", &mut out);
    walk(&src, "/sys", &mut out);
    out
}

/// A copy of a scenario's kernel in memory.
fn load_scenario(s: &Scenario, files: &[String]) -> MemSource {
    let src = s.source();
    let mut mem = MemSource::new();
    for f in files {
        mem.file(f, src.read(f).unwrap());
    }
    for link in [
        "/proc/self/ns/pid",
        "/proc/4200/ns/pid",
        "/proc/4242/ns/pid",
    ] {
        if let Ok(t) = src.read_link(link) {
            mem.link(link, &t);
        }
    }
    mem
}

fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        Just(b"18446744073709551615\n".to_vec()),
        Just(b"-1\n".to_vec()),
        Just(b"max\n".to_vec()),
        Just(Vec::new()),
        "[0-9 :\\-,\n]{0,60}".prop_map(String::into_bytes),
        "[a-z_]{1,12} [0-9]{1,25}\n[a-z_]{1,12} [0-9]{1,25}\n".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    /// Any input file replaced by arbitrary bytes: no panic, invariants hold.
    #[test]
    fn arbitrary_bytes_in_any_input_file(
        layout in prop_oneof![Just("v1"), Just("v2")],
        scenario in 0usize..8, pick in any::<prop::sample::Index>(), bytes in hostile_bytes(),
    ) {
        let all = Scenario::all(layout);
        let s = &all[scenario % all.len()];
        let files = input_files(s);
        let target = &files[pick.index(files.len())];
        let mut mem = load_scenario(s, &files);
        mem.file(target, &bytes);
        let config = Config { render: s.options, ..Config::default() };
        let h = Harness::new(Arc::new(mem), s.boot_ns, config, s.reader_pid);
        let label = format!("{layout}/{} with {target} = {:?}", s.name, String::from_utf8_lossy(&bytes));
        check_files(&h, &label, target != "/proc/cpuinfo")?;
    }
}

/// One step of a random history: time passes, host CPUs and the container's CPU time
/// grow (sometimes the container's counter is reset, as when a cgroup is recreated),
/// tasks change state.
#[derive(Clone, Debug)]
struct Step {
    dt_ms: u64,
    host: Vec<(u64, u64, u64)>,
    usage: Vec<(u64, u64)>,
    reset: bool,
    running: usize,
    sleeping: usize,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u64..12_000,
        prop::collection::vec((0u64..600, 0u64..200, 0u64..600), 4),
        prop::collection::vec((0u64..3_000_000_000, 0u64..1_000_000_000), 4),
        prop::bool::weighted(0.05),
        0usize..4,
        0usize..4,
    )
        .prop_map(|(dt_ms, host, usage, reset, running, sleeping)| Step {
            dt_ms,
            host,
            usage,
            reset,
            running,
            sleeping,
        })
}

fn stat_lines(text: &str) -> Vec<(String, Vec<u64>)> {
    text.lines()
        .filter(|l| l.starts_with("cpu"))
        .map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next().unwrap().to_owned();
            (name, w.map(|x| x.parse().unwrap()).collect())
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Over random histories, on v1 and v2, with and without the CPU view: no counter of
    /// /proc/stat ever decreases between two reads (idle included), the per-CPU lines sum
    /// to the aggregate, and the load averages stay within [0, the most tasks counted].
    #[test]
    fn counters_never_decrease_and_load_stays_bounded(
        v2 in any::<bool>(), cfs in any::<bool>(), quota in 10_000u64..400_000,
        cpus in prop_oneof![Just("0-3"), Just("1,3"), Just("2")],
        steps in prop::collection::vec(step(), 1..12),
    ) {
        use std::fmt::Write as _;
        use testkit::builder::LiveKernel;
        let host_base = std::fs::read_to_string(fixtures_dir().join("host/x86_64-4cpu/proc/stat")).unwrap();
        let mut b = KernelBuilder::new().host_capture(&fixtures_dir().join("host/x86_64-4cpu"));
        let (cg_cpu, cg_set) = if v2 {
            b = b.v2_container(PID)
                .file(&format!("{V2_CONTAINER}/cpu.max"), format!("{quota} 100000"))
                .file(&format!("{V2_CONTAINER}/cpuset.cpus"), cpus);
            (V2_CONTAINER.to_owned(), V2_CONTAINER.to_owned())
        } else {
            b = b.v1_container(PID)
                .file("/sys/fs/cgroup/cpu,cpuacct/ct/cpu.cfs_quota_us", quota.to_string())
                .file("/sys/fs/cgroup/cpu,cpuacct/ct/cpu.cfs_period_us", "100000")
                .file("/sys/fs/cgroup/cpuset/ct/cpuset.cpus", cpus);
            ("/sys/fs/cgroup/cpu,cpuacct/ct".to_owned(), "/sys/fs/cgroup/cpuset/ct".to_owned())
        };
        let _ = cg_set;
        let mut mem = b.build();
        mem.file(&format!("{cg_cpu}/cgroup.procs"), format!("{PID}\n"));
        let kernel = Arc::new(LiveKernel::new(mem));
        let config = Config {
            render: RenderOptions { enable_cfs: cfs, enable_loadavg: true, ..RenderOptions::default() },
            ..Config::default()
        };
        let h = Harness::new(kernel.clone(), 183_742_580_000_000, config, PID);
        let mut host = vproc::parse::stat::parse_stat(&host_base);
        let mut usage = [(0u64, 0u64); 4];
        let mut prev: Option<Vec<(String, Vec<u64>)>> = None;
        let mut most_tasks = 0usize;
        for s in &steps {
            // host CPUs grow
            for line in host.lines.iter_mut() {
                if let vproc::parse::stat::StatLine::Cpu(n, t) = line {
                    let (u, sy, i) = s.host[*n as usize % 4];
                    t.0[0] += u;
                    t.0[2] += sy;
                    t.0[3] += i;
                }
            }
            let mut text = String::new();
            for line in &host.lines {
                match line {
                    vproc::parse::stat::StatLine::Cpu(n, t) => {
                        let _ = writeln!(text, "cpu{n} {}", t.0.map(|v| v.to_string()).join(" "));
                    }
                    vproc::parse::stat::StatLine::Other(o) => {
                        let _ = writeln!(text, "{o}");
                    }
                    vproc::parse::stat::StatLine::CpuTotal(_) => {}
                }
            }
            kernel.set("/proc/stat", text);
            // the container's CPU time grows, or is reset
            for (i, u) in usage.iter_mut().enumerate() {
                if s.reset {
                    *u = (0, 0);
                } else {
                    u.0 += s.usage[i].0;
                    u.1 += s.usage[i].1;
                }
            }
            let (tu, ts) = usage.iter().fold((0, 0), |a, u| (a.0 + u.0, a.1 + u.1));
            if v2 {
                kernel.set(&format!("{V2_CONTAINER}/cpu.stat"), format!("usage_usec {}\nuser_usec {}\nsystem_usec {}\n", (tu + ts) / 1000, tu / 1000, ts / 1000));
            } else {
                let all: String = usage.iter().enumerate().map(|(i, (u, s))| format!("{i} {u} {s}\n")).collect();
                kernel.set(&format!("{cg_cpu}/cpuacct.usage_all"), format!("cpu user system\n{all}"));
                kernel.set(&format!("{cg_cpu}/cpuacct.usage"), (tu + ts).to_string());
            }
            // tasks
            kernel.remove(&format!("/proc/{PID}/task"));
            for t in 0..s.running + s.sleeping {
                let state = if t < s.running { "R" } else { "S" };
                kernel.set(&format!("/proc/{PID}/task/{}/stat", 9000 + t), format!("{} (x) {state} 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 1 1", 9000 + t));
            }
            most_tasks = most_tasks.max(s.running);
            h.clock.advance_ns(s.dt_ms * 1_000_000);
            h.tick();
            let now = stat_lines(&h.read(VirtualFile::Stat));
            // per-CPU lines sum to the aggregate
            let mut sum = vec![0u64; 10];
            for (_, v) in now.iter().skip(1) {
                for (a, x) in sum.iter_mut().zip(v) {
                    *a += x;
                }
            }
            prop_assert_eq!(&now[0].1, &sum);
            if let Some(p) = &prev {
                prop_assert_eq!(p.len(), now.len());
                for ((name, a), (_, b)) in p.iter().zip(&now) {
                    for (x, y) in a.iter().zip(b) {
                        prop_assert!(y >= x, "{} went backwards: {:?} -> {:?}", name, a, b);
                    }
                }
            }
            prev = Some(now);
            let load = h.read(VirtualFile::Loadavg);
            for avg in load.split_whitespace().take(3) {
                let v: f64 = avg.parse().unwrap();
                prop_assert!(v >= 0.0 && v <= most_tasks as f64 + 0.01, "load {} with at most {} tasks", v, most_tasks);
            }
        }
    }
}

/// The aggregate `cpu` line and `/proc/uptime`'s idle field, in ticks.
fn stat_and_uptime(h: &Harness) -> (Vec<u64>, u64, usize) {
    let stat = stat_lines(&h.read(VirtualFile::Stat));
    let up = h.read(VirtualFile::Uptime);
    let idle_cs = up
        .split_whitespace()
        .nth(1)
        .and_then(|w| w.replace('.', "").parse::<u64>().ok())
        .unwrap();
    (stat[0].1.clone(), idle_cs, stat.len() - 1)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Over any interval in which a container uses at most its visible CPUs, its cpuN
    /// lines together grow by visible CPUs × elapsed (± one tick of rounding per CPU):
    /// busy by the cgroup's own CPU time, idle by the rest. The first read already holds
    /// visible CPUs × age (the reader's init is host pid 1 here, started at tick 1), and
    /// stat's idle is always uptime's idle.
    #[test]
    fn cpu_lines_grow_by_visible_cpus_times_elapsed(
        v2 in any::<bool>(),
        cpus in prop_oneof![Just("0-3"), Just("1,3"), Just("2")],
        steps in prop::collection::vec((0u64..12_000, prop::collection::vec(0u64..=1000, 4)), 1..10),
    ) {
        use testkit::builder::LiveKernel;
        let set = parse_cpuset(cpus).unwrap();
        let n = set.len() as u64;
        let mut b = KernelBuilder::new().host_capture(&fixtures_dir().join("host/x86_64-4cpu"));
        let cg_cpu = if v2 {
            b = b.v2_container(PID).file(&format!("{V2_CONTAINER}/cpuset.cpus"), cpus);
            V2_CONTAINER.to_owned()
        } else {
            b = b.v1_container(PID).file("/sys/fs/cgroup/cpuset/ct/cpuset.cpus", cpus);
            "/sys/fs/cgroup/cpu,cpuacct/ct".to_owned()
        };
        let kernel = Arc::new(LiveKernel::new(b.build()));
        let mut usage = [0u64; 4];
        let write_usage = |usage: &[u64; 4]| {
            let total: u64 = usage.iter().sum();
            if v2 {
                kernel.set(&format!("{V2_CONTAINER}/cpu.stat"), format!("usage_usec {}\nuser_usec {}\nsystem_usec 0\n", total / 1000, total / 1000));
            } else {
                let all: String = usage.iter().enumerate().map(|(i, u)| format!("{i} {u} 0\n")).collect();
                kernel.set(&format!("{cg_cpu}/cpuacct.usage_all"), format!("cpu user system\n{all}"));
                kernel.set(&format!("{cg_cpu}/cpuacct.usage"), total.to_string());
            }
        };
        write_usage(&usage);
        let h = harness_on(kernel.clone());
        let age = |h: &Harness| {
            use vproc::clock::Clock;
            h.clock.now().boot_ns / 10_000_000 - 1
        };
        let (mut prev, idle_cs, shown) = stat_and_uptime(&h);
        prop_assert_eq!(shown as u64, n);
        prop_assert_eq!(prev.iter().sum::<u64>(), n * age(&h), "first read: n × age");
        prop_assert_eq!(prev[3], idle_cs, "stat idle = uptime idle");
        let mut prev_age = age(&h);
        for (dt_ms, permille) in steps {
            h.clock.advance_ns(dt_ms * 1_000_000);
            for cpu in set.iter() {
                usage[cpu as usize] += dt_ms * 1_000_000 * permille[cpu as usize] / 1000;
            }
            write_usage(&usage);
            h.tick();
            let (now, idle_cs, _) = stat_and_uptime(&h);
            let grown: u64 = now.iter().zip(&prev).map(|(a, b)| a - b).sum();
            let elapsed = age(&h) - prev_age;
            prop_assert!(
                grown.abs_diff(n * elapsed) <= n,
                "lines grew {} in {} ticks on {} CPUs", grown, elapsed, n
            );
            for (a, b) in now.iter().zip(&prev) {
                prop_assert!(a >= b, "{:?} -> {:?}", prev, now);
            }
            prop_assert_eq!(now[3], idle_cs, "stat idle = uptime idle");
            prev = now;
            prev_age = age(&h);
        }
    }
}

fn harness_on(kernel: Arc<testkit::builder::LiveKernel>) -> Harness {
    Harness::new(kernel, 183_742_580_000_000, Config::default(), PID)
}
