//! `vproc inspect`: the files a process or cgroup would read, without a mount.
//!
//! * every fixture scenario, replayed with `--root`, shows exactly its goldens (the same
//!   engine, reached through the command line instead of the filesystem);
//! * on the real kernel, a capture replays byte for byte, `--pid` and `--cgroup` agree,
//!   and `--explain` names the limit file the value came from;
//! * a pid that does not exist is an error, not the host's numbers.

use std::path::Path;
use std::process::{Command, Output};
use testkit::real::{skip, Limits, TestCgroup};
use testkit::{fixtures_dir, Scenario};
use vproc::render::VirtualFile;
use vproc::source::Source;

fn vproc(args: &[&str]) -> Output {
    testkit::vproc_command(env!("CARGO_BIN_EXE_vproc"))
        .args(args)
        .output()
        .expect("run vproc")
}

fn stdout_of(args: &[&str]) -> String {
    let out = vproc(args);
    assert!(
        out.status.success(),
        "vproc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `cp -a from/. to/`: the fixture tree, host capture first, scenario over it (the
/// testkit's layering: a scenario's file wins over the host's).
fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success(), "cp -a {}", from.display());
}

#[test]
fn replaying_a_fixture_shows_its_goldens() {
    for layout in ["v1", "v2"] {
        for s in Scenario::all(layout) {
            let root = tempfile::tempdir().unwrap();
            copy_tree(&fixtures_dir().join("host").join(&s.host), root.path());
            copy_tree(&s.dir, root.path());
            let shown = stdout_of(&["inspect", "--root", root.path().to_str().unwrap()]);
            let h = s.harness();
            let expected: String = VirtualFile::ALL
                .iter()
                .map(|f| format!("==> {} <==\n{}\n", f.path(), h.read(*f)))
                .collect();
            assert_eq!(shown, expected, "{layout} {}", s.name);
        }
    }
}

#[test]
fn explain_names_every_input_and_the_fallbacks() {
    let s = Scenario::all("v2")
        .into_iter()
        .find(|s| s.name == "hostile")
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    copy_tree(&fixtures_dir().join("host").join(&s.host), root.path());
    copy_tree(&s.dir, root.path());
    let root = root.path().to_str().unwrap();
    let shown = stdout_of(&["inspect", "--root", root, "--explain", "meminfo"]);
    let (content, explanation) = shown.split_once("--- where this came from\n").unwrap();
    assert_eq!(content, s.harness().read(VirtualFile::Meminfo));
    // The reader: pid 4242 in a container whose init (pid 4200) is in /lxc/c1/init.scope.
    let reader = explanation.lines().next().unwrap();
    assert!(reader.starts_with("reader: reader pid 4242"), "{reader}");
    assert!(reader.contains("/lxc/c1"), "{reader}");
    // meminfo does not depend on the CPU set: no CPU line.
    assert!(!explanation.contains("\nCPUs:"), "{explanation}");
    // hostile's memory.max is empty; it is listed as such.
    assert_eq!(
        s.source().read("/sys/fs/cgroup/lxc/c1/memory.max").unwrap(),
        b""
    );
    let listed = "  /sys/fs/cgroup/lxc/c1/memory.max: (empty)\n";
    assert!(
        explanation.contains(listed),
        "{listed:?} not in\n{explanation}"
    );
    assert!(explanation.contains("  /proc/meminfo: ("), "{explanation}");
    // The hostile scenario records fallbacks; each is explained on its own line.
    assert!(
        explanation.lines().any(|l| l.starts_with("fallback: ")),
        "{explanation}"
    );
    // stat depends on the CPU set: the rule is shown.
    let stat = stdout_of(&["inspect", "--root", root, "--explain", "stat"]);
    assert!(stat.contains("\nCPUs: visible CPUs "), "{stat}");
}

#[test]
fn a_missing_pid_is_an_error() {
    // pid_max is at most 2^22: this pid cannot exist.
    let out = vproc(&["inspect", "--pid", "4194305", "meminfo"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no process with pid 4194305"), "{err}");
}

/// Capture a reader in a real limited cgroup, replay it elsewhere: the same bytes.
#[test]
fn a_capture_replays_byte_for_byte() {
    if skip("a_capture_replays_byte_for_byte") {
        return;
    }
    let limit = 300 << 20;
    let cg = TestCgroup::create(Limits {
        memory: Some(limit),
        cpus: Some("0"),
        ..Limits::default()
    });
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    cg.adopt(sleeper.id());
    let pid = sleeper.id().to_string();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("capture");
    let capture = capture.to_str().unwrap();

    let live = stdout_of(&["inspect", "--pid", &pid, "--capture", capture]);
    let (live, note) = live
        .rsplit_once("==> sys/devices/system/cpu/present <==\n")
        .unwrap();
    let (present, note) = note.split_once("\n").unwrap();
    assert!(note.starts_with("\ncaptured "), "{note}");
    let replay = stdout_of(&["inspect", "--root", capture]);
    assert_eq!(
        replay,
        format!("{live}==> sys/devices/system/cpu/present <==\n{present}\n\n")
    );
    assert_eq!(present, "0");

    // The reader's numbers, from its cgroup, whichever way it is named.
    let by_pid = stdout_of(&["inspect", "--pid", &pid, "meminfo"]);
    assert_eq!(
        testkit::text::meminfo_value(&by_pid, "MemTotal"),
        Some(limit / 1024)
    );
    let by_cgroup = stdout_of(&["inspect", "--cgroup", &format!("/{}", cg.name), "meminfo"]);
    assert_eq!(
        testkit::text::meminfo_value(&by_cgroup, "MemTotal"),
        Some(limit / 1024)
    );

    let explained = stdout_of(&["inspect", "--pid", &pid, "--explain", "meminfo"]);
    let limit_file = match cg.layout {
        vproc::cgroup::Layout::Unified => "memory.max",
        _ => "memory.limit_in_bytes",
    };
    let listed = format!("/{}/{limit_file}: {limit}\n", cg.name);
    assert!(
        explained.contains(&listed),
        "{listed:?} not in\n{explained}"
    );
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}
