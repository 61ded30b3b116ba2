//! What users paste into their container stack, generated from what this vproc serves:
//! `docker`/`podman` flags, the LXC/Incus mount hook and config snippet, the systemd
//! unit, the Kubernetes DaemonSet with an example pod. One list of files (the node table)
//! feeds them all, so a new file reaches every stack at once.

use crate::render::VirtualFile;
use crate::source::Source;
use std::fmt::Write;

const SYS_CPU: &str = "sys/devices/system/cpu";

/// The files a container should get from vproc: every served `proc/` file whose
/// counterpart exists on this host (binding over a file the container's kernel does not
/// have fails: `/proc/pressure` needs PSI), then the `sys/devices/system/cpu` directory.
pub(crate) fn bind_paths(host: &dyn Source) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = VirtualFile::ALL
        .iter()
        .map(|f| f.path())
        .filter(|p| p.starts_with("proc/"))
        .filter(|p| host.metadata(&format!("/{p}")).is_ok())
        .collect();
    if host.metadata(&format!("/{SYS_CPU}")).is_ok() {
        out.push(SYS_CPU);
    }
    out
}

/// The files below `/proc` an OCI runtime lets a container bind over (runc's
/// `checkProcMount` allow-list, which crun and containerd's CRI follow): `proc/pressure/*`
/// is not among them, and a container given one does not start.
const OCI_PROC_ALLOWED: [&str; 8] = [
    "proc/cpuinfo",
    "proc/diskstats",
    "proc/meminfo",
    "proc/stat",
    "proc/swaps",
    "proc/uptime",
    "proc/loadavg",
    "proc/slabinfo",
];

/// `paths` an OCI runtime (Docker, Podman, Kubernetes) accepts as bind targets.
pub(crate) fn oci_paths<'a>(paths: &[&'a str]) -> Vec<&'a str> {
    paths
        .iter()
        .copied()
        .filter(|p| !p.starts_with("proc/") || OCI_PROC_ALLOWED.contains(p))
        .collect()
}

/// `-v host:container:ro` flags for `docker run` / `podman run` (OCI runtimes' subset).
pub(crate) fn docker_flags(mountpoint: &str, paths: &[&str]) -> String {
    let mut out = String::new();
    for p in oci_paths(paths) {
        let _ = write!(out, "-v {mountpoint}/{p}:/{p}:ro ");
    }
    out.trim_end().to_owned()
}

/// `--bind-ro` flags for `systemd-nspawn`: nspawn resolves the source of a bind below
/// `/proc` inside the container, so vproc's directory is bound at its own path first.
pub(crate) fn nspawn_flags(mountpoint: &str, paths: &[&str]) -> String {
    let mut out = format!("--bind-ro={mountpoint}");
    for p in paths {
        let _ = write!(out, " --bind-ro={mountpoint}/{p}:/{p}");
    }
    out
}

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter()
        .fold(template.to_owned(), |t, (k, v)| t.replace(k, v))
}

/// The LXC/Incus mount hook.
pub(crate) fn lxc_hook(mountpoint: &str, paths: &[&str]) -> String {
    let files: Vec<&str> = paths.iter().copied().filter(|p| *p != SYS_CPU).collect();
    fill(
        include_str!("deploy/lxc-mount-hook.sh"),
        &[("@MOUNTPOINT@", mountpoint), ("@FILES@", &files.join(" "))],
    )
}

/// The LXC config snippet that runs the hook.
pub(crate) fn lxc_config(hook: &str) -> String {
    fill(include_str!("deploy/lxc.conf"), &[("@HOOK@", hook)])
}

/// The systemd unit (`binary` and `args` are the command line before the mount point).
pub(crate) fn systemd_unit(binary: &str, args: &str, mountpoint: &str) -> String {
    let args = if args.is_empty() {
        String::new()
    } else {
        format!("{args} ")
    };
    fill(
        include_str!("deploy/vproc.service"),
        &[
            ("@BINARY@", binary),
            ("@ARGS@", &args),
            ("@MOUNTPOINT@", mountpoint),
        ],
    )
}

/// The Kubernetes DaemonSet and an example pod binding `paths`.
pub(crate) fn kubernetes(image: &str, mountpoint: &str, paths: &[&str]) -> String {
    let (mut mounts, mut volumes) = (String::new(), String::new());
    for p in oci_paths(paths) {
        let name = format!("vproc-{}", p.replace(['/', '_'], "-"));
        let kind = if p == SYS_CPU { "Directory" } else { "File" };
        let _ = writeln!(
            mounts,
            "        - name: {name}\n          mountPath: /{p}\n          readOnly: true"
        );
        let _ = writeln!(
            volumes,
            "    - name: {name}\n      hostPath:\n        path: {mountpoint}/{p}\n        type: {kind}"
        );
    }
    fill(
        include_str!("deploy/kubernetes.yaml"),
        &[
            ("@IMAGE@", image),
            ("@MOUNTPOINT@", mountpoint),
            ("@POD_MOUNTS@", mounts.trim_end()),
            ("@POD_VOLUMES@", volumes.trim_end()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::mem::MemSource;

    fn host() -> MemSource {
        let mut m = MemSource::new();
        for f in ["meminfo", "cpuinfo", "stat", "uptime", "pressure/cpu"] {
            m.file(&format!("/proc/{f}"), "x");
        }
        m.file("/sys/devices/system/cpu/online", "0-1\n");
        m
    }

    #[test]
    fn only_files_the_host_has_are_bound() {
        let paths = bind_paths(&host());
        assert_eq!(
            paths,
            vec![
                "proc/meminfo",
                "proc/cpuinfo",
                "proc/stat",
                "proc/uptime",
                "proc/pressure/cpu",
                "sys/devices/system/cpu"
            ]
        );
        assert_eq!(
            docker_flags("/var/lib/lxcfs", &paths[..2]),
            "-v /var/lib/lxcfs/proc/meminfo:/proc/meminfo:ro -v /var/lib/lxcfs/proc/cpuinfo:/proc/cpuinfo:ro"
        );
        // runc refuses binds over /proc/pressure/*: OCI outputs leave them out.
        assert_eq!(
            oci_paths(&paths),
            [
                "proc/meminfo",
                "proc/cpuinfo",
                "proc/stat",
                "proc/uptime",
                "sys/devices/system/cpu"
            ]
        );
        assert_eq!(
            nspawn_flags("/v", &paths[..1]),
            "--bind-ro=/v --bind-ro=/v/proc/meminfo:/proc/meminfo"
        );
    }

    #[test]
    fn templates_are_filled_completely() {
        let paths = bind_paths(&host());
        for text in [
            lxc_hook("/var/lib/lxcfs", &paths),
            lxc_config("/usr/share/vproc/lxc.mount.hook"),
            systemd_unit("/usr/bin/vproc", "-l", "/var/lib/lxcfs"),
            kubernetes("vproc:latest", "/var/lib/lxcfs", &paths),
        ] {
            assert!(!text.contains('@'), "unfilled placeholder in:\n{text}");
        }
        let hook = lxc_hook("/var/lib/lxcfs", &paths);
        assert!(hook.contains(
            "for rel in proc/meminfo proc/cpuinfo proc/stat proc/uptime proc/pressure/cpu; do"
        ));
        let unit = systemd_unit("/usr/bin/vproc", "-l", "/var/lib/lxcfs");
        assert!(unit.contains("ExecStart=/usr/bin/vproc -l /var/lib/lxcfs\n"));
        assert!(unit.contains("ExecStartPre=-/bin/mkdir -p /var/lib/lxcfs\n"));
    }
}
