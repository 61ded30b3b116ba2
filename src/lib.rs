//! vproc: per-container views of `/proc` and `/sys/devices/system/cpu`, a drop-in
//! successor to LXCFS. `ARCHITECTURE.md` (repository root) describes the pipeline, who
//! owns what and who may call whom; a test holds the code to it.
//!
//! The public items are what the `vproc` binary, the `testkit` crate (the fake kernel)
//! and the integration tests use; everything else is crate-private.
#![deny(unsafe_code)]

pub mod cgroup;
pub mod cli;
pub mod clock;
pub mod config;
mod control;
mod deploy;
pub mod engine;
pub mod error;
mod fs;
mod identity;
mod inspect;
mod logger;
mod os;
pub mod parse;
pub mod render;
mod sampler;
mod server;
pub mod snapshot;
pub mod source;
mod supervisor;
mod sys;
pub mod vfs;
