//! The sampler's contract, driven with a fake clock: freshness, demand-driven work,
//! forgetting, re-reads at offset 0, and fallbacks when a cgroup disappears.
#![allow(clippy::disallowed_methods)] // tests read fixtures directly

use std::sync::Arc;
use testkit::builder::{KernelBuilder, LiveKernel, V2_CONTAINER};
use testkit::{fixtures_dir, Harness, Scenario};
use vproc::config::Config;
use vproc::render::VirtualFile;
use vproc::snapshot::FallbackKind;
use vproc::source::{Metadata, Source, TaskPin};

const PID: u32 = 4242;
const MS: u64 = 1_000_000;

fn kernel() -> Arc<LiveKernel> {
    let c = V2_CONTAINER;
    let mem = KernelBuilder::new()
        .host_capture(&fixtures_dir().join("host/x86_64-4cpu"))
        .v2_container(PID)
        .file(&format!("{c}/memory.max"), "1073741824\n")
        .file(&format!("{c}/memory.current"), "104857600\n")
        .file(&format!("{c}/memory.stat"), "file 0\n")
        .file(
            &format!("{c}/cpu.stat"),
            "usage_usec 1000\nuser_usec 600\nsystem_usec 400\n",
        )
        .file("/proc/800/cgroup", "0::/other\n")
        .file("/sys/fs/cgroup/other/memory.max", "2147483648\n")
        .file("/sys/fs/cgroup/other/memory.current", "0\n")
        .build();
    let mut mem = mem;
    mem.link("/proc/800/ns/pid", "pid:[1]");
    mem.file(
        "/proc/800/stat",
        "800 (sh) S 1 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 900 1 1",
    );
    Arc::new(LiveKernel::new(mem))
}

fn harness(k: &Arc<LiveKernel>) -> Harness {
    Harness::new(k.clone(), 1_000_000 * MS, Config::default(), PID)
}

fn mem_free(h: &Harness) -> u64 {
    testkit::text::meminfo(&h.read(VirtualFile::Meminfo), "MemFree")
}

#[test]
fn fresh_snapshot_is_reused_without_cgroup_io_until_max_staleness() {
    let k = kernel();
    let h = harness(&k);
    assert_eq!(mem_free(&h), 1048576 - 102400);
    assert!(
        k.take_reads("/sys/fs/cgroup") > 0,
        "first read builds synchronously"
    );
    k.set(&format!("{V2_CONTAINER}/memory.current"), "209715200\n");
    h.clock.advance_ns(40 * MS);
    assert_eq!(
        mem_free(&h),
        1048576 - 102400,
        "within max staleness: same snapshot"
    );
    assert_eq!(
        k.take_reads("/sys/fs/cgroup"),
        0,
        "no cgroup I/O on the read path"
    );
    h.clock.advance_ns(70 * MS);
    assert_eq!(
        mem_free(&h),
        1048576 - 204800,
        "older than 100 ms: never served"
    );
}

#[test]
fn sampler_tick_refreshes_only_containers_being_read() {
    let k = kernel();
    let h = harness(&k);
    mem_free(&h);
    k.take_reads("");
    k.set(&format!("{V2_CONTAINER}/memory.current"), "209715200\n");
    h.clock.advance_ns(60 * MS);
    h.tick();
    assert!(
        k.take_reads(V2_CONTAINER) > 0,
        "the container being read is refreshed"
    );
    assert_eq!(
        k.take_reads("/sys/fs/cgroup/other"),
        0,
        "a container nobody reads costs nothing"
    );
    h.clock.advance_ns(50 * MS);
    assert_eq!(mem_free(&h), 1048576 - 204800);
    assert_eq!(
        k.take_reads("/sys/fs/cgroup"),
        0,
        "served from the sampler's snapshot"
    );
    // The other container appears on its first read, with its own numbers.
    let other = h.read_as(VirtualFile::Meminfo, 800);
    assert!(
        other.starts_with("MemTotal:        2097152 kB\n"),
        "{other}"
    );
    assert_eq!(h.engine.views(), 2);
}

