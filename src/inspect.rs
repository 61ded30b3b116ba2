//! `vproc inspect`: what a process or a cgroup would read, without a mount.
//!
//! * `--pid N` / `--cgroup PATH` choose the reader (default: this process);
//! * `--explain` adds, per file, how the reader was resolved, which CPUs are visible and
//!   why, every fallback, and every kernel file the values were computed from (with its
//!   content): limit files and their ancestors, host files;
//! * `--capture DIR` writes those inputs as a fixture (the repository's `fixtures/`
//!   format: kernel paths below DIR, a `scenario.toml`), so a user can attach it to a
//!   bug report; `--root DIR` replays one, on any machine, at the captured time.

use crate::clock::{Clock, FixedClock, SystemClock, Timestamp};
use crate::config::Config;
use crate::engine::{Engine, Inspection, Who};
use crate::parse::scenario::{scenario_values, seconds_to_ns};
use crate::render::VirtualFile;
use crate::source::host::HostSource;
use crate::source::record::{Recorded, Recording};
use crate::source::Source;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// What to inspect and how.
pub(crate) struct InspectOptions {
    pub(crate) who: Option<Who>,
    pub(crate) files: Vec<VirtualFile>,
    pub(crate) root: Option<PathBuf>,
    pub(crate) capture: Option<PathBuf>,
    pub(crate) explain: bool,
}

/// Why inspect failed: one line for the user.
#[derive(Debug)]
pub(crate) enum InspectError {
    NoSuchProcess(u32),
    Render(VirtualFile, crate::error::Error),
    Capture(String),
}

impl std::fmt::Display for InspectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InspectError::NoSuchProcess(pid) => write!(
                f,
                "no process with pid {pid} (as seen from vproc's pid namespace)"
            ),
            InspectError::Render(file, e) => write!(f, "{}: {e}", file.path()),
            InspectError::Capture(e) => write!(f, "capture: {e}"),
        }
    }
}

/// One file's report.
fn report(
    file: VirtualFile,
    i: &Inspection,
    inputs: &[(String, Recorded)],
    explain: bool,
    headers: bool,
    out: &mut String,
) {
    if headers {
        let _ = writeln!(out, "==> {} <==", file.path());
    }
    out.push_str(&String::from_utf8_lossy(&i.bytes));
    if explain {
        explanation(i, inputs, out);
    }
    // A blank line between files, as head(1) prints.
    if headers || explain {
        out.push('\n');
    }
}

/// The `--explain` part of one file's report.
fn explanation(i: &Inspection, inputs: &[(String, Recorded)], out: &mut String) {
    let _ = writeln!(out, "--- where this came from");
    let _ = writeln!(out, "reader: {}", i.identity);
    if let Some(cpus) = &i.cpus {
        let _ = writeln!(out, "CPUs: {cpus}");
    }
    if i.fallbacks.is_empty() {
        let _ = writeln!(out, "fallbacks: none");
    }
    for f in &i.fallbacks {
        let _ = writeln!(out, "fallback: {}: {}", f.kind, f.reason);
    }
    let _ = writeln!(out, "read:");
    for (path, what) in inputs {
        let shown = match what {
            Recorded::File(bytes) if bytes.is_empty() => "(empty)".to_owned(),
            Recorded::File(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                let lines = text.lines().count();
                match text.lines().next() {
                    Some(l) if lines == 1 && l.len() <= 72 => l.to_owned(),
                    _ => format!("({lines} lines)"),
                }
            }
            Recorded::Link(t) => format!("-> {t}"),
            Recorded::Dir => "(listed)".to_owned(),
        };
        let _ = writeln!(out, "  {path}: {shown}");
    }
}

fn layout_name(engine: &Engine) -> &'static str {
    match engine.hierarchies().map(|h| h.layout) {
        Some(crate::cgroup::Layout::Unified) => "v2",
        _ => "v1",
    }
}

