//! The real-kernel helpers of `testkit::real`, plus this package's daemon binary.
#![allow(dead_code)]

pub use testkit::real::*;

/// vproc (this build) with extra options.
pub fn vproc(args: &[&str]) -> Daemon {
    Daemon::start(env!("CARGO_BIN_EXE_vproc"), args)
}