#[test]
fn containers_not_read_are_no_longer_sampled_then_forgotten() {
    let k = kernel();
    let h = harness(&k);
    mem_free(&h);
    let cfg = Config::default();
    h.clock.advance_ns(cfg.active_window_ns + MS);
    k.take_reads("");
    h.tick();
    assert_eq!(
        k.take_reads("/sys/fs/cgroup"),
        0,
        "idle container not sampled"
    );
    assert_eq!(h.engine.views(), 1);
    h.clock.advance_ns(cfg.forget_after_ns);
    h.tick();
    assert_eq!(h.engine.views(), 0);
}

#[test]
fn a_read_at_offset_0_renders_afresh_and_later_offsets_continue_that_rendering() {
    let k = kernel();
    let h = harness(&k);
    let f = VirtualFile::Meminfo;
    let fh = h.open(f);
    let head = h.read_at(f, fh, 0, 40, PID);
    k.set(&format!("{V2_CONTAINER}/memory.current"), "0\n");
    h.clock.advance_ns(1000 * MS);
    // The rest of the pass continues the rendering it started from, whatever changed.
    let mut old = head.clone();
    old.extend(h.read_at(f, fh, 40, 1 << 20, PID));
    let old = String::from_utf8(old).unwrap();
    assert!(
        old.contains("MemFree:          946176 kB"),
        "one pass is one rendering: {old}"
    );
    assert!(h.read_at(f, fh, 1 << 30, 10, PID).is_empty());
    // lseek(0) + read on the same open file (top, vmstat, free -s): rendered afresh.
    let again = String::from_utf8(h.read_at(f, fh, 0, 1 << 20, PID)).unwrap();
    assert!(
        again.contains("MemFree:         1048576 kB"),
        "a read at offset 0 sees the change: {again}"
    );
    // Small pieces after that keep to the new rendering.
    let piece = h.read_at(f, fh, 20, 10, PID);
    assert_eq!(piece, again.as_bytes()[20..30].to_vec());
    h.vfs().release(fh).unwrap();
    assert!(
        h.vfs().read(testkit::ino(f), fh, 0, PID).is_err(),
        "released handles are gone"
    );
}

#[test]
fn readers_of_one_view_share_one_rendering_per_snapshot() {
    let k = kernel();
    let h = harness(&k);
    let f = VirtualFile::Meminfo;
    let (a, b) = (h.open(f), h.open(f));
    let ra = h.vfs().read(testkit::ino(f), a, 0, PID).unwrap();
    let rb = h.vfs().read(testkit::ino(f), b, 0, PID).unwrap();
    assert!(std::sync::Arc::ptr_eq(&ra, &rb), "rendered once, shared");
    h.clock.advance_ns(200 * MS);
    let rc = h.vfs().read(testkit::ino(f), a, 0, PID).unwrap();
    assert!(
        !std::sync::Arc::ptr_eq(&ra, &rc),
        "a new snapshot, a new rendering"
    );
    h.vfs().release(a).unwrap();
    h.vfs().release(b).unwrap();
    assert_eq!(h.vfs().open_files(), 0);
}

#[test]
fn a_cgroup_removed_between_two_reads_falls_back_to_the_host() {
    let k = kernel();
    let h = harness(&k);
    assert!(h
        .read(VirtualFile::Meminfo)
        .starts_with("MemTotal:        1048576 kB"));
    k.remove(V2_CONTAINER);
    h.clock.advance_ns(200 * MS);
    let after = h.read(VirtualFile::Meminfo);
    let host =
        std::fs::read_to_string(fixtures_dir().join("host/x86_64-4cpu/proc/meminfo")).unwrap();
    assert_eq!(after, host);
    let fallbacks = h.engine.fallbacks(VirtualFile::Meminfo, PID);
    assert!(
        fallbacks
            .iter()
            .any(|f| f.kind == FallbackKind::MemoryCgroup),
        "{fallbacks:?}"
    );
    // Other files stay sane too.
    assert!(h.read(VirtualFile::Stat).starts_with("cpu  "));
    assert!(h.read(VirtualFile::Uptime).ends_with('\n'));
}

