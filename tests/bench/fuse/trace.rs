//! Kernel FUSE requests per operation, counted with the `fuse/fuse_request_send` and
//! `fuse/fuse_request_end` tracepoints. They run in a private tracefs instance
//! (`instances/vproc-bench-<pid>`), filtered on one connection: the global tracing state
//! is never touched, and removing the instance restores everything.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const EVENTS: [&str; 2] = ["fuse_request_send", "fuse_request_end"];

/// The id the tracepoints give a FUSE connection: the kernel's `dev_t` of the mount
/// (`major << 20 | minor`, not the user-space encoding of `st_dev`).
pub(crate) fn connection(mnt: &Path) -> std::io::Result<u32> {
    let dev = fs::metadata(mnt)?.dev();
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    Ok(((major << 20) | minor) as u32)
}

/// A tracefs instance with the FUSE request events; removed on drop.
pub(crate) struct Tracer {
    dir: PathBuf,
}

/// The requests seen on one connection.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    /// Requests sent, by opcode name without `FUSE_` (`LOOKUP`, `READ`...).
    pub(crate) sent: BTreeMap<String, u64>,
    /// Replies carrying an error, by opcode name and errno (positive).
    pub(crate) failed: BTreeMap<(String, i32), u64>,
    /// Whether the ring buffer lost events (the counts are then too low).
    pub(crate) lost: bool,
}

impl Tracer {
    /// A new instance, or why there cannot be one.
    pub(crate) fn new() -> Result<Tracer, String> {
        let root = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .into_iter()
            .map(Path::new)
            .find(|r| r.join("events/fuse/fuse_request_send").exists())
            .ok_or("no tracefs with the fuse/fuse_request_send event: the kernel lacks FUSE tracepoints or tracefs is not mounted at /sys/kernel/tracing")?;
        let dir = root
            .join("instances")
            .join(format!("vproc-bench-{}", std::process::id()));
        fs::create_dir(&dir)
            .map_err(|e| format!("cannot create the tracefs instance {}: {e}", dir.display()))?;
        Ok(Tracer { dir })
    }

    fn set(&self, rel: &str, value: &str) -> Result<(), String> {
        let path = self.dir.join(rel);
        fs::write(&path, value).map_err(|e| format!("writing {value:?} to {}: {e}", path.display()))
    }

    fn enable(&self, on: bool) -> Result<(), String> {
        for ev in EVENTS {
            self.set(
                &format!("events/fuse/{ev}/enable"),
                if on { "1" } else { "0" },
            )?;
        }
        Ok(())
    }

    /// The requests that `work` causes on connection `conn`.
    pub(crate) fn count(&self, conn: u32, work: impl FnOnce()) -> Result<Requests, String> {
        for ev in EVENTS {
            self.set(
                &format!("events/fuse/{ev}/filter"),
                &format!("connection == {conn}"),
            )?;
        }
        self.set("trace", "")?; // truncating the file empties the ring buffer
        self.enable(true)?;
        work();
        self.enable(false)?;
        let text = fs::read_to_string(self.dir.join("trace"))
            .map_err(|e| format!("reading {}/trace: {e}", self.dir.display()))?;
        Ok(parse(&text, conn))
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        let _ = self.enable(false);
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Parse the `trace` file:
/// `fuse_request_send: connection 39 req 6 opcode 15 (FUSE_READ) len 80` and
/// `fuse_request_end: connection 39 req 6 len 16 error -38`.
fn parse(text: &str, conn: u32) -> Requests {
    let mut r = Requests::default();
    let mut opcode_of: HashMap<u64, String> = HashMap::new();
    let conn = conn.to_string();
    for line in text.lines() {
        if let Some(counts) = line.strip_prefix("# entries-in-buffer/entries-written:") {
            let mut n = counts.split_whitespace().next().unwrap_or("").split('/');
            r.lost = n.next() != n.next();
            continue;
        }
        let (send, rest) = match (
            line.split_once("fuse_request_send: "),
            line.split_once("fuse_request_end: "),
        ) {
            (Some((_, rest)), _) => (true, rest),
            (_, Some((_, rest))) => (false, rest),
            _ => continue,
        };
        let w: Vec<&str> = rest.split_whitespace().collect();
        if w.get(1) != Some(&conn.as_str()) {
            continue;
        }
        let Some(unique) = w.get(3).and_then(|u| u.parse().ok()) else {
            continue;
        };
        if send {
            let name = w
                .get(6)
                .map(|n| n.trim_matches(['(', ')']).trim_start_matches("FUSE_"))
                .unwrap_or("?")
                .to_owned();
            *r.sent.entry(name.clone()).or_default() += 1;
            opcode_of.insert(unique, name);
        } else if let Some(err) = w.get(7).and_then(|e| e.parse::<i32>().ok()) {
            if err != 0 {
                let name = opcode_of.get(&unique).cloned().unwrap_or("?".into());
                *r.failed.entry((name, -err)).or_default() += 1;
            }
        }
    }
    r
}
