//! [`HostSource`]: the real filesystem. This is the only module that opens files.
#![allow(clippy::disallowed_methods)]

use super::{Metadata, NodeKind, Source, MAX_FILE_BYTES};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Reads kernel paths from the real filesystem, below `root` (`/` in production; a
/// fixture directory in tests).
#[derive(Clone, Debug)]
pub struct HostSource {
    root: PathBuf,
}

impl Default for HostSource {
    fn default() -> Self {
        Self::new()
    }
}

impl HostSource {
    /// The machine's own `/`.
    pub fn new() -> Self {
        Self::rooted("/")
    }

    /// Kernel paths resolved below `root` (used by the testkit's fixture trees).
    pub fn rooted(root: impl AsRef<Path>) -> Self {
        HostSource {
            root: root.as_ref().to_path_buf(),
        }
    }

    fn map(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

impl Source for HostSource {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        fs::File::open(self.map(path))?
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut out)?;
        Ok(out)
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let mut names = fs::read_dir(self.map(path))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        names.sort();
        Ok(names)
    }

    fn read_link(&self, path: &str) -> io::Result<String> {
        Ok(fs::read_link(self.map(path))?
            .to_string_lossy()
            .into_owned())
    }

    fn metadata(&self, path: &str) -> io::Result<Metadata> {
        let meta = fs::symlink_metadata(self.map(path))?;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            NodeKind::Dir
        } else if ft.is_symlink() {
            NodeKind::Symlink
        } else {
            NodeKind::File
        };
        Ok(Metadata {
            kind,
            mode: meta.permissions().mode() & 0o7777,
        })
    }
}

const _: () = {
    const fn assert_source<T: Source>() {}
    assert_source::<HostSource>();
};