#[test]
fn hostile_fixtures_record_their_fallbacks() {
    for layout in ["v1", "v2"] {
        let s = Scenario::load(&fixtures_dir().join(format!("cgroup-{layout}/hostile")));
        let h = s.harness();
        let mut kinds: Vec<FallbackKind> = Vec::new();
        for f in VirtualFile::ALL {
            kinds.extend(h.engine.fallbacks(f, s.reader_pid).iter().map(|f| f.kind));
        }
        for expected in [
            FallbackKind::MemoryLimit,
            FallbackKind::MemoryUsage,
            FallbackKind::Cpuset,
            FallbackKind::CpuQuota,
            FallbackKind::CpuUsage,
        ] {
            assert!(
                kinds.contains(&expected),
                "{layout}: {expected:?} not in {kinds:?}"
            );
        }
    }
}

#[test]
fn readers_in_a_pid_namespace_see_their_init_cgroup() {
    // In the fixtures the reader (4242) sits in /lxc/c1/app, its namespace init (4200)
    // in /lxc/c1/init.scope: the reader sees /lxc/c1, 2 GiB with 700 MiB in use.
    // (tests/identity.rs covers readers whose own cgroup differs from the init's.)
    for layout in ["v1", "v2"] {
        let s = Scenario::load(&fixtures_dir().join(format!("cgroup-{layout}/memlimit-quota")));
        let h = s.harness();
        let m = h.read(VirtualFile::Meminfo);
        assert!(
            m.starts_with("MemTotal:        2097152 kB\nMemFree:         1380352 kB\n"),
            "{layout}: {m}"
        );
    }
}

#[test]
fn a_v2_leaf_without_memory_or_cpu_files_is_accounted_by_its_ancestor() {
    // systemd-style: the memory and cpu controllers are enabled on /ct but not in its
    // leaf /ct/leaf, so only /ct has memory.* and cpu.max; the reader sits in the leaf.
    let mut mem = KernelBuilder::new()
        .host_capture(&fixtures_dir().join("host/x86_64-4cpu"))
        .v2_container(PID)
        .file(&format!("{V2_CONTAINER}/memory.max"), "536870912\n")
        .file(&format!("{V2_CONTAINER}/memory.current"), "104857600\n")
        .file(&format!("{V2_CONTAINER}/memory.stat"), "file 0\n")
        .file(&format!("{V2_CONTAINER}/cpu.max"), "100000 100000\n")
        .file(
            &format!("{V2_CONTAINER}/leaf/cpu.stat"),
            "usage_usec 5\nuser_usec 3\nsystem_usec 2\n",
        )
        .file(
            &format!("{V2_CONTAINER}/leaf/cgroup.procs"),
            format!("{PID}\n"),
        )
        .build();
    mem.file(&format!("/proc/{PID}/cgroup"), "0::/ct/leaf\n");
    let config = Config {
        render: vproc::config::RenderOptions {
            enable_cfs: true,
            ..Default::default()
        },
        ..Config::default()
    };
    let h = Harness::new(Arc::new(mem), 1_000_000 * MS, config, PID);
    let m = h.read(VirtualFile::Meminfo);
    assert!(
        m.starts_with("MemTotal:         524288 kB\nMemFree:          421888 kB\n"),
        "{m}"
    );
    assert_eq!(
        h.read(VirtualFile::CpuOnline),
        "0\n",
        "the quota of /ct applies to the leaf"
    );
}

#[test]
fn a_container_read_again_after_being_forgotten_continues_its_counters() {
    let k = kernel();
    k.set(
        &format!("{V2_CONTAINER}/cpu.stat"),
        "usage_usec 150000000\nuser_usec 100000000\nsystem_usec 50000000\n",
    );
    let h = harness(&k);
    let cpu_line = |h: &Harness| testkit::real::stat_total(&h.read(VirtualFile::Stat));
    let first = cpu_line(&h);
    assert_eq!((first[0], first[2]), (10000, 5000), "{first:?}");
    // The cgroup's counter is reset (recreated), then nobody reads for a minute.
    k.set(
        &format!("{V2_CONTAINER}/cpu.stat"),
        "usage_usec 10\nuser_usec 6\nsystem_usec 4\n",
    );
    h.clock
        .advance_ns(Config::default().forget_after_ns + 1000 * MS);
    h.tick();
    assert_eq!(h.engine.views(), 0, "unread: no longer sampled");
    let again = cpu_line(&h);
    for (a, b) in first.iter().zip(&again) {
        assert!(b >= a, "{first:?} -> {again:?}");
    }
}

