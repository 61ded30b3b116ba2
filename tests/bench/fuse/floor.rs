//! Building the floor server (`tests/bench/floor/floor.c`) with the system C compiler and
//! libfuse3, into `<target>/floor/floor`. Rebuilt on every run: it takes a fraction of
//! a second and can never be stale.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary, or why it cannot be built (the floor is then skipped).
pub(crate) fn build() -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bench/floor/floor.c");
    // This bench runs as <target>/release/deps/fuse-<hash>.
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or("cannot find the target directory")?;
    let dir = target.join("floor");
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "fuse3"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .ok_or("pkg-config or libfuse3-dev missing (apt-get install pkg-config libfuse3-dev)")?;
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = dir.join("floor");
    let built = Command::new(&cc)
        .args(["-O2", "-Wall", "-Wextra", "-o"])
        .arg(&out)
        .arg(&src)
        .args(flags.split_whitespace())
        .output()
        .map_err(|e| format!("cannot run {cc}: {e} (install a C compiler)"))?;
    if !built.status.success() {
        return Err(format!(
            "{cc} failed on {}: {}",
            src.display(),
            String::from_utf8_lossy(&built.stderr).trim()
        ));
    }
    Ok(out)
}

/// libfuse3's version, for the report.
pub(crate) fn libfuse_version() -> String {
    Command::new("pkg-config")
        .args(["--modversion", "fuse3"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
