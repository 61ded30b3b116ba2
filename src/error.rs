//! The crate's one error type, with the path that failed and an errno for the FUSE edge.

use std::fmt;
use std::io;

/// Everything that can go wrong below the FUSE adapter.
#[derive(Debug)]
pub enum Error {
    /// Reading a kernel file failed.
    Io {
        /// Kernel path that was read.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A kernel file had unexpected content.
    Parse {
        /// Kernel path whose content did not parse.
        path: String,
        /// What was wrong.
        what: String,
    },
    /// No such node in the virtual tree.
    NotFound,
    /// The node is a directory where a file was expected.
    IsDir,
    /// The node is a file where a directory was expected.
    NotDir,
    /// The filesystem is read-only: writes, truncates and metadata changes are refused.
    ReadOnly,
    /// A write to a file that accepts none (LXCFS answers EINVAL).
    InvalidWrite,
    /// A read past the end of the rendered buffer (LXCFS answers EINVAL).
    BadOffset,
    /// An unknown file handle.
    BadHandle,
    /// Permission denied (writes to `/sys` files, write/execute access checks).
    AccessDenied,
    /// The operation does not exist on this filesystem (create, unlink, rename, ...).
    NotSupported,
    /// Extended attributes are not supported.
    NoXattr,
    /// The node exists but cannot be served now (`/sys` while virtualisation is off).
    Unavailable,
    /// Too many files open at once.
    TooManyOpen,
}

impl Error {
    /// Attach a path to an I/O error.
    pub fn io(path: &str, source: io::Error) -> Self {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// A parse failure of the file at `path`.
    pub fn parse(path: &str, what: impl Into<String>) -> Self {
        Error::Parse {
            path: path.to_owned(),
            what: what.into(),
        }
    }

    /// The errno a FUSE reply carries for this error.
    pub fn errno(&self) -> i32 {
        use nix::libc;
        match self {
            Error::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            Error::Parse { .. } => libc::EIO,
            Error::NotFound => libc::ENOENT,
            Error::IsDir => libc::EISDIR,
            Error::NotDir => libc::ENOTDIR,
            Error::ReadOnly => libc::EPERM,
            Error::InvalidWrite | Error::BadOffset => libc::EINVAL,
            Error::BadHandle => libc::EBADF,
            Error::AccessDenied => libc::EACCES,
            Error::NotSupported => libc::ENOSYS,
            Error::NoXattr => libc::EOPNOTSUPP,
            Error::Unavailable => libc::EIO,
            Error::TooManyOpen => libc::EMFILE,
        }
    }

    /// True when the underlying file does not exist (a missing controller file).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
            || matches!(self, Error::NotFound)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Parse { path, what } => write!(f, "{path}: {what}"),
            Error::NotFound => f.write_str("no such file or directory"),
            Error::IsDir => f.write_str("is a directory"),
            Error::NotDir => f.write_str("not a directory"),
            Error::ReadOnly => f.write_str("read-only filesystem"),
            Error::InvalidWrite => f.write_str("file does not accept writes"),
            Error::BadOffset => f.write_str("offset beyond end of file"),
            Error::BadHandle => f.write_str("unknown file handle"),
            Error::AccessDenied => f.write_str("permission denied"),
            Error::NotSupported => f.write_str("operation not supported"),
            Error::NoXattr => f.write_str("extended attributes not supported"),
            Error::Unavailable => f.write_str("not available while virtualisation is off"),
            Error::TooManyOpen => f.write_str("too many open files"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Result with the crate's error.
pub type Result<T> = std::result::Result<T, Error>;
