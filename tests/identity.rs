//! Reader identity on the fake kernel: a reader is only ever shown its own container's
//! numbers, also when the kernel recycles pid-namespace inodes and pids, when processes
//! move, and when a namespace's init exits.
//!
//! Each cgroup has its own memory limit, so `MemTotal` says whose numbers a read got:
//! `/a` 256 MiB, `/b` 512 MiB, `/c` 768 MiB, the root (the host) 16318412 kB.

use proptest::prelude::*;
use std::sync::Arc;
use testkit::builder::{KernelBuilder, LiveKernel, Task};
use testkit::{fixtures_dir, Harness};
use vproc::config::Config;
use vproc::render::VirtualFile;

const A: u64 = 262_144;
const B: u64 = 524_288;
const C: u64 = 786_432;
const HOST: u64 = 16_318_412;
const HOST_NS: &str = "pid:[4026531836]";
const MS: u64 = 1_000_000;

fn kernel() -> Arc<LiveKernel> {
    let mut b = KernelBuilder::new()
        .host_capture(&fixtures_dir().join("host/x86_64-4cpu"))
        .file(
            "/proc/self/mountinfo",
            "30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        )
        .file(
            "/sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory pids\n",
        );
    for (cg, limit) in [("a", A), ("b", B), ("c", C)] {
        let dir = format!("/sys/fs/cgroup/{cg}");
        b = b
            .file(&format!("{dir}/memory.max"), (limit * 1024).to_string())
            .file(&format!("{dir}/memory.current"), "0\n")
            .file(&format!("{dir}/memory.stat"), "file 0\n")
            .file(&format!("{dir}/cgroup.procs"), "");
    }
    let k = LiveKernel::new(b.build());
    k.link("/proc/self/ns/pid", HOST_NS);
    k.spawn(&host_task(1, 0, 1, "/init.scope"));
    Arc::new(k)
}

fn host_task(pid: u32, ppid: u32, start_ticks: u64, cgroup: &str) -> Task {
    Task {
        pid,
        ppid,
        start_ticks,
        nspid: vec![pid],
        ns: HOST_NS.into(),
        cgroup: cgroup.into(),
    }
}

/// Task `pid` in namespace `ns` where it has pid `inner` (1: the namespace's init).
fn ns_task(pid: u32, ppid: u32, start_ticks: u64, ns: &str, inner: u32, cgroup: &str) -> Task {
    Task {
        pid,
        ppid,
        start_ticks,
        nspid: vec![pid, inner],
        ns: ns.into(),
        cgroup: cgroup.into(),
    }
}

fn harness(k: &Arc<LiveKernel>) -> Harness {
    Harness::new(k.clone(), 1_000_000 * MS, Config::default(), 0)
}

fn mem_total(h: &Harness, pid: u32) -> u64 {
    testkit::text::meminfo(&h.read_as(VirtualFile::Meminfo, pid), "MemTotal")
}

#[test]
fn a_recycled_namespace_inode_is_not_taken_for_the_old_namespace() {
    let k = kernel();
    let h = harness(&k);
    let ns = "pid:[4026532999]";
    k.spawn(&ns_task(500, 1, 1000, ns, 1, "/a/init.scope"));
    k.spawn(&ns_task(501, 500, 1001, ns, 2, "/a"));
    assert_eq!(mem_total(&h, 501), A);
    // The container ends; a new one gets the freed namespace inode, 10 ms later.
    k.kill(501);
    k.kill(500);
    h.clock.advance_ns(10 * MS);
    k.spawn(&ns_task(600, 1, 2000, ns, 1, "/b/init.scope"));
    k.spawn(&ns_task(601, 600, 2001, ns, 2, "/b"));
    assert_eq!(mem_total(&h, 601), B, "the new container's own limit");
    // And once more, with the old reader's pid recycled as well.
    k.kill(601);
    k.kill(600);
    h.clock.advance_ns(10 * MS);
    k.spawn(&ns_task(700, 1, 3000, ns, 1, "/c/init.scope"));
    k.spawn(&ns_task(501, 700, 3001, ns, 2, "/c"));
    assert_eq!(mem_total(&h, 501), C);
}

#[test]
fn a_recycled_host_pid_is_resolved_again() {
    let k = kernel();
    let h = harness(&k);
    k.spawn(&host_task(800, 1, 500, "/a"));
    assert_eq!(mem_total(&h, 800), A);
    k.kill(800);
    h.clock.advance_ns(10 * MS);
    k.spawn(&host_task(800, 1, 600, "/b"));
    assert_eq!(mem_total(&h, 800), B);
}

#[test]
fn a_moved_reader_sees_its_new_cgroup_within_max_staleness() {
    let k = kernel();
    let h = harness(&k);
    let max = Config::default().max_staleness_ns;
    // A reader in the daemon's namespace follows its own cgroup.
    k.spawn(&host_task(900, 1, 500, "/a"));
    assert_eq!(mem_total(&h, 900), A);
    k.move_to(900, "/b");
    h.clock.advance_ns(max + MS);
    assert_eq!(mem_total(&h, 900), B);
    // A container reader follows its namespace init's cgroup.
    let ns = "pid:[4026533001]";
    k.spawn(&ns_task(910, 1, 600, ns, 1, "/a/init.scope"));
    k.spawn(&ns_task(911, 910, 601, ns, 2, "/a"));
    assert_eq!(mem_total(&h, 911), A);
    k.move_to(910, "/c");
    h.clock.advance_ns(max + MS);
    assert_eq!(mem_total(&h, 911), C);
}

#[test]
fn an_init_that_exits_between_two_reads_never_lends_its_pid() {
    let k = kernel();
    let h = harness(&k);
    let ns = "pid:[4026533002]";
    k.spawn(&ns_task(950, 1, 700, ns, 1, "/a/init.scope"));
    k.spawn(&ns_task(951, 950, 701, ns, 2, "/a"));
    assert_eq!(mem_total(&h, 951), A);
    // The init exits and its pid goes to an unrelated process in /b while the reader is
    // still being torn down: the reader never sees /b's numbers.
    k.kill(950);
    k.spawn(&host_task(950, 1, 800, "/b"));
    h.clock.advance_ns(Config::default().max_staleness_ns + MS);
    let seen = mem_total(&h, 951);
    assert_eq!(
        seen, HOST,
        "a namespace without its init resolves as an unknown reader (the host's files)"
    );
}

#[test]
fn unknown_readers_see_the_host() {
    let k = kernel();
    let h = harness(&k);
    assert_eq!(
        mem_total(&h, 0),
        HOST,
        "pid 0: not visible from vproc's namespace"
    );
    assert_eq!(
        mem_total(&h, 12_345),
        HOST,
        "a pid that exited before it was resolved"
    );
}

/// One step of a random life of containers and readers.
#[derive(Clone, Debug)]
enum Op {
    /// A container starts: namespace slot, init pid slot, cgroup.
    Container { ns: u8, pid: u8, cg: u8 },
    /// A process starts in container slot `ns`'s namespace, or in the host's.
    Reader { ns: Option<u8>, pid: u8, cg: u8 },
    /// The container of namespace slot `ns` ends (every task in it exits).
    End { ns: u8 },
    /// A task exits.
    Exit { pid: u8 },
    /// A task moves to cgroup `cg`, then more than `max_staleness` passes.
    Move { pid: u8, cg: u8 },
    /// Time passes.
    Sleep { ms: u16 },
    /// Task `pid` reads meminfo.
    Read { pid: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    // Few slots, so namespace inodes and pids are recycled often.
    prop_oneof![
        (0u8..3, 0u8..6, 0u8..4).prop_map(|(ns, pid, cg)| Op::Container { ns, pid, cg }),
        (prop::option::of(0u8..3), 0u8..6, 0u8..4).prop_map(|(ns, pid, cg)| Op::Reader {
            ns,
            pid,
            cg
        }),
        (0u8..3).prop_map(|ns| Op::End { ns }),
        (0u8..6).prop_map(|pid| Op::Exit { pid }),
        (0u8..6, 0u8..4).prop_map(|(pid, cg)| Op::Move { pid, cg }),
        (0u16..400).prop_map(|ms| Op::Sleep { ms }),
        (0u8..6).prop_map(|pid| Op::Read { pid }),
        (0u8..6).prop_map(|pid| Op::Read { pid }),
    ]
}

#[derive(Clone, Debug)]
struct Live {
    ns: Option<u8>,
    cgroup: u8,
    init: bool,
}

const CGROUPS: [&str; 4] = ["/", "/a", "/b", "/c"];
const TOTALS: [u64; 4] = [HOST, A, B, C];

fn ns_link(ns: u8) -> String {
    format!("pid:[40265330{ns:02}]")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Over random sequences of containers starting and ending (their namespace inodes
    /// and pids recycled), readers coming and going, moves and pauses, every read
    /// returns the reader's own view: its namespace init's cgroup, or its own in the
    /// daemon's namespace, or the host's for a pid that is gone.
    #[test]
    fn every_read_is_the_readers_own(ops in prop::collection::vec(op(), 1..60)) {
        let k = kernel();
        let h = harness(&k);
        let max = Config::default().max_staleness_ns;
        let mut live: std::collections::BTreeMap<u32, Live> = Default::default();
        let mut inits: std::collections::BTreeMap<u8, u32> = Default::default();
        let mut next_start = 10_000u64;
        let pid_of = |slot: u8| 2000 + u32::from(slot);
        for op in ops {
            match op {
                Op::Container { ns, pid, cg } => {
                    let pid = pid_of(pid);
                    if inits.contains_key(&ns) || live.contains_key(&pid) {
                        continue;
                    }
                    next_start += 1;
                    k.spawn(&ns_task(pid, 1, next_start, &ns_link(ns), 1, &format!("{}/init.scope", CGROUPS[cg as usize].trim_end_matches('/'))));
                    live.insert(pid, Live { ns: Some(ns), cgroup: cg, init: true });
                    inits.insert(ns, pid);
                }
                Op::Reader { ns, pid, cg } => {
                    let pid = pid_of(pid);
                    if live.contains_key(&pid) {
                        continue;
                    }
                    next_start += 1;
                    match ns {
                        Some(n) => {
                            let Some(&init) = inits.get(&n) else { continue };
                            k.spawn(&ns_task(pid, init, next_start, &ns_link(n), 7, CGROUPS[cg as usize]));
                        }
                        None => k.spawn(&host_task(pid, 1, next_start, CGROUPS[cg as usize])),
                    }
                    live.insert(pid, Live { ns, cgroup: cg, init: false });
                }
                Op::End { ns } => {
                    if inits.remove(&ns).is_none() {
                        continue;
                    }
                    let gone: Vec<u32> = live.iter().filter(|(_, t)| t.ns == Some(ns)).map(|(p, _)| *p).collect();
                    for p in gone {
                        k.kill(p);
                        live.remove(&p);
                    }
                }
                Op::Exit { pid } => {
                    let pid = pid_of(pid);
                    // An init's exit ends its container: covered by End.
                    if live.get(&pid).is_some_and(|t| !t.init) {
                        k.kill(pid);
                        live.remove(&pid);
                    }
                }
                Op::Move { pid, cg } => {
                    let pid = pid_of(pid);
                    let Some(t) = live.get_mut(&pid) else { continue };
                    t.cgroup = cg;
                    let path = if t.init {
                        format!("{}/init.scope", CGROUPS[cg as usize].trim_end_matches('/'))
                    } else {
                        CGROUPS[cg as usize].to_owned()
                    };
                    k.move_to(pid, &path);
                    h.clock.advance_ns(max + MS);
                }
                Op::Sleep { ms } => h.clock.advance_ns(u64::from(ms) * MS),
                Op::Read { pid } => {
                    let pid = pid_of(pid);
                    let expected = match live.get(&pid) {
                        None => HOST,
                        Some(t) => match t.ns {
                            None => TOTALS[t.cgroup as usize],
                            Some(n) => TOTALS[live[&inits[&n]].cgroup as usize],
                        },
                    };
                    prop_assert_eq!(mem_total(&h, pid), expected, "pid {} in {:?}", pid, live.get(&pid));
                }
            }
        }
    }
}
