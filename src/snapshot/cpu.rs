//! The CPU rules every CPU-related file shares, as pure functions of snapshot data, used
//! by the renderers and by the sampler's history.
//!
//! * **Visible CPUs**: the container's cpuset (already ∩ host online) or the host's
//!   online CPUs; with `--enable-cfs`, only the first `ceil(quota/period)` of them, quota
//!   = the tightest over the cgroup and its ancestors. CPUs keep their **host numbers**
//!   everywhere a number names a CPU (`online`, `present`, the `cpuN` directories, the
//!   `cpuN` lines of `/proc/stat`), so a program can pin threads to the CPUs it sees
//!   (`sched_setaffinity` takes host numbers). Without a cpuset the first host CPUs are
//!   `0..n-1`, which is what LXCFS shows too.
//! * **Busy ticks** per CPU: v1 per-CPU figures (`cpuacct.usage_all`); v2 `cpu.stat`
//!   user/system spread evenly over the visible CPUs (remainder on the lowest).

use super::{ContainerView, HostView};
use crate::config::RenderOptions;
use crate::parse::cpuset::CpuSet;

/// The CPUs a container sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VisibleCpus {
    /// Host numbers of the CPUs shown, ascending.
    pub(crate) physical: CpuSet,
    /// CPUs of the cpuset hidden by the CPU view (their time folds into visible ones).
    pub(crate) hidden: CpuSet,
    /// True when nothing is virtualised (no cpuset, no CPU view): host files are shown.
    pub(crate) host: bool,
}

impl VisibleCpus {
    /// Number of visible CPUs.
    pub(crate) fn count(&self) -> usize {
        self.physical.len()
    }
}

/// The visible-CPU rule (see the module documentation).
pub(crate) fn visible_cpus(
    c: &ContainerView,
    host: &HostView,
    options: &RenderOptions,
) -> VisibleCpus {
    let base = match &c.cpuset {
        Some(set) => set.clone(),
        None => host.cpu_online.clone(),
    };
    let shown = match c.quota.filter(|_| options.enable_cfs) {
        Some(q) => usize::try_from(q.ceil_cpus())
            .unwrap_or(usize::MAX)
            .clamp(1, base.len().max(1)),
        None => base.len(),
    };
    let physical = base.take(shown);
    VisibleCpus {
        hidden: base.difference(&physical),
        host: c.cpuset.is_none() && physical == host.cpu_online,
        physical,
    }
}

/// The visible-CPU rule applied, in words (`inspect --explain`).
pub(crate) fn explain(c: &ContainerView, host: &HostView, options: &RenderOptions) -> String {
    let v = visible_cpus(c, host, options);
    let base = match &c.cpuset {
        Some(set) => format!("cpuset {set} (∩ host online {})", host.cpu_online),
        None => format!("no cpuset: the host's online CPUs {}", host.cpu_online),
    };
    let quota = match (c.quota, options.enable_cfs) {
        (Some(q), true) => format!(
            "; --enable-cfs: quota {}/{} µs = ⌈{:.2}⌉ CPUs → the first {}",
            q.quota_us,
            q.period_us,
            q.quota_us as f64 / q.period_us.max(1) as f64,
            v.count()
        ),
        (Some(q), false) => format!(
            "; quota {}/{} µs does not change the CPU count without --enable-cfs",
            q.quota_us, q.period_us
        ),
        (None, _) => String::new(),
    };
    format!(
        "visible CPUs {} ({} CPUs): {base}{quota}",
        v.physical,
        v.count()
    )
}

/// Nanoseconds to USER_HZ ticks without overflow.
pub(crate) fn ns_to_ticks(ns: u64, clock_ticks: u64) -> u64 {
    u64::try_from(u128::from(ns) * u128::from(clock_ticks) / 1_000_000_000).unwrap_or(u64::MAX)
}

/// Cumulative (user, system) ticks of the container per CPU: first the visible CPUs in
/// display order, then the hidden ones. `None` when the container's CPU time is unknown.
pub(crate) fn busy_ticks(
    c: &ContainerView,
    visible: &VisibleCpus,
    hz: u64,
) -> Option<Vec<(u64, u64)>> {
    let usage = c.cpu_time.as_ref()?;
    let cpus: Vec<u32> = visible
        .physical
        .iter()
        .chain(visible.hidden.iter())
        .collect();
    Some(match &usage.per_cpu {
        Some(per_cpu) => cpus
            .iter()
            .map(|&cpu| {
                per_cpu.iter().find(|u| u.cpu == cpu).map_or((0, 0), |u| {
                    (ns_to_ticks(u.user_ns, hz), ns_to_ticks(u.system_ns, hz))
                })
            })
            .collect(),
        None => {
            // v2: no per-CPU figures; spread over the visible CPUs only.
            let n = visible.count().max(1) as u64;
            let (u, s) = (
                ns_to_ticks(usage.user_ns, hz),
                ns_to_ticks(usage.system_ns, hz),
            );
            let share = |x: u64, i: u64| x / n + u64::from(i < x % n);
            (0..cpus.len() as u64)
                .map(|i| {
                    if i < n {
                        (share(u, i), share(s, i))
                    } else {
                        (0, 0)
                    }
                })
                .collect()
        }
    })
}
