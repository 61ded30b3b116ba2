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

/// `-v host:container:ro` flags for `docker run` / `podman run`.
pub(crate) fn docker_flags(mountpoint: &str, paths: &[&str]) -> String {
    let mut out = String::new();
    for p in paths {
        let _ = write!(out, "-v {mountpoint}/{p}:/{p}:ro ");
    }
    out.trim_end().to_owned()
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
    for p in paths {
        let name = format!("vproc-{}", p.replace(['/', '_'], "-"));
        let kind = if *p == SYS_CPU { "Directory" } else { "File" };
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
