//! End-to-end tests on a pure cgroup v2 kernel, where LXCFS is weakest. They run in the
//! throw-away VM (`bash ci/vm.sh`, booted with `cgroup_no_v1=all`) and skip loudly on
//! any other host. Every expected number is computed independently from the cgroup's
//! own files (`memory.stat`, `cpu.stat`, `io.stat`, `*.pressure`), never from vproc.
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

fn flat(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

fn host_swap_kb() -> u64 {
    meminfo(&fs::read_to_string("/proc/meminfo").unwrap(), "SwapTotal")
}

#[test]
fn v2_nested_limits_init_scope_and_pid_namespace() {
    if skip_v2("v2_nested_limits_init_scope_and_pid_namespace") {
        return;
    }
    let d = vproc(&[]);
    // top (256 MiB, swap 32 MiB) / c1 (no limit) / {init.scope, app}
    let mut t = V2Tree::new();
    t.set("", "cgroup.subtree_control", "+memory +cpu +cpuset +io");
    t.set("", "memory.max", &(256 * MIB).to_string());
    t.set("", "memory.swap.max", &(32 * MIB).to_string());
    t.mkdir("c1");
    t.mkdir("c1/init.scope");
    t.mkdir("c1/app");
    let meminfo_path = d.mnt.join("proc/meminfo");
    let uptime_path = d.mnt.join("proc/uptime");
    // The namespace's init (sh, pid 1) stays in c1/init.scope; the reader moves to c1/app.
    let out = t.run(
        "c1/init.scope",
        &format!(
            "exec unshare --pid --fork sh -c 'sleep 0.5; sh -c \"echo \\$\\$ > {app}/cgroup.procs; cat {u}; cat {m}\"'",
            app = t.dir("c1/app").display(),
            u = uptime_path.display(),
            m = meminfo_path.display()
        ),
    );
    let mut lines = out.lines();
    let up = first_number(lines.next().unwrap());
    assert!(
        (0.3..10.0).contains(&up),
        "uptime of the namespace init: {up}"
    );
    assert_eq!(
        meminfo(&out, "MemTotal"),
        262144,
        "smallest limit over the ancestors\n{out}"
    );
    assert_eq!(meminfo(&out, "SwapTotal"), 32768u64.min(host_swap_kb()));
    // The same from a reader directly in the leaf (no pid namespace of its own).
    let direct = t.run("c1/app", &format!("exec cat {}", meminfo_path.display()));
    assert_eq!(meminfo(&direct, "MemTotal"), 262144);
    let current_kb = t.get("c1", "memory.current").trim().parse::<u64>().unwrap() / 1024;
    let free = meminfo(&direct, "MemFree");
    assert!(
        free.abs_diff(262144 - current_kb) < 4096,
        "MemFree {free} vs 262144 − {current_kb}"
    );
}

#[test]
fn v2_cpuset_quota_and_cpu_times_follow_the_cgroup() {
    if skip_v2("v2_cpuset_quota_and_cpu_times_follow_the_cgroup") {
        return;
    }
    let last = host_cpus() - 1;
    let d = vproc(&[]);
    let t = V2Tree::new();
    t.set("", "cpuset.cpus", &last.to_string());
    t.set("", "cpu.max", "50000 100000");
    let read = |f: &str| t.run("", &format!("exec cat {}", d.mnt.join(f).display()));
    assert_eq!(processors(&read("proc/cpuinfo")), 1);
    assert_eq!(read("sys/devices/system/cpu/online"), format!("{last}\n"));
    if last > 0 {
        let offline = read("sys/devices/system/cpu/offline");
        assert_eq!(
            offline.trim(),
            if last == 1 {
                "0".to_owned()
            } else {
                format!("0-{}", last - 1)
            }
        );
    }
    let busy_ticks = |stat: &str| -> u64 {
        let l = stat
            .lines()
            .find(|l| l.starts_with(&format!("cpu{last} ")))
            .unwrap();
        let v: Vec<u64> = l
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        v[0] + v[2]
    };
    let usage_ticks = || -> u64 {
        let s = t.get("", "cpu.stat");
        (flat(&s, "user_usec") + flat(&s, "system_usec")) / 10_000
    };
    let before = busy_ticks(&read("proc/stat"));
    assert!(
        before.abs_diff(usage_ticks()) <= 5,
        "stat shows the cgroup's time, not the host's: {before} vs {}",
        usage_ticks()
    );
    let mut busy = t.spawn("", "sh -c 'while :; do :; done'");
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = busy.kill();
    let _ = busy.wait();
    let elapsed = started.elapsed().as_secs_f64();
    let after = busy_ticks(&read("proc/stat"));
    let grown = after - before;
    assert!(
        grown >= 20,
        "a busy loop makes the cgroup's CPU time grow: +{grown} ticks"
    );
    assert!(
        grown as f64 <= elapsed * 100.0 * 0.5 + 15.0,
        "no faster than the 0.5-CPU quota allows: +{grown} ticks in {elapsed:.2}s"
    );
    assert!(after.abs_diff(usage_ticks()) <= 5);
    // Uptime idle in a fresh pid namespace: 1 visible CPU × age − the cgroup's CPU time.
    let up = t.run(
        "",
        &format!(
            "exec unshare --pid --fork sh -c 'sleep 0.3; cat {}'",
            d.mnt.join("proc/uptime").display()
        ),
    );
    let v: Vec<f64> = up.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert!(v[1] <= v[0] + 0.01, "idle ≤ visible × age: {up}");
    let usage_s = flat(&t.get("", "cpu.stat"), "usage_usec") as f64 / 1e6;
    let expected = (v[0] - usage_s).max(0.0);
    assert!(
        (v[1] - expected).abs() < 0.5,
        "idle {} vs age − usage {expected:.2}",
        v[1]
    );
}

#[test]
fn v2_pressure_is_the_cgroups() {
    if skip_v2("v2_pressure_is_the_cgroups") {
        return;
    }
    let d = vproc(&[]);
    let t = V2Tree::new();
    // A busy loop under a 0.1-CPU quota stalls: the cgroup's cpu pressure grows while the
    // host's stays what it is.
    t.set("", "cpu.max", "10000 100000");
    let mut busy = t.spawn("", "sh -c 'while :; do :; done'");
    std::thread::sleep(Duration::from_millis(1200));
    let _ = busy.kill();
    let _ = busy.wait();
    let totals = |s: &str| -> Vec<u64> {
        s.lines()
            .filter_map(|l| {
                l.rsplit_once("total=")
                    .and_then(|(_, v)| v.trim().parse().ok())
            })
            .collect()
    };
    for (file, own) in [
        ("cpu", "cpu.pressure"),
        ("memory", "memory.pressure"),
        ("io", "io.pressure"),
    ] {
        // PSI totals move whenever the file is read (the kernel aggregates on read), so
        // vproc's figure must lie between the cgroup's own before and after it.
        let before = t.get("", own);
        let path = d.mnt.join("proc/pressure").join(file);
        let shown = t.run("", &format!("exec cat {}", path.display()));
        let after = t.get("", own);
        assert_eq!(
            shown.lines().count(),
            after.lines().count(),
            "{file}: {shown}"
        );
        let (lo, mid, hi) = (totals(&before), totals(&shown), totals(&after));
        for k in 0..mid.len() {
            assert!(
                lo[k] <= mid[k] + 50_000 && mid[k] <= hi[k] + 50_000,
                "{file}: {} not within [{}, {}]",
                mid[k],
                lo[k],
                hi[k]
            );
        }
        let host = fs::read_to_string(Path::new("/proc/pressure").join(file)).unwrap();
        if totals(&host) != lo && totals(&host) != hi {
            assert_ne!(mid, totals(&host), "{file}: the host's PSI was shown");
        }
    }
    let cpu = t.get("", "cpu.pressure");
    assert!(totals(&cpu)[0] > 0, "the throttled loop stalled: {cpu}");
}

#[test]
fn v2_diskstats_follow_io_stat() {
    if skip_v2("v2_diskstats_follow_io_stat") {
        return;
    }
    if !in_test_vm() {
        skipped(
            "v2_diskstats_follow_io_stat",
            "creates a loop device (test VM only)",
        );
        return;
    }
    let Some(dev) = LoopDevice::new(16) else {
        panic!("no loop device support in the test VM");
    };
    let d = vproc(&[]);
    let t = V2Tree::new();
    t.run(
        "",
        &format!(
            "dd if=/dev/zero of={} bs=4k count=256 oflag=direct status=none",
            dev.dev
        ),
    );
    let io = t.get("", "io.stat");
    let key = format!("{}:{} ", dev.devno.0, dev.devno.1);
    let line = io
        .lines()
        .find(|l| l.starts_with(&key))
        .unwrap_or_else(|| panic!("no {key} in io.stat: {io}"));
    let field = |k: &str| -> u64 {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{k}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let shown = t.run(
        "",
        &format!("exec cat {}", d.mnt.join("proc/diskstats").display()),
    );
    let name = dev.dev.trim_start_matches("/dev/");
    let l = shown
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| panic!("no {name} in vproc's diskstats:\n{shown}"));
    let v: Vec<u64> = l
        .split_whitespace()
        .skip(3)
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(v[4], field("wios"), "writes completed: {l}");
    assert_eq!(v[6], field("wbytes") / 512, "sectors written: {l}");
    assert_eq!(v[0], field("rios"));
    assert!(
        field("wbytes") >= 1 << 20,
        "the 1 MiB direct write is accounted"
    );
}

#[test]
fn v2_swap_limit_and_swaps() {
    if skip_v2("v2_swap_limit_and_swaps") {
        return;
    }
    if !in_test_vm() {
        skipped("v2_swap_limit_and_swaps", "enables swap (test VM only)");
        return;
    }
    // zram: swap on a loop device over the VM's tmpfs-backed /tmp deadlocks the VM.
    struct Zram;
    impl Drop for Zram {
        fn drop(&mut self) {
            let _ = std::process::Command::new("sh")
                .arg("-c")
                .arg("swapoff /dev/zram0; echo 1 > /sys/block/zram0/reset")
                .status();
        }
    }
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg("echo 128M > /sys/block/zram0/disksize && mkswap -q /dev/zram0 && swapon /dev/zram0")
        .status()
        .unwrap()
        .success();
    let _zram = Zram;
    assert!(ok, "zram swap could not be enabled in the test VM");
    let d = vproc(&[]);
    let t = V2Tree::new();
    t.set("", "memory.max", &(64 * MIB).to_string());
    t.set("", "memory.swap.max", &(16 * MIB).to_string());
    let m = t.run(
        "",
        &format!("exec cat {}", d.mnt.join("proc/meminfo").display()),
    );
    assert_eq!(meminfo(&m, "SwapTotal"), 16384.min(host_swap_kb()), "{m}");
    let swaps = t.run(
        "",
        &format!("exec cat {}", d.mnt.join("proc/swaps").display()),
    );
    let line = swaps
        .lines()
        .find(|l| l.starts_with("none"))
        .unwrap_or_else(|| panic!("{swaps}"));
    assert_eq!(line.split_whitespace().nth(2), Some("16384"), "{swaps}");
    assert!(!swaps.contains("zram"), "host swap devices are never shown");
}

#[test]
fn v2_dirty_and_mapped_are_real() {
    if skip_v2("v2_dirty_and_mapped_are_real") {
        return;
    }
    if !in_test_vm() {
        skipped(
            "v2_dirty_and_mapped_are_real",
            "formats a loop device and changes writeback sysctls (test VM only)",
        );
        return;
    }
    let dev = LoopDevice::new(64).expect("loop device");
    let mnt = tempfile::tempdir().unwrap();
    let setup = format!(
        "mkfs.ext4 -q -F {dev} && mount {dev} {mnt} && echo 0 > /proc/sys/vm/dirty_writeback_centisecs && echo 360000 > /proc/sys/vm/dirty_expire_centisecs",
        dev = dev.dev,
        mnt = mnt.path().display()
    );
    assert!(
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&setup)
            .status()
            .unwrap()
            .success(),
        "{setup}"
    );
    let d = vproc(&[]);
    let t = V2Tree::new();
    let m = mnt.path().display();
    // Dirty: a written, unsynced file. Mapped: a binary copied into the cgroup's own page
    // cache and kept running.
    t.run(
        "",
        &format!(
            "dd if=/dev/urandom of={m}/dirty bs=1M count=8 status=none; cp /bin/sleep {m}/sleep"
        ),
    );
    let mut sleeper = t.spawn("", &format!("{m}/sleep 30"));
    std::thread::sleep(Duration::from_millis(300));
    let shown = t.run(
        "",
        &format!("exec cat {}", d.mnt.join("proc/meminfo").display()),
    );
    let stat = t.get("", "memory.stat");
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = std::process::Command::new("umount")
        .arg(mnt.path())
        .status();
    let dirty = meminfo(&shown, "Dirty");
    let mapped = meminfo(&shown, "Mapped");
    assert!(
        dirty > 0 && dirty.abs_diff(flat(&stat, "file_dirty") / 1024) < 2048,
        "Dirty {dirty} vs memory.stat:\n{stat}"
    );
    assert!(
        mapped > 0 && mapped.abs_diff(flat(&stat, "file_mapped") / 1024) < 2048,
        "Mapped {mapped} vs memory.stat:\n{stat}"
    );
}