/// Run `inspect`; returns what to print.
pub(crate) fn run(mut config: Config, opts: InspectOptions) -> Result<String, InspectError> {
    let (source, clock, mut who): (Arc<dyn Source>, Arc<dyn Clock>, Option<Who>) = match &opts.root
    {
        Some(root) => {
            let scenario = crate::os::read_status(&root.join("scenario.toml")).unwrap_or_default();
            let values = scenario_values(&scenario);
            let boot_ns = values
                .get("boot_seconds")
                .and_then(|s| seconds_to_ns(s))
                .unwrap_or(0);
            let who = match (values.get("cgroup"), values.get("reader_pid")) {
                (Some(cg), _) if !cg.is_empty() => Some(Who::Cgroup(cg.clone())),
                (_, Some(pid)) => pid.parse().ok().filter(|p| *p != 0).map(Who::Pid),
                _ => None,
            };
            // The captured options apply on replay; flags given now add to them.
            config.render.enable_cfs |= values.get("enable_cfs").is_some_and(|v| v == "true");
            config.render.enable_loadavg |=
                values.get("enable_loadavg").is_some_and(|v| v == "true");
            let clock = FixedClock(Timestamp {
                mono_ns: boot_ns,
                boot_ns,
            });
            (Arc::new(HostSource::rooted(root)), Arc::new(clock), who)
        }
        // One instant for the whole inspection, the one a capture records.
        None => (
            Arc::new(HostSource::new()),
            Arc::new(FixedClock(SystemClock.now())),
            None,
        ),
    };
    if opts.who.is_some() {
        who = opts.who.clone();
    }
    let who = who.unwrap_or(Who::Pid(std::process::id()));
    let files = if opts.files.is_empty() {
        VirtualFile::ALL.to_vec()
    } else {
        opts.files.clone()
    };
    let headers = files.len() > 1;
    let mut out = String::new();
    // `all` reads each kernel file once (see `Recording`): everything printed and
    // everything captured come from the same inputs. When explaining, each file gets its
    // own engine over its own recording of `all`, so its inputs are exactly its own.
    let all = Arc::new(Recording::new(Arc::clone(&source)));
    let shared = Engine::manual(all.clone(), Arc::clone(&clock), config);
    for file in &files {
        let (inspection, inputs) = if opts.explain {
            let recording = Arc::new(Recording::new(all.clone()));
            let engine = Engine::manual(recording.clone(), Arc::clone(&clock), config);
            let i = engine.inspect(*file, &who);
            (i, recording.recorded().into_iter().collect::<Vec<_>>())
        } else {
            (shared.inspect(*file, &who), Vec::new())
        };
        let i = match inspection {
            // Only a pid can fail to resolve (a cgroup always names a view).
            None => {
                let pid = match &who {
                    Who::Pid(pid) => *pid,
                    Who::Cgroup(_) => 0,
                };
                return Err(InspectError::NoSuchProcess(pid));
            }
            Some(Err(e)) => return Err(InspectError::Render(*file, e)),
            Some(Ok(i)) => i,
        };
        report(*file, &i, &inputs, opts.explain, headers, &mut out);
    }
    if let Some(dir) = &opts.capture {
        let (reader_pid, cgroup) = match &who {
            Who::Pid(pid) => (*pid, String::new()),
            Who::Cgroup(cg) => (0, cg.clone()),
        };
        let now = clock.now();
        let toml = format!(
            "# Captured by `vproc inspect --capture`: replay with `vproc inspect --root <this directory>`.\n\
             host = \"\"\nlayout = \"{}\"\nreader_pid = {reader_pid}\ncgroup = \"{cgroup}\"\n\
             boot_seconds = \"{}.{:09}\"\nenable_cfs = {}\nenable_loadavg = {}\n",
            layout_name(&shared),
            now.boot_ns / 1_000_000_000,
            now.boot_ns % 1_000_000_000,
            config.render.enable_cfs,
            config.render.enable_loadavg,
        );
        let n =
            crate::os::write_capture(dir, &all.recorded(), &toml).map_err(InspectError::Capture)?;
        let _ = writeln!(
            out,
            "captured {n} kernel files into {} (replay: vproc inspect --root {})",
            dir.display(),
            dir.display()
        );
    }
    Ok(out)
}
