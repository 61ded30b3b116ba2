//! Validated settings shared by the sampler, identity and renderers.

/// Whose cgroup a reader sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdentityMode {
    /// LXCFS's rule: the cgroup of the init of the reader's pid namespace.
    #[default]
    Init,
    /// The reader's own cgroup (pods with a shared process namespace).
    Reader,
}

/// Options that change what files show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// `--enable-cfs`: cap visible CPUs at the quota (CPU view).
    pub enable_cfs: bool,
    /// `-u/--disable-swap`: show no swap.
    pub disable_swap: bool,
    /// `-l/--enable-loadavg`: virtualise loadavg.
    pub enable_loadavg: bool,
    /// `--disable-zswap`: zero the Zswap lines.
    pub disable_zswap: bool,
    /// USER_HZ (`sysconf(_SC_CLK_TCK)`), the unit of `/proc/stat` and pid start times.
    pub clock_ticks: u64,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            enable_cfs: false,
            disable_swap: false,
            enable_loadavg: false,
            disable_zswap: false,
            clock_ticks: 100,
        }
    }
}

/// Everything the engine needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Rendering options.
    pub render: RenderOptions,
    /// Identity rule.
    pub identity: IdentityMode,
    /// A read never sees data older than this (ns).
    pub max_staleness_ns: u64,
    /// A container not read for this long is no longer refreshed by the sampler (ns).
    pub active_window_ns: u64,
    /// A container not read for this long is forgotten (ns).
    pub forget_after_ns: u64,
    /// Longest a read waits for the sampler before it serves the last published
    /// snapshot holding what the file needs; without one it waits up to 10 s more, then
    /// fails with EIO (ns).
    pub request_budget_ns: u64,
    /// Files served as the host's (`--disable-file`): bit `i` is `VirtualFile::ALL[i]`.
    pub host_files: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            render: RenderOptions::default(),
            identity: IdentityMode::Init,
            max_staleness_ns: 100_000_000,
            active_window_ns: 2_000_000_000,
            forget_after_ns: 30_000_000_000,
            request_budget_ns: 500_000_000,
            host_files: 0,
        }
    }
}
