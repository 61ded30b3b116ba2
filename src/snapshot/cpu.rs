//! The CPU rules every CPU-related file shares, as pure functions of snapshot data, used
//! by the renderers and by the sampler's history.
//!
//! * **Visible CPUs**: the container's cpuset (already ∩ host online) or the host's
//!   online CPUs; with `--enable-cfs`, only the first `ceil(quota/period)` of them, quota
//!   = the tightest over the cgroup and its ancestors.
//! * **Busy ticks** per CPU: v1 per-CPU figures (`cpuacct.usage_all`); v2 `cpu.stat`
//!   user/system spread evenly over the visible CPUs (remainder on the lowest).
//! * **Capacity share**: with `--enable-cfs` and a fractional quota, each visible CPU
//!   offers only `quota / (period × visible)` of its time (LXCFS's `exact_cpus`), so idle
//!   grows at that rate and a container using its whole quota looks 100 % busy.
//! * **Stateless lines** (a container's first read): user/system = the cumulative busy
//!   ticks, CPUs hidden by the CPU view folded into the last visible line, idle = host
//!   ticks of the CPU × share − busy, floored at 0.

use super::{ContainerView, HostView};
use crate::config::RenderOptions;
use crate::parse::cpuset::CpuSet;
use crate::parse::stat::CpuTimes;

/// The CPUs a container sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisibleCpus {
    /// Physical CPU numbers shown, ascending.
    pub physical: CpuSet,
    /// CPUs of the cpuset hidden by the CPU view (their time folds into visible ones).
    pub hidden: CpuSet,
    /// CPU view (`--enable-cfs`): files number the CPUs 0..n instead of physically.
    pub renumbered: bool,
    /// True when nothing is virtualised (no cpuset, no CPU view): host files are shown.
    pub host: bool,
    /// Capacity share of each visible CPU as a fraction (numerator, denominator) ≤ 1.
    pub share: (u64, u64),
}

impl VisibleCpus {
    /// Number of visible CPUs.
    pub fn count(&self) -> usize {
        self.physical.len()
    }

    /// The number a file shows for the `i`-th visible CPU whose physical number is `p`.
    pub fn shown(&self, i: usize, p: u32) -> u32 {
        if self.renumbered {
            u32::try_from(i).unwrap_or(u32::MAX)
        } else {
            p
        }
    }

    /// `ticks` scaled by the capacity share.
    pub fn scale(&self, ticks: u64) -> u64 {
        let (num, den) = self.share;
        u64::try_from(u128::from(ticks) * u128::from(num) / u128::from(den.max(1)))
            .unwrap_or(u64::MAX)
    }
}

/// The visible-CPU rule (see the module documentation).
pub fn visible_cpus(c: &ContainerView, host: &HostView, options: &RenderOptions) -> VisibleCpus {
    let base = match &c.cpuset {
        Some(set) => set.clone(),
        None => host.cpu_online.clone(),
    };
    if !options.enable_cfs {
        return VisibleCpus {
            host: c.cpuset.is_none(),
            physical: base,
            hidden: CpuSet::default(),
            renumbered: false,
            share: (1, 1),
        };
    }
    let n = match c.quota {
        Some(q) => usize::try_from(q.ceil_cpus())
            .unwrap_or(usize::MAX)
            .clamp(1, base.len().max(1)),
        None => base.len(),
    };
    let physical = base.take(n);
    let share = match c.quota {
        // quota / (period × n), at most 1
        Some(q) => {
            let den = q.period_us.saturating_mul(physical.len().max(1) as u64);
            if q.quota_us >= den {
                (1, 1)
            } else {
                (q.quota_us, den)
            }
        }
        None => (1, 1),
    };
    VisibleCpus {
        hidden: base.difference(&physical),
        physical,
        renumbered: true,
        host: false,
        share,
    }
}

/// Nanoseconds to USER_HZ ticks without overflow.
pub fn ns_to_ticks(ns: u64, clock_ticks: u64) -> u64 {
    u64::try_from(u128::from(ns) * u128::from(clock_ticks) / 1_000_000_000).unwrap_or(u64::MAX)
}

/// Cumulative (user, system) ticks of the container per CPU: first the visible CPUs in
/// display order, then the hidden ones. `None` when the container's CPU time is unknown.
pub fn busy_ticks(
    c: &ContainerView,
    visible: &VisibleCpus,
    hz: u64,
) -> Option<Vec<(u32, u64, u64)>> {
    let usage = c.cpu_usage.as_ref()?;
    let cpus: Vec<u32> = visible
        .physical
        .iter()
        .chain(visible.hidden.iter())
        .collect();
    Some(match &usage.per_cpu {
        Some(per_cpu) => cpus
            .iter()
            .map(|&cpu| {
                per_cpu
                    .iter()
                    .find(|(c, _, _)| *c == cpu)
                    .map_or((cpu, 0, 0), |(_, us, sy)| {
                        (cpu, ns_to_ticks(*us, hz), ns_to_ticks(*sy, hz))
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
            cpus.iter()
                .enumerate()
                .map(|(i, &cpu)| {
                    if i < visible.count() {
                        (cpu, share(u, i as u64), share(s, i as u64))
                    } else {
                        (cpu, 0, 0)
                    }
                })
                .collect()
        }
    })
}

/// The per-CPU lines of a container's first read, in display order (see the module
/// documentation); host lines renamed when the container's CPU time is unknown.
pub fn stateless_cpu_lines(
    c: &ContainerView,
    host: &HostView,
    options: &RenderOptions,
) -> Vec<CpuTimes> {
    let visible = visible_cpus(c, host, options);
    let busy = busy_ticks(c, &visible, options.clock_ticks);
    let n = visible.count();
    visible
        .physical
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let host_times = host.stat.cpu(p).copied().unwrap_or_default();
            let Some(b) = &busy else {
                return host_times;
            };
            let (_, mut u, mut s) = b[i];
            if i + 1 == n {
                for (_, hu, hs) in &b[n..] {
                    u = u.saturating_add(*hu);
                    s = s.saturating_add(*hs);
                }
            }
            let mut t = CpuTimes::default();
            t.0[CpuTimes::USER] = u;
            t.0[CpuTimes::SYSTEM] = s;
            t.0[CpuTimes::IDLE] = visible
                .scale(host_times.total())
                .saturating_sub(u.saturating_add(s));
            t
        })
        .collect()
}
