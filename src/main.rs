//! `vproc`: mount per-container `/proc` and `/sys/devices/system/cpu` views, with
//! LXCFS's command line (`vproc [options] [mountpoint]`, default `/var/lib/lxcfs`).

fn main() -> std::process::ExitCode {
    vproc::cli::main()
}
