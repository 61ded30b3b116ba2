//! [`Recording`]: a source that remembers everything read through it, so that the inputs
//! of one container's view can be written out as a fixture (`vproc inspect --capture`)
//! and replayed (`vproc inspect --root`, the testkit).
//!
//! Invariant: a file or link is read from the kernel once; every later read of the same
//! path returns the recorded bytes. An inspection therefore computes every file from one
//! set of inputs, the very set its capture writes out, so a replay reproduces it exactly.

use super::{Metadata, NodeKind, Source, TaskPin};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

/// One thing read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Recorded {
    File(Vec<u8>),
    Link(String),
    Dir,
}

/// Wraps a source; every successful read, link and listing is recorded by path, and
/// files and links are served from the record after their first read.
pub(crate) struct Recording {
    inner: Arc<dyn Source>,
    seen: Mutex<BTreeMap<String, Recorded>>,
}

impl Recording {
    pub(crate) fn new(inner: Arc<dyn Source>) -> Recording {
        Recording {
            inner,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    fn recalled(&self, path: &str) -> Option<Recorded> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .cloned()
    }

    fn note(&self, path: &str, what: Recorded) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(path.to_owned())
            .or_insert(what);
    }

    /// Everything read so far, by kernel path.
    pub(crate) fn recorded(&self) -> BTreeMap<String, Recorded> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Source for Recording {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        if let Some(Recorded::File(data)) = self.recalled(path) {
            return Ok(data);
        }
        let data = self.inner.read(path)?;
        self.note(path, Recorded::File(data.clone()));
        Ok(data)
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let names = self.inner.read_dir(path)?;
        self.note(path, Recorded::Dir);
        Ok(names)
    }

    fn read_link(&self, path: &str) -> io::Result<String> {
        if let Some(Recorded::Link(target)) = self.recalled(path) {
            return Ok(target);
        }
        let target = self.inner.read_link(path)?;
        self.note(path, Recorded::Link(target.clone()));
        Ok(target)
    }

    fn metadata(&self, path: &str) -> io::Result<Metadata> {
        let m = self.inner.metadata(path)?;
        if m.kind == NodeKind::Dir {
            self.note(path, Recorded::Dir);
        }
        Ok(m)
    }

    fn pin_task(&self, pid: u32) -> io::Result<TaskPin> {
        // The start time pins the task in the capture too (its stat file is recorded).
        let pin = self.inner.pin_task(pid)?;
        let _ = self.read(&format!("/proc/{pid}/stat"));
        Ok(pin)
    }

    fn task_alive(&self, pin: &TaskPin) -> bool {
        self.inner.task_alive(pin)
    }
}
