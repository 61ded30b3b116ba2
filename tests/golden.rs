//! Golden outputs: every virtual file, for every fixture scenario, on cgroup v1 and v2.
//!
//! Snapshots live in `tests/snapshots/`, one per (layout, scenario, file), named
//! `golden__<layout>-<scenario>-<file>.snap`. Each was read and checked by hand against
//! its renderer's formula table (`src/render/*.rs`) before it was accepted; `cargo insta
//! review` shows a diff on change.

#![allow(clippy::disallowed_methods)] // the test lists the snapshot directory

use testkit::Scenario;
use vproc::render::VirtualFile;

fn file_label(f: VirtualFile) -> String {
    f.path()
        .replace("sys/devices/system/cpu/", "sys_cpu_")
        .replace('/', "_")
}

/// Every scenario, on each layout: a fixture directory that goes missing (or appears
/// without goldens) fails here rather than silently shrinking the suite.
const SCENARIOS: [&str; 8] = [
    "cpuset-2of8",
    "hostile",
    "limit-above-host",
    "memlimit-quota",
    "nested",
    "no-limits",
    "swap-limited",
    "swap-unlimited",
];

fn goldens(layout: &str) {
    let scenarios = Scenario::all(layout);
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, SCENARIOS, "{layout} scenarios");
    for s in scenarios {
        let h = s.harness();
        for f in VirtualFile::ALL {
            let content = h.read(f);
            let name = format!("{layout}-{}-{}", s.name, file_label(f));
            insta::assert_snapshot!(name, content);
        }
    }
}

#[test]
fn golden_v1() {
    goldens("v1");
}

#[test]
fn golden_v2() {
    goldens("v2");
}

/// Where v1 and v2 semantics agree, the same logical scenario renders the same bytes.
/// (stat differs: v1 has per-CPU figures, v2 spreads; pressure is the host's on v1; v1
/// has no per-cgroup slab figures, which changes Slab* and MemAvailable.)
#[test]
fn v1_and_v2_agree_where_semantics_agree() {
    let skip_meminfo = ["MemAvailable:", "Slab:", "SReclaimable:", "SUnreclaim:"];
    // The hostile scenario is excluded: garbage is garbage differently on each version.
    for v1 in Scenario::all("v1")
        .into_iter()
        .filter(|s| s.name != "hostile")
    {
        let v2 = Scenario::load(
            &v1.dir
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("cgroup-v2")
                .join(&v1.name),
        );
        let (a, b) = (v1.harness(), v2.harness());
        // Uptime's idle is the stat lines' idle: v1 rounds each CPU's time to ticks,
        // v2 the total, so they may differ by a tick per CPU; the ages agree.
        let age = |t: String| t.split_whitespace().next().unwrap_or("").to_owned();
        assert_eq!(
            age(a.read(VirtualFile::Uptime)),
            age(b.read(VirtualFile::Uptime)),
            "{} uptime",
            v1.name
        );
        for f in [
            VirtualFile::Cpuinfo,
            VirtualFile::Swaps,
            VirtualFile::Diskstats,
            VirtualFile::Loadavg,
            VirtualFile::Slabinfo,
            VirtualFile::CpuOnline,
            VirtualFile::CpuOffline,
            VirtualFile::CpuPossible,
            VirtualFile::CpuPresent,
        ] {
            assert_eq!(a.read(f), b.read(f), "{} {:?}", v1.name, f);
        }
        let strip = |t: String| -> Vec<String> {
            t.lines()
                .filter(|l| !skip_meminfo.iter().any(|k| l.starts_with(k)))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            strip(a.read(VirtualFile::Meminfo)),
            strip(b.read(VirtualFile::Meminfo)),
            "{} meminfo",
            v1.name
        );
    }
}

/// The snapshot directory holds exactly the goldens of every scenario × file × layout
/// (a renamed file or scenario leaves no stale golden behind).
#[test]
fn every_golden_is_listed_and_every_listed_golden_exists() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let on_disk: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("golden__"))
        .collect();
    let mut expected = std::collections::BTreeSet::new();
    for layout in ["v1", "v2"] {
        for s in SCENARIOS {
            for f in VirtualFile::ALL {
                expected.insert(format!("golden__{layout}-{s}-{}.snap", file_label(f)));
            }
        }
    }
    assert_eq!(on_disk, expected);
}
