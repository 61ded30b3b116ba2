//! Differential test against real LXCFS (Debian's `lxcfs`, installed by `.ci/run`): both
//! daemons mounted on their own temporary mount points (own pidfiles, never
//! `/var/lib/lxcfs`), read from the same `vproc-test-*` cgroup, and required to agree
//! wherever vproc keeps LXCFS's semantics. Where vproc is deliberately different (the
//! README's "Differences from LXCFS") the test asserts vproc's value from the cgroup
//! files and prints both side by side.
//! Skipped, loudly, without root, /dev/fuse or the `lxcfs` binary.
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use std::fs;
use std::path::Path;

const MIB: u64 = 1 << 20;

fn lxcfs_binary() -> Option<&'static str> {
    ["/usr/bin/lxcfs", "/usr/local/bin/lxcfs"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn d_exists(p: &Path) -> bool {
    fs::metadata(p).is_ok()
}

fn first_fields(line: &str, n: usize) -> Vec<String> {
    line.split_whitespace().take(n).map(str::to_owned).collect()
}

/// `cpuinfo` without the lines vproc deliberately rewrites or that change by the
/// microsecond (`cpu MHz`).
fn cpuinfo_comparable(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            !l.starts_with("siblings") && !l.starts_with("cpu cores") && !l.starts_with("cpu MHz")
        })
        .collect()
}

