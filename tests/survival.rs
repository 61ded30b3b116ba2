//! A container never sees a failed read: the serving process killed (20 times, at random
//! points, while requests are in flight) or upgraded (20 times) under a reader loop in
//! a limited cgroup and its own pid namespace; and the daemon stays bounded under abuse
//! (100 000 open/close cycles, 10 000 files held open). Skipped, loudly, when not root,
//! without /dev/fuse, without python3, or under emulation.
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::container::{shell_quote, Container};

const MIB: u64 = 1 << 20;

/// The reader loop, in python (open + read to EOF + close, as `cat`): meminfo and
/// loadavg alternately until `deadline` seconds passed; prints one summary line
/// `ok N fail N enotconn N worst_ms F wrong N load_min_after_up F load_max F`.
const READER: &str = r#"
import errno, os, sys, time
mnt, total, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
ok = fail = enotconn = wrong = 0
worst = 0.0
load_max = 0.0
load_low_after_up = 99.0
end = time.monotonic() + secs
i = 0
while time.monotonic() < end:
    name = 'meminfo' if i % 2 == 0 else 'loadavg'
    i += 1
    t = time.monotonic()
    try:
        fd = os.open(mnt + '/proc/' + name, os.O_RDONLY)
        data = b''
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            data += b
        os.close(fd)
        ok += 1
        text = data.decode()
        if name == 'meminfo':
            if text.split()[1] != total:
                wrong += 1
        else:
            load = float(text.split()[0])
            if load_max > 0.2:
                load_low_after_up = min(load_low_after_up, load)
            load_max = max(load_max, load)
    except OSError as e:
        fail += 1
        if e.errno == errno.ENOTCONN:
            enotconn += 1
    worst = max(worst, time.monotonic() - t)
print('ok %d fail %d enotconn %d worst_ms %.1f wrong %d load_min_after_up %.2f load_max %.2f'
      % (ok, fail, enotconn, worst * 1000, wrong, load_low_after_up, load_max))
"#;

struct Summary {
    ok: u64,
    fail: u64,
    enotconn: u64,
    worst_ms: f64,
    wrong: u64,
    load_min_after_up: f64,
    load_max: f64,
}

fn parse_summary(line: &str) -> Summary {
    let w: Vec<&str> = line.split_whitespace().collect();
    let num = |k: &str| -> f64 {
        let i = w
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("no {k} in {line}"));
        w[i + 1].parse().unwrap()
    };
    Summary {
        ok: num("ok") as u64,
        fail: num("fail") as u64,
        enotconn: num("enotconn") as u64,
        worst_ms: num("worst_ms"),
        wrong: num("wrong") as u64,
        load_min_after_up: num("load_min_after_up"),
        load_max: num("load_max"),
    }
}

fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// The serving process's pid (from the supervisor's status file).
fn server_pid(d: &Daemon) -> i32 {
    let status = fs::read_to_string(format!("{}.status", d.pidfile.display())).unwrap_or_default();
    let pid = status
        .lines()
        .find_map(|l| l.strip_prefix("server "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0);
    assert!(pid > 1, "no serving process in the status file: {status:?}");
    pid
}

/// Wait until the serving process is a new one (not `old`) and the mount answers.
fn wait_new_server(d: &Daemon, old: i32) -> i32 {
    let start = Instant::now();
    loop {
        let now = server_pid(d);
        if now != 0 && now != old && fs::read(d.mnt.join("proc/uptime")).is_ok() {
            return now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no new serving process"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A pseudo-random delay in [lo, hi) ms (no extra crate: the clock's nanoseconds).
fn jitter(lo: u64, hi: u64) -> Duration {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos() as u64;
    Duration::from_millis(lo + ns % (hi - lo))
}

/// Run the reader in a 512 MiB container for `secs` while `disturb` runs; returns the
/// reader's summary.
fn under_reader(
    d: &Daemon,
    python: &str,
    secs: f64,
    busy_loops: usize,
    disturb: impl FnOnce(),
) -> Summary {
    let c = Container::new(
        &d.mnt,
        Limits {
            memory: Some(512 * MIB),
            quota: Some((50_000, 100_000)),
            ..Limits::default()
        },
    );
    let loops = (0..busy_loops)
        .map(|_| c.cgroup.spawn("sh -c 'while :; do :; done'"))
        .collect::<Vec<_>>();
    // The reader uses the mount itself (not the bound /proc files): it must see the
    // container's numbers through its pid namespace's init either way.
    let script = format!(
        "exec {python} -c {} {} 524288 {secs}",
        shell_quote(READER),
        d.mnt.display()
    );
    let reader = c.spawn(&script);
    disturb();
    let out = reader.wait_with_output().unwrap();
    for mut l in loops {
        let _ = l.kill();
        let _ = l.wait();
    }
    let line = String::from_utf8_lossy(&out.stdout);
    parse_summary(
        line.lines()
            .last()
            .unwrap_or_else(|| panic!("reader printed nothing")),
    )
}

#[test]
fn a_serving_process_killed_20_times_loses_no_read() {
    if skip("a_serving_process_killed_20_times_loses_no_read") {
        return;
    }
    let Some(py) = python() else {
        skipped(
            "a_serving_process_killed_20_times_loses_no_read",
            "no python3",
        );
        return;
    };
    let d = vproc(&["-l"]);
    let mut kills = 0;
    let s = under_reader(&d, py, 14.0, 0, || {
        std::thread::sleep(Duration::from_millis(500));
        for _ in 0..20 {
            let pid = server_pid(&d);
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            kills += 1;
            wait_new_server(&d, pid);
            std::thread::sleep(jitter(50, 550));
        }
    });
    eprintln!(
        "20 kills: {kills} done; reads {} ok, {} failed ({} ENOTCONN), {} wrong, slowest {:.1} ms",
        s.ok, s.fail, s.enotconn, s.wrong, s.worst_ms
    );
    assert_eq!(kills, 20);
    assert!(s.ok > 1000, "the reader kept reading: {}", s.ok);
    assert_eq!((s.fail, s.enotconn, s.wrong), (0, 0, 0));
    assert!(s.worst_ms < 1000.0, "slowest read {} ms", s.worst_ms);
}

#[test]
fn upgraded_20_times_loses_no_read_and_keeps_the_load_average() {
    if skip("upgraded_20_times_loses_no_read_and_keeps_the_load_average") {
        return;
    }
    let Some(py) = python() else {
        skipped(
            "upgraded_20_times_loses_no_read_and_keeps_the_load_average",
            "no python3",
        );
        return;
    };
    let d = vproc(&["-l"]);
    let bin =
        std::env::var("VPROC_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_vproc").to_owned());
    let mut upgrades = 0;
    // Two busy loops under a 0.5-CPU quota: the container's load climbs past 0.2 in
    // about 6 s; every upgrade must carry it over (a reset shows 0.00).
    let s = under_reader(&d, py, 24.0, 2, || {
        std::thread::sleep(Duration::from_secs(8));
        for _ in 0..20 {
            let out = Command::new(&bin)
                .arg("upgrade")
                .arg("-p")
                .arg(&d.pidfile)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            upgrades += 1;
            std::thread::sleep(jitter(100, 600));
        }
    });
    eprintln!(
        "20 upgrades: {upgrades} done; reads {} ok, {} failed ({} ENOTCONN), {} wrong, slowest {:.1} ms; load peaked at {:.2}, lowest after passing 0.2: {:.2}",
        s.ok, s.fail, s.enotconn, s.wrong, s.worst_ms, s.load_max, s.load_min_after_up
    );
    assert_eq!(upgrades, 20);
    assert!(s.ok > 1000, "the reader kept reading: {}", s.ok);
    assert_eq!((s.fail, s.enotconn, s.wrong), (0, 0, 0));
    assert!(s.worst_ms < 1000.0, "slowest read {} ms", s.worst_ms);
    assert!(
        s.load_max > 0.2,
        "the busy container built up load: {}",
        s.load_max
    );
    assert!(
        s.load_min_after_up >= 0.15,
        "the load average was reset by an upgrade: {:.2}",
        s.load_min_after_up
    );
}

fn fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn rss_kb(pid: i32) -> u64 {
    meminfo(
        &fs::read_to_string(format!("/proc/{pid}/status")).unwrap(),
        "VmRSS",
    )
}

fn threads(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[test]
fn bounded_under_abuse() {
    if skip("bounded_under_abuse") {
        return;
    }
    // The test process reads from the root cgroup (moving it into a test cgroup would
    // move every other test's thread too): the abuse is the same for any view.
    let d = vproc(&[]);
    let server = server_pid(&d);
    let meminfo_path = d.mnt.join("proc/meminfo");
    let cycle = |n: usize| {
        use std::io::Read;
        let mut buf = vec![0u8; 65536];
        for _ in 0..n {
            let mut f = fs::File::open(&meminfo_path).unwrap();
            while f.read(&mut buf).unwrap() > 0 {}
        }
    };
    let mut buf = vec![0u8; 65536];
    // The software-emulated v2 VM (ci/vm.sh) is ~10× slower: a tenth of the cycles.
    let cycles = if std::env::var_os("VPROC_IN_VM").is_some() {
        10_000
    } else {
        100_000
    };
    cycle(5_000);
    let (fds0, rss0) = (fd_count(server), rss_kb(server));
    cycle(cycles);
    let (fds1, rss1) = (fd_count(server), rss_kb(server));
    // 10 000 files held open at once, then closed: raise this process's soft limit on
    // descriptors to its hard limit first (the default soft limit is often 1024).
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let hold = 10_000.min(
        usize::try_from(hard)
            .unwrap_or(usize::MAX)
            .saturating_sub(200),
    );
    assert!(
        hold >= 1_000,
        "RLIMIT_NOFILE hard limit {hard}: cannot hold 1000 files"
    );
    let held: Vec<fs::File> = (0..hold)
        .map(|_| fs::File::open(&meminfo_path).unwrap())
        .collect();
    for f in held.iter().take(100) {
        use std::os::unix::fs::FileExt;
        f.read_at(&mut buf, 0).unwrap();
    }
    let rss_held = rss_kb(server);
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    cycle(1_000);
    let (fds2, rss2) = (fd_count(server), rss_kb(server));
    let n_threads = threads(server);
    eprintln!(
        "abuse: serving process fds {fds0} → {fds1} after {cycles} open/close → {fds2} after {hold} held; RSS {rss0} → {rss1} kB → {rss_held} kB with {hold} open → {rss2} kB; {n_threads} threads"
    );
    assert!(
        fds1 <= fds0 + 2 && fds2 <= fds0 + 2,
        "descriptors grow: {fds0} {fds1} {fds2}"
    );
    assert!(
        rss1 <= rss0 + 2048,
        "memory grows with open/close cycles: {rss0} → {rss1} kB"
    );
    // A held file costs a handle slot (no content until read): 10 000 of them stay
    // far below 16 MiB, and are given back.
    assert!(
        rss_held <= rss0 + 16 * 1024,
        "10 000 open files: {rss0} → {rss_held} kB"
    );
    assert!(
        rss2 <= rss_held + 1024,
        "after closing: {rss_held} → {rss2} kB"
    );
    // Workers are capped (2 × CPUs, within 4..=32) plus the sampler, reaper and control.
    assert!(n_threads <= 32 + 4, "{n_threads} threads");
}
