//! The only way the engine reads the kernel.
//!
//! Paths are absolute *kernel* paths (`/proc/meminfo`, `/sys/fs/cgroup/memory/x/memory.max`).
//! [`host::HostSource`] maps them onto the real filesystem (optionally below a prefix);
//! [`mem::MemSource`] keeps them in memory for unit tests; the `testkit` crate layers
//! fixture trees. Nothing else in the crate touches the filesystem.

pub mod host;
pub mod mem;

use std::io;

/// What kind of node a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (not followed).
    Symlink,
}

/// The few metadata fields the engine needs (for the `/sys` passthrough).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// File, directory or link.
    pub kind: NodeKind,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
}

/// Read access to a kernel: files, directory listings, links.
///
/// Implementations must be cheap to share between the sampler thread and the FUSE
/// workers; they hold no per-call state.
pub trait Source: Send + Sync {
    /// The whole content of a file (at most [`MAX_FILE_BYTES`]).
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;
    /// The names in a directory, without `.` and `..`, sorted.
    fn read_dir(&self, path: &str) -> io::Result<Vec<String>>;
    /// The target of a symbolic link (`/proc/<pid>/ns/pid` → `pid:[4026531836]`).
    fn read_link(&self, path: &str) -> io::Result<String>;
    /// Kind and mode of a path, without following a final symlink.
    fn metadata(&self, path: &str) -> io::Result<Metadata>;
}

/// Upper bound on what one read returns: no kernel file vproc reads is near this, and a
/// bound keeps a hostile or broken file from exhausting memory.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Read a file as text; invalid UTF-8 is replaced, never an error (the parsers decide
/// whether the text makes sense).
pub fn read_text(source: &dyn Source, path: &str) -> crate::error::Result<String> {
    source
        .read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| crate::error::Error::io(path, e))
}