#[test]
fn vproc_agrees_with_lxcfs_where_semantics_agree() {
    if skip("vproc_agrees_with_lxcfs_where_semantics_agree") {
        return;
    }
    let Some(lxcfs) = lxcfs_binary() else {
        skipped(
            "vproc_agrees_with_lxcfs",
            "no lxcfs binary (apt-get install lxcfs fuse3)",
        );
        return;
    };
    let v = vproc(&[]);
    let l = Daemon::start(lxcfs, &[]);
    let cg = TestCgroup::create(Limits {
        memory: Some(512 * MIB),
        swap: Some(128 * MIB),
        cpus: Some("0"),
        quota: Some((50_000, 100_000)),
    });
    // Keep one task in the cgroup while reading, as a container would.
    let mut keeper = cg.spawn("sleep 30");
    let read = |d: &Daemon, f: &str| cg.cat(&d.mnt.join(f));
    // On pure cgroup v2 LXCFS shows host CPU times and no swap (≤ 5.0 needs swap files in
    // the root cgroup): there those are deliberate differences, not agreements.
    let v2 = cg.layout == vproc::cgroup::Layout::Unified;
    let mut differences: Vec<(String, String, String)> = Vec::new();

    // meminfo: same limits, same formulas for the fields LXCFS computes correctly.
    let (vm, lm) = (read(&v, "proc/meminfo"), read(&l, "proc/meminfo"));
    let agree: &[&str] = if v2 {
        &["MemTotal", "Buffers", "SwapCached", "Unevictable"]
    } else {
        &[
            "MemTotal",
            "SwapTotal",
            "Buffers",
            "SwapCached",
            "Unevictable",
            "Shmem",
        ]
    };
    if v2 {
        for key in ["SwapTotal", "Shmem", "Dirty", "Slab"] {
            differences.push((
                format!("meminfo {key}"),
                meminfo(&vm, key).to_string(),
                meminfo(&lm, key).to_string(),
            ));
        }
    }
    for key in agree {
        assert_eq!(
            meminfo(&vm, key),
            meminfo(&lm, key),
            "meminfo {key}\nvproc:\n{vm}\nlxcfs:\n{lm}"
        );
    }
    let (vf, lf) = (meminfo(&vm, "MemFree"), meminfo(&lm, "MemFree"));
    assert!(vf.abs_diff(lf) <= 4096, "MemFree vproc {vf} lxcfs {lf}");
    // Deliberate differences: each with the value vproc must show, computed from the
    // cgroup's own files (counters move between the reads: a tolerance of 1 MiB).
    let counter = |v1_key: &str, v2_key: &str| -> u64 {
        let key = if v2 { v2_key } else { v1_key };
        cg.stat_value("memory.stat", key).unwrap_or(0) / 1024
    };
    let free = meminfo(&vm, "MemFree");
    let total = meminfo(&vm, "MemTotal");
    let reclaimable = counter("total_active_file", "active_file")
        + counter("total_inactive_file", "inactive_file")
        + if v2 {
            counter("", "slab_reclaimable")
        } else {
            0
        };
    let expected = [
        ("MemAvailable", (free + reclaimable).min(total)),
        ("AnonHugePages", counter("total_rss_huge", "anon_thp")),
        ("Mapped", counter("total_mapped_file", "file_mapped")),
    ];
    for (key, want) in expected {
        let got = meminfo(&vm, key);
        assert!(
            got.abs_diff(want) <= 1024,
            "vproc meminfo {key} {got} kB, the cgroup's files say {want} kB"
        );
        differences.push((
            format!("meminfo {key}"),
            format!("{got} (= cgroup {want})"),
            meminfo(&lm, key).to_string(),
        ));
    }

    // cpuinfo: the same blocks (one CPU), renumbered from 0.
    let (vc, lc) = (read(&v, "proc/cpuinfo"), read(&l, "proc/cpuinfo"));
    assert_eq!(cpuinfo_comparable(&vc), cpuinfo_comparable(&lc), "cpuinfo");
    assert_eq!(processors(&vc), 1);

    // online.
    assert_eq!(
        read(&v, "sys/devices/system/cpu/online"),
        read(&l, "sys/devices/system/cpu/online")
    );

    // stat: the same cpuN lines; user/system from cpuacct within a few ticks; the same
    // host lines after them (apart from counters that move between the two reads).
    let (vs, ls) = (read(&v, "proc/stat"), read(&l, "proc/stat"));
    assert_eq!(
        stat_cpus(&vs),
        stat_cpus(&ls),
        "stat cpus\nvproc:\n{vs}\nlxcfs:\n{ls}"
    );
    let cpu0 = |t: &str| -> Vec<u64> {
        t.lines()
            .find(|l| l.starts_with("cpu0 "))
            .unwrap()
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect()
    };
    let (a, b) = (cpu0(&vs), cpu0(&ls));
    if v2 {
        // LXCFS has no per-cgroup CPU times on v2 (it copies the host's lines).
        differences.push((
            "stat cpu0 user/system/idle".into(),
            format!("{} {} {}", a[0], a[2], a[3]),
            format!("{} {} {} (host)", b[0], b[2], b[3]),
        ));
    } else {
        assert!(
            a[0].abs_diff(b[0]) <= 5 && a[2].abs_diff(b[2]) <= 5,
            "user/system {a:?} vs {b:?}"
        );
        // Idle: vproc counts one visible CPU × the uptime this reader sees, minus the
        // cgroup's CPU time (wall-clock elapsed); LXCFS takes the host's per-CPU ticks,
        // which fall behind on a busy virtual machine.
        let up = read(&v, "proc/uptime");
        let idle_cs: u64 = up
            .split_whitespace()
            .nth(1)
            .unwrap()
            .replace('.', "")
            .parse()
            .unwrap();
        assert!(
            a[3].abs_diff(idle_cs) <= 2,
            "vproc stat idle {} = uptime idle {idle_cs}",
            a[3]
        );
        differences.push((
            "stat cpu0 idle".into(),
            format!("{} (= uptime idle)", a[3]),
            format!("{} (host ticks)", b[3]),
        ));
    }
    let names = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with("cpu"))
            .map(|l| first_fields(l, 1).join(" "))
            .collect()
    };
    assert_eq!(names(&vs), names(&ls), "stat non-cpu lines");
    let btime = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("btime"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(btime(&vs), btime(&ls));

    // uptime: the age of the init of the reader's pid namespace (here the host's pid 1).
    let (vu, lu) = (read(&v, "proc/uptime"), read(&l, "proc/uptime"));
    let age = |t: &str| -> f64 { t.split_whitespace().next().unwrap().parse().unwrap() };
    assert!(
        (age(&vu) - age(&lu)).abs() < 1.0,
        "uptime vproc {vu} lxcfs {lu}"
    );
    // vproc's idle: one visible CPU × the age − the cgroup's CPU time (never above).
    let usage_s = cg
        .file("cpuacct.usage")
        .and_then(|t| t.trim().parse::<f64>().ok())
        .map(|ns| ns / 1e9)
        .or_else(|| {
            cg.stat_value("cpu.stat", "usage_usec")
                .map(|us| us as f64 / 1e6)
        })
        .unwrap_or(0.0);
    let idle = |t: &str| nth_number(t, 1);
    assert!(
        (idle(&vu) - (age(&vu) - usage_s)).abs() < 1.0,
        "vproc uptime idle {} = age {} − CPU time {usage_s:.2}",
        idle(&vu),
        age(&vu)
    );
    differences.push(("uptime idle".into(), vu.trim().into(), lu.trim().into()));

    // loadavg without -l: the host's, in both. The kernel updates it every 5 s and
    // vproc's snapshot may be up to --max-staleness old: a pair read across an update
    // differs, so a few pairs are read, 250 ms apart, and one must agree.
    let mut pairs = Vec::new();
    for _ in 0..5 {
        let (vl, ll) = (read(&v, "proc/loadavg"), read(&l, "proc/loadavg"));
        pairs.push((first_fields(&vl, 3), first_fields(&ll, 3)));
        if vl
            .split_whitespace()
            .take(3)
            .eq(ll.split_whitespace().take(3))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(pairs.iter().any(|(a, b)| a == b), "loadavg: {pairs:?}");

    // swaps: the same header; the same single `none` line when there is swap.
    let (vw, lw) = (read(&v, "proc/swaps"), read(&l, "proc/swaps"));
    assert_eq!(vw.lines().next(), lw.lines().next(), "swaps header");
    if !v2 {
        assert_eq!(
            vw.lines().filter(|l| l.starts_with("none")).count(),
            lw.lines().filter(|l| l.starts_with("none")).count(),
            "swaps\nvproc:\n{vw}\nlxcfs:\n{lw}"
        );
    }
    let pressure = d_exists(&l.mnt.join("proc/pressure/io"));
    let vio = read(&v, "proc/pressure/io");
    assert!(
        vio.starts_with("some avg10="),
        "vproc serves pressure/io: {vio}"
    );
    differences.push((
        "proc/pressure/io".into(),
        first_fields(&vio, 2).join(" "),
        if pressure {
            "present".into()
        } else {
            "absent (LXCFS < 7.0)".into()
        },
    ));

    // Deliberate differences (the README's "Differences from LXCFS"), side by side.
    let vd = read(&v, "proc/diskstats");
    let ld = read(&l, "proc/diskstats");
    // vproc: one line per device the cgroup did I/O on (none here: the keeper sleeps).
    let io_devices = cg
        .file("blkio.throttle.io_serviced_recursive")
        .or_else(|| cg.file("io.stat"))
        .map_or(0, |t| {
            t.lines()
                .filter(|l| !l.starts_with("Total"))
                .filter(|l| {
                    l.split_whitespace().skip(1).any(|w| {
                        w.rsplit('=')
                            .next()
                            .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0))
                    })
                })
                .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        });
    assert_eq!(vd.lines().count(), io_devices, "vproc diskstats:\n{vd}");
    differences.push((
        "diskstats lines".into(),
        vd.lines().count().to_string(),
        format!("{} (host file)", ld.lines().count()),
    ));
    let _ = keeper.kill();
    let _ = keeper.wait();
    eprintln!("\nvproc vs lxcfs, deliberate differences:");
    eprintln!("{:<24} {:<28} lxcfs", "what", "vproc");
    for (what, a, b) in &differences {
        eprintln!("{what:<24} {a:<28} {b}");
    }
    let lxcfs_mnt = l.mnt.clone();
    drop(l);
    assert!(!is_fuse_mount(&lxcfs_mnt), "lxcfs left its mount behind");
    let _ = fs::metadata(&v.mnt);
}
