//! vproc: per-container views of `/proc` and `/sys/devices/system/cpu`, a drop-in
//! successor to LXCFS.
//!
//! # Pipeline
//!
//! ```text
//!  kernel files ──► source ──► parse ──► cgroup ──► sampler ──► snapshot ──► render ──► vfs ──► fs (FUSE)
//!  (/proc, /sys)   (I/O only)  (text→types) (v1/v2 getters) (collect+publish) (plain data) (bytes) (nodes, handles)
//! ```
//!
//! Each stage has one job and a narrow set of imports:
//!
//! | module     | job                                                    | may not use                      |
//! |------------|--------------------------------------------------------|----------------------------------|
//! | `source`   | the only way to read the kernel (`Source` trait)       | `parse` and everything above     |
//! | `parse`    | pure text → typed values; never sees a path            | `source`, clocks, `std::fs`      |
//! | `cgroup`   | layout detection, v1/v2 files behind semantic getters  | `snapshot`, `render`             |
//! | `identity` | reader pid → container cgroups (+ its init)            | `render`                         |
//! | `sampler`  | collect cgroup + host data, publish snapshots          | `render`, `vfs`                  |
//! | `snapshot` | immutable plain data, published through arc-swap       | any I/O, clocks                  |
//! | `render`   | pure snapshot → bytes, one function per virtual file   | `source`, `sampler`, clocks      |
//! | `vfs`      | the node table and per-open handles                    | `source::host`, FUSE             |
//!
//! The read path (`vfs::Vfs::open` → `render` → `vfs::Vfs::read`) takes no lock and does
//! no cgroup I/O once a container's snapshot exists: the sampler thread keeps the
//! snapshots of containers that are being read fresh, and a handle serves every offset
//! from the bytes rendered at open (the kernel's `single_open` semantics).
//!
//! Public items exist for the `testkit` crate (the fake kernel) and for the binary.
#![forbid(unsafe_code)]

pub mod cgroup;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod error;
pub mod fs;
pub mod identity;
pub mod logger;
pub mod parse;
pub mod render;
pub mod sampler;
pub mod snapshot;
pub mod source;
pub mod vfs;
