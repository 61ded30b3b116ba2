//! The engine's one error type: what failed, with the path, and the errno a FUSE reply
//! carries for it. Each variant means one thing.

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
    /// No hierarchy serves this controller on this host (`cpuset` on a hybrid host whose
    /// cgroup2 mount has no controllers, for instance).
    NoHierarchy {
        /// The controller's v1 name.
        controller: &'static str,
    },
    /// The cgroup does not exist (any more), or only the root cgroup accounts it.
    CgroupGone {
        /// The cgroup directory looked for.
        path: String,
    },
    /// No such node in the virtual tree.
    NoSuchNode,
    /// The node is a directory where a file was expected.
    IsDir,
    /// The node is a file where a directory was expected.
    NotDir,
    /// `readlink` of a node that is not a symbolic link.
    NotALink,
    /// The filesystem is read-only: truncates and metadata changes are refused (EPERM).
    ReadOnly,
    /// A write to a file that accepts none (LXCFS answers EINVAL).
    InvalidWrite,
    /// An unknown file handle.
    BadHandle,
    /// Permission denied (writes to `/sys` files, write/execute access checks).
    AccessDenied,
    /// The operation does not exist on this filesystem (create, unlink, rename, ...).
    NotSupported,
    /// The node exists but cannot be served now (`/sys` while virtualisation is off).
    Unavailable,
    /// The sampler did not deliver a first snapshot within the request's time budget.
    SamplerTimeout,
    /// Too many files open at once.
    TooManyOpen,
}

impl Error {
    /// Attach a path to an I/O error.
    pub(crate) fn io(path: &str, source: io::Error) -> Self {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// A parse failure of the file at `path`.
    pub(crate) fn parse(path: &str, what: impl Into<String>) -> Self {
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
            Error::Parse { .. } | Error::Unavailable | Error::SamplerTimeout => libc::EIO,
            Error::NoHierarchy { .. } | Error::CgroupGone { .. } | Error::NoSuchNode => {
                libc::ENOENT
            }
            Error::IsDir => libc::EISDIR,
            Error::NotDir => libc::ENOTDIR,
            Error::NotALink | Error::InvalidWrite => libc::EINVAL,
            Error::ReadOnly => libc::EPERM,
            Error::BadHandle => libc::EBADF,
            Error::AccessDenied => libc::EACCES,
            Error::NotSupported => libc::ENOSYS,
            Error::TooManyOpen => libc::EMFILE,
        }
    }

    /// True when the file or cgroup simply does not exist (a controller file missing at
    /// this level, a removed cgroup), as opposed to existing with bad content.
    pub(crate) fn is_missing(&self) -> bool {
        match self {
            Error::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            Error::NoHierarchy { .. } | Error::CgroupGone { .. } => true,
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Parse { path, what } => write!(f, "{path}: {what}"),
            Error::NoHierarchy { controller } => {
                write!(f, "no cgroup hierarchy serves the {controller} controller")
            }
            Error::CgroupGone { path } => write!(f, "{path}: cgroup gone"),
            Error::NoSuchNode => f.write_str("no such file or directory"),
            Error::IsDir => f.write_str("is a directory"),
            Error::NotDir => f.write_str("not a directory"),
            Error::NotALink => f.write_str("not a symbolic link"),
            Error::ReadOnly => f.write_str("read-only filesystem"),
            Error::InvalidWrite => f.write_str("file does not accept writes"),
            Error::BadHandle => f.write_str("unknown file handle"),
            Error::AccessDenied => f.write_str("permission denied"),
            Error::NotSupported => f.write_str("operation not supported"),
            Error::Unavailable => f.write_str("not available while virtualisation is off"),
            Error::SamplerTimeout => f.write_str("no snapshot within the request time budget"),
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