#[test]
fn files_disabled_one_by_one_show_the_hosts() {
    let k = kernel();
    let config = Config {
        host_files: 1 << VirtualFile::Meminfo.index(),
        ..Config::default()
    };
    let h = Harness::new(k.clone(), 1_000_000 * MS, config, PID);
    let host =
        std::fs::read_to_string(fixtures_dir().join("host/x86_64-4cpu/proc/meminfo")).unwrap();
    assert_eq!(h.read(VirtualFile::Meminfo), host, "--disable-file meminfo");
    // Other files stay the container's: its CPU time (1 ms: 0 ticks), not the host's.
    let stat = testkit::real::stat_total(&h.read(VirtualFile::Stat));
    assert_eq!((stat[0], stat[2]), (0, 0), "{stat:?}");
    assert_eq!(VirtualFile::by_name("meminfo"), Some(VirtualFile::Meminfo));
    assert_eq!(
        VirtualFile::by_name("/sys/devices/system/cpu/online"),
        Some(VirtualFile::CpuOnline)
    );
    assert_eq!(VirtualFile::by_name("online"), Some(VirtualFile::CpuOnline));
    assert_eq!(VirtualFile::by_name("cpu"), None);
}

/// A kernel whose `io.stat` takes 300 ms to read: the sampler misses a 50 ms budget.
struct SlowIo(Arc<LiveKernel>);

impl Source for SlowIo {
    fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        if path.ends_with("/io.stat") {
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        self.0.read(path)
    }
    fn read_dir(&self, path: &str) -> std::io::Result<Vec<String>> {
        self.0.read_dir(path)
    }
    fn read_link(&self, path: &str) -> std::io::Result<String> {
        self.0.read_link(path)
    }
    fn metadata(&self, path: &str) -> std::io::Result<Metadata> {
        self.0.metadata(path)
    }
    fn pin_task(&self, pid: u32) -> std::io::Result<TaskPin> {
        self.0.pin_task(pid)
    }
    fn task_alive(&self, pin: &TaskPin) -> bool {
        self.0.task_alive(pin)
    }
}

/// A late sampler never makes a file empty: the last published snapshot serves a read
/// only if it holds what the file is computed from; otherwise the read waits for the
/// sampler (a loaded machine once showed an empty diskstats after meminfo).
#[test]
fn a_late_sampler_serves_real_values_not_a_snapshot_without_them() {
    let k = kernel();
    k.set(
        &format!("{V2_CONTAINER}/io.stat"),
        "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
    );
    let expected = harness(&k).read(VirtualFile::Diskstats);
    assert!(expected.contains(" sda 1 0 8 0 2 0 16 "), "{expected}");
    let config = Config {
        request_budget_ns: 50 * MS,
        ..Config::default()
    };
    let h = Harness::new(Arc::new(SlowIo(k.clone())), 1_000_000 * MS, config, PID);
    assert_eq!(
        testkit::text::meminfo(&h.read(VirtualFile::Meminfo), "MemTotal"),
        1_048_576
    );
    assert_eq!(h.read(VirtualFile::Diskstats), expected);
}

/// `cat`, `free`, `ps`: every read of a busy container may come from a new process.
/// It is served the container's published snapshot while that is fresh — no sampler
/// round trip, no cgroup file read — and its demand keeps the view sampled.
#[test]
fn a_new_reader_process_uses_the_published_snapshot() {
    let k = kernel();
    let h = harness(&k);
    assert_eq!(mem_free(&h), 1048576 - 102400);
    k.spawn(&testkit::builder::Task {
        pid: 4300,
        ppid: 1,
        start_ticks: 150,
        nspid: vec![4300],
        ns: "pid:[1]".into(),
        cgroup: "/ct".into(),
    });
    k.take_reads("/sys/fs/cgroup");
    h.clock.advance_ns(20 * MS);
    let text = h.read_as(VirtualFile::Meminfo, 4300);
    assert_eq!(testkit::text::meminfo(&text, "MemFree"), 1048576 - 102400);
    assert_eq!(
        k.take_reads("/sys/fs/cgroup"),
        0,
        "a new reader of a fresh view reads no cgroup file"
    );
}
