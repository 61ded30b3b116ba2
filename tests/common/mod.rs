//! The real-kernel helpers of `testkit::real`, plus this package's daemon binary.
#![allow(dead_code)]

pub(crate) use testkit::real::*;

/// vproc (this build, or the binary named by `VPROC_TEST_BIN`, to run the same tests
/// against another version) with extra options.
pub(crate) fn vproc(args: &[&str]) -> Daemon {
    let bin =
        std::env::var("VPROC_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_vproc").to_owned());
    Daemon::start(&bin, args)
}
