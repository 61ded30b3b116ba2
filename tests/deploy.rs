//! What users install vproc with, checked by the tools that consume it:
//!
//! * the systemd unit passes `systemd-analyze verify` with no warning, has the settings
//!   the unit needs, and the daemon tells systemd it is ready (`READY=1`) once it serves;
//! * the Kubernetes manifests parse, hold the fields the DaemonSet and the pod need, and
//!   pass `kubernetes-validate --strict` (a schema check) when it is installed;
//! * the LXC hook is valid `sh`, the config names it, `mounts --docker` prints one flag
//!   per file this host has that OCI runtimes accept, `mounts --nspawn` one per file;
//! * every manual page renders without a groff warning, the completions load in bash,
//!   and `--version` names the version and the features.
//!
//! A tool that is missing is reported as a skip (`testkit::real::skipped`), not a pass.

#![allow(clippy::disallowed_methods)] // reads generated pages and the mount, not the kernel

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use testkit::real::{skip, skipped, Daemon};

fn vproc(args: &[&str]) -> String {
    let out = testkit::vproc_command(env!("CARGO_BIN_EXE_vproc"))
        .args(args)
        .output()
        .expect("run vproc");
    assert!(
        out.status.success(),
        "vproc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Whether `program` can be run (`program --version` succeeds; under qemu-user a
/// missing program can look spawned and exit 127).
fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Run `program args` with `input` on stdin.
fn run_with_input(program: &str, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn systemd_unit_verifies_cleanly() {
    let unit = vproc(&[
        "deploy",
        "systemd",
        "--binary",
        env!("CARGO_BIN_EXE_vproc"),
        "--args",
        "-l",
    ]);
    for line in [
        "Type=notify\n",
        "ExecStartPre=-/bin/mkdir -p /var/lib/lxcfs\n",
        &format!("ExecStart={} -l /var/lib/lxcfs\n", env!("CARGO_BIN_EXE_vproc")),
        "ExecReload=/bin/kill -USR1 $MAINPID\n",
        "Restart=on-failure\n",
        "OOMScoreAdjust=-1000\n",
        "Delegate=yes\n",
        "KillMode=mixed\n",
        "Before=lxc.service lxd.service incus.service podman.service containerd.service docker.service\n",
    ] {
        assert!(unit.contains(line), "{line:?} not in the unit:\n{unit}");
    }
    if !have("systemd-analyze") {
        skipped(
            "systemd_unit_verifies_cleanly",
            "systemd-analyze is not installed (apt-get install systemd)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vproc.service");
    std::fs::write(&path, &unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    // Unknown keys and bad values are warnings with exit 0: any output is a failure.
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {complaints}");
    assert_eq!(complaints, "", "systemd-analyze verify complained");
}

/// A `Type=notify` unit only counts as started once the daemon says so: vproc sends
/// `READY=1` to `$NOTIFY_SOCKET` when its mount serves.
#[test]
fn the_daemon_notifies_systemd_when_it_serves() {
    if skip("the_daemon_notifies_systemd_when_it_serves") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let daemon = Daemon::start_with_env(
        env!("CARGO_BIN_EXE_vproc"),
        &[],
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())],
    );
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("READY=1 within 10 s");
    assert_eq!(&buf[..n], b"READY=1");
    // It was sent once the mount answers.
    assert!(std::fs::read_to_string(daemon.mnt.join("proc/uptime")).is_ok());
}

/// The Python check run over `vproc deploy kubernetes`: the fields the DaemonSet and
/// the pod need, and that every file the pod binds is one vproc serves.
const K8S_CHECK: &str = r#"
import sys, yaml
mountpoint, served = sys.argv[1], set(sys.argv[2].split())
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
kinds = {d["kind"]: d for d in docs}
assert set(kinds) == {"Namespace", "DaemonSet", "Pod"}, sorted(kinds)
ds = kinds["DaemonSet"]
assert ds["apiVersion"] == "apps/v1"
assert ds["spec"]["updateStrategy"]["type"] == "OnDelete"
tpl = ds["spec"]["template"]
assert ds["spec"]["selector"]["matchLabels"].items() <= tpl["metadata"]["labels"].items()
spec = tpl["spec"]
assert spec["hostPID"] is True
(c,) = spec["containers"]
assert c["securityContext"]["privileged"] is True
assert c["command"][-1] == mountpoint, c["command"]
probe = c["readinessProbe"]["exec"]["command"]
assert probe[-1].startswith(mountpoint + "/proc/"), probe
volumes = {v["name"]: v for v in spec["volumes"]}
mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
m = mounts[mountpoint]
assert m["mountPropagation"] == "Bidirectional"
assert volumes[m["name"]]["hostPath"]["path"] == mountpoint
pod = kinds["Pod"]["spec"]
pod_volumes = {v["name"]: v for v in pod["volumes"]}
(app,) = pod["containers"]
bound = set()
for m in app["volumeMounts"]:
    host = pod_volumes[m["name"]]["hostPath"]
    assert m["readOnly"] is True
    assert host["path"] == mountpoint + m["mountPath"], (host, m)
    rel = m["mountPath"].lstrip("/")
    assert host["type"] == ("Directory" if rel == "sys/devices/system/cpu" else "File"), host
    bound.add(rel)
assert bound == served, (sorted(bound), sorted(served))
print("ok", len(docs), "documents,", len(bound), "bound files")
"#;

#[test]
fn kubernetes_manifests_are_valid() {
    let mountpoint = "/var/lib/lxcfs";
    let manifests = vproc(&["deploy", "kubernetes", "--mountpoint", mountpoint]);
    // The pod binds what an OCI runtime accepts: what `mounts --docker` prints.
    let served = vproc(&["mounts", "--docker", "--mountpoint", mountpoint])
        .split_whitespace()
        .filter(|w| *w != "-v")
        .map(|w| {
            w.split(':')
                .nth(1)
                .unwrap()
                .trim_start_matches('/')
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join(" ");
    assert!(!served.contains("pressure"), "{served}");
    let yaml = Command::new("python3")
        .args(["-c", "import yaml"])
        .status()
        .is_ok_and(|s| s.success());
    if !yaml {
        skipped(
            "kubernetes_manifests_are_valid",
            "python3 with PyYAML is not installed (apt-get install python3-yaml)",
        );
        return;
    }
    let out = run_with_input(
        "python3",
        &["-c", K8S_CHECK, mountpoint, &served],
        &manifests,
    );
    assert!(
        out.status.success(),
        "manifest check failed:\n{}\n{manifests}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok 3 documents,"));

    // The schema check, offline: PyPI's kubernetes-validate (ci/deps.sh installs it).
    let validator =
        std::env::var("VPROC_K8S_VALIDATE").unwrap_or_else(|_| "kubernetes-validate".into());
    if !have(&validator) {
        skipped(
            "kubernetes_manifests_are_valid (schema)",
            "kubernetes-validate is not installed (pip install kubernetes-validate; or set VPROC_K8S_VALIDATE)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vproc.yaml");
    std::fs::write(&path, &manifests).unwrap();
    let out = Command::new(&validator)
        .arg("--strict")
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kubernetes-validate --strict:\n{report}"
    );
    assert_eq!(
        report.matches(" passed for resource ").count(),
        3,
        "{report}"
    );
}

#[test]
fn lxc_hook_and_docker_flags_bind_what_this_host_has() {
    let mounts = vproc(&["mounts"]);
    let paths: Vec<&str> = mounts
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().trim_start_matches('/'))
        .collect();
    // Every line binds vproc's file over the container's own.
    for (line, p) in mounts.lines().zip(&paths) {
        assert_eq!(line, format!("/var/lib/lxcfs/{p} /{p}"));
        assert!(Path::new("/").join(p).exists(), "{p} bound but absent here");
    }
    assert!(paths.contains(&"proc/meminfo") && paths.contains(&"sys/devices/system/cpu"));
    // runc (and so Docker, Podman, containerd) refuses binds over /proc/pressure/*.
    let flags = vproc(&["mounts", "--docker", "--mountpoint", "/srv/vproc"]);
    let expected: Vec<String> = paths
        .iter()
        .filter(|p| !p.starts_with("proc/pressure/"))
        .map(|p| format!("-v /srv/vproc/{p}:/{p}:ro"))
        .collect();
    assert_eq!(flags.trim_end(), expected.join(" "));
    // nspawn: the directory at its own path, then every file.
    let flags = vproc(&["mounts", "--nspawn", "--mountpoint", "/srv/vproc"]);
    let expected: Vec<String> = std::iter::once("--bind-ro=/srv/vproc".to_owned())
        .chain(
            paths
                .iter()
                .map(|p| format!("--bind-ro=/srv/vproc/{p}:/{p}")),
        )
        .collect();
    assert_eq!(flags.trim_end(), expected.join(" "));

    let hook = vproc(&["deploy", "lxc-hook", "--mountpoint", "/srv/vproc"]);
    let files: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| p.starts_with("proc/"))
        .collect();
    assert!(
        hook.contains(&format!("for rel in {}; do\n", files.join(" "))),
        "{hook}"
    );
    assert!(
        hook.contains("VPROC_DIR=\"${VPROC_DIR:-/srv/vproc}\"\n"),
        "{hook}"
    );
    let out = run_with_input("sh", &["-n"], &hook);
    assert!(
        out.status.success(),
        "sh -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = vproc(&[
        "deploy",
        "lxc-config",
        "--hook",
        "/usr/local/share/vproc/hook",
    ]);
    assert!(
        config.contains("\nlxc.hook.mount = /usr/local/share/vproc/hook\n"),
        "{config}"
    );
}

#[test]
fn manual_pages_and_completions_render() {
    let version = vproc(&["--version"]);
    let mut lines = version.lines();
    assert_eq!(
        lines.next(),
        Some(concat!("vproc ", env!("CARGO_PKG_VERSION")))
    );
    assert!(version.contains("\nfeatures: "), "{version}");
    assert!(version.contains(" proc/meminfo "), "{version}");

    let dir = tempfile::tempdir().unwrap();
    vproc(&["man", "--dir", dir.path().to_str().unwrap()]);
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "vproc-completions.1",
            "vproc-deploy-kubernetes.1",
            "vproc-deploy-lxc-config.1",
            "vproc-deploy-lxc-hook.1",
            "vproc-deploy-systemd.1",
            "vproc-deploy.1",
            "vproc-inspect.1",
            "vproc-man.1",
            "vproc-mounts.1",
            "vproc-upgrade.1",
            "vproc.1",
        ]
    );
    let main_page = vproc(&["man"]);
    assert_eq!(
        main_page,
        std::fs::read_to_string(dir.path().join("vproc.1")).unwrap()
    );
    for section in [
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        ".SH SIGNALS",
        ".SH FILES",
        "\\-\\-enable\\-loadavg",
    ] {
        assert!(main_page.contains(section), "{section} not in vproc.1");
    }
    if have("groff") {
        for page in &pages {
            let out = Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .arg(dir.path().join(page))
                .output()
                .unwrap();
            let warnings = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && warnings.is_empty(),
                "{page}: {warnings}"
            );
        }
    } else {
        skipped(
            "manual_pages_and_completions_render (groff)",
            "groff is not installed",
        );
    }

    let script = dir.path().join("vproc.bash");
    std::fs::write(&script, vproc(&["completions", "bash"])).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p vproc", script.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(" vproc"));
    for shell in ["zsh", "fish"] {
        assert!(vproc(&["completions", shell]).contains("inspect"));
    }
}
