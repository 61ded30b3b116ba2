//! What the sampler remembers about a container between samples: the CPU view of
//! `/proc/stat` (counters that never go backwards) and the load averages.
//!
//! **CPU view.** The first sample shows the stateless lines (cumulative user/system,
//! idle = host ticks × share − busy; see [`crate::snapshot::cpu`]): never all zeros, unlike
//! LXCFS. Each later sample adds, per visible CPU, the growth of its user and system
//! ticks and `idle += max(0, host ticks elapsed × share − busy growth)`. With the CPU view
//! (`--enable-cfs`) the growth of CPUs hidden by the quota is moved onto visible CPUs that
//! have room left in this interval (LXCFS's surplus redistribution), and what does not fit
//! is dropped. Every counter is therefore monotonic, idle included, also with fractional
//! quotas (where LXCFS can make idle go down). If the set of visible CPUs changes, the
//! view starts again from the stateless lines.
//!
//! **Load averages.** The kernel's fixed-point EWMA (FSHIFT 11, EXP_1 1884, EXP_5 2014,
//! EXP_15 2037) over the number of tasks in state R or D, every 5 s of the engine's clock.
//! Periods in which the container was not sampled (nobody read it) are caught up with the
//! count of the next sample, at most one hour of them.

use crate::config::RenderOptions;
use crate::parse::stat::CpuTimes;
use crate::snapshot::cpu::{busy_ticks, stateless_cpu_lines, visible_cpus};
use crate::snapshot::{ContainerView, HostView, LoadView};

/// Load sampling period (the kernel's LOAD_FREQ).
pub const LOAD_PERIOD_NS: u64 = 5_000_000_000;
/// Fixed-point shift.
pub const FSHIFT: u32 = 11;
/// 1.0 in fixed point.
pub const FIXED_1: u64 = 1 << FSHIFT;
/// exp(-5s/1min), exp(-5s/5min), exp(-5s/15min) in fixed point.
pub const EXP: [u64; 3] = [1884, 2014, 2037];
/// Most missed periods caught up at once (one hour).
const MAX_CATCH_UP: u64 = 720;

/// The kernel's `calc_load`: one EWMA step with `active` = tasks × FIXED_1.
pub fn calc_load(load: u64, exp: u64, active: u64) -> u64 {
    let mut new = load
        .saturating_mul(exp)
        .saturating_add(active.saturating_mul(FIXED_1 - exp));
    if active >= load {
        new = new.saturating_add(FIXED_1 - 1);
    }
    new / FIXED_1
}

#[derive(Clone, Debug, Default)]
struct CpuState {
    /// Visible physical CPUs and hidden ones the view was built for.
    key: (Vec<u32>, Vec<u32>),
    /// Last seen cumulative (user, system) ticks per CPU (visible then hidden).
    busy: Vec<(u32, u64, u64)>,
    /// Last seen host total ticks per visible CPU.
    host_total: Vec<u64>,
    /// The lines shown.
    view: Vec<CpuTimes>,
}

/// Everything remembered about one container.
#[derive(Clone, Debug, Default)]
pub struct History {
    cpu: Option<CpuState>,
    avenrun: [u64; 3],
    /// Engine time of the next load sample (None: never sampled).
    next_load_ns: Option<u64>,
    /// Task counts of the last load sample.
    last_load: Option<LoadView>,
    /// Monotonic time of the last sample applied.
    last_sample_ns: u64,
}

impl History {
    /// Monotonic time of the last sample applied.
    pub fn last_sample_ns(&self) -> u64 {
        self.last_sample_ns
    }

    /// Whether a sample taken at `now_ns` is older than one already applied.
    pub fn is_stale(&self, now_ns: u64) -> bool {
        now_ns < self.last_sample_ns
    }

    /// Whether the tasks should be counted for a sample at `now_ns`.
    pub fn load_due(&self, now_ns: u64) -> bool {
        self.next_load_ns.is_none_or(|next| now_ns >= next)
    }

    /// Fold a load sample (the task counts just taken) into the averages; returns the view.
    pub fn apply_load(&mut self, now_ns: u64, counts: LoadView) -> LoadView {
        self.last_sample_ns = self.last_sample_ns.max(now_ns);
        let periods = match self.next_load_ns {
            None => 0,
            Some(next) if now_ns >= next => {
                (1 + (now_ns - next) / LOAD_PERIOD_NS).min(MAX_CATCH_UP)
            }
            Some(_) => 0,
        };
        let active = counts.running.saturating_mul(FIXED_1);
        for _ in 0..periods {
            for (avg, exp) in self.avenrun.iter_mut().zip(EXP) {
                *avg = calc_load(*avg, exp, active);
            }
        }
        self.next_load_ns = Some(now_ns.saturating_add(LOAD_PERIOD_NS));
        let view = LoadView {
            avenrun: self.avenrun,
            ..counts
        };
        self.last_load = Some(view);
        view
    }

    /// The load view between samples: the last counts and averages.
    pub fn last_load(&self) -> Option<LoadView> {
        self.last_load
    }

    /// The per-CPU lines for a new sample of `c` (monotonic; see the module docs).
    pub fn apply_cpu(
        &mut self,
        now_ns: u64,
        c: &ContainerView,
        host: &HostView,
        options: &RenderOptions,
    ) -> Vec<CpuTimes> {
        self.last_sample_ns = self.last_sample_ns.max(now_ns);
        let visible = visible_cpus(c, host, options);
        let Some(busy) = busy_ticks(c, &visible, options.clock_ticks) else {
            // Host lines (the root cgroup or unknown usage): the kernel keeps them monotonic.
            self.cpu = None;
            return stateless_cpu_lines(c, host, options);
        };
        let key = (
            visible.physical.iter().collect::<Vec<_>>(),
            visible.hidden.iter().collect::<Vec<_>>(),
        );
        let host_total: Vec<u64> = visible
            .physical
            .iter()
            .map(|p| host.stat.cpu(p).map_or(0, |t| t.total()))
            .collect();
        let state = match self.cpu.take() {
            Some(s) if s.key == key => s,
            _ => {
                let view = stateless_cpu_lines(c, host, options);
                self.cpu = Some(CpuState {
                    key,
                    busy,
                    host_total,
                    view: view.clone(),
                });
                return view;
            }
        };
        let n = visible.count();
        let grown = |i: usize| -> (u64, u64) {
            let (_, u, s) = busy[i];
            let (_, pu, ps) = state.busy[i];
            (u.saturating_sub(pu), s.saturating_sub(ps))
        };
        let (mut surplus_user, mut surplus_system) = (0u64, 0u64);
        for i in n..busy.len() {
            let (u, s) = grown(i);
            surplus_user = surplus_user.saturating_add(u);
            surplus_system = surplus_system.saturating_add(s);
        }
        let mut view = state.view.clone();
        for (i, line) in view.iter_mut().enumerate() {
            let (mut du, mut ds) = grown(i);
            let capacity = visible.scale(host_total[i].saturating_sub(state.host_total[i]));
            let mut room = capacity.saturating_sub(du.saturating_add(ds));
            let moved = surplus_user.min(room);
            du += moved;
            surplus_user -= moved;
            room -= moved;
            let moved = surplus_system.min(room);
            ds += moved;
            surplus_system -= moved;
            let idle = capacity.saturating_sub(du.saturating_add(ds));
            line.0[CpuTimes::USER] = line.0[CpuTimes::USER].saturating_add(du);
            line.0[CpuTimes::SYSTEM] = line.0[CpuTimes::SYSTEM].saturating_add(ds);
            line.0[CpuTimes::IDLE] = line.0[CpuTimes::IDLE].saturating_add(idle);
        }
        self.cpu = Some(CpuState {
            key,
            busy,
            host_total,
            view: view.clone(),
        });
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calc_load_matches_the_kernel() {
        // One runnable task for a minute (12 periods): 1-min load ≈ 1 − e^-1 ≈ 0.63.
        let mut l = 0;
        for _ in 0..12 {
            l = calc_load(l, EXP[0], FIXED_1);
        }
        assert!((1280..1310).contains(&l), "{l}");
        // Decays back towards 0 and never exceeds the task count.
        let mut m = FIXED_1 * 4;
        for _ in 0..1000 {
            m = calc_load(m, EXP[0], 0);
        }
        assert_eq!(m, 0);
        assert!(calc_load(FIXED_1 * 2, EXP[2], FIXED_1 * 2) <= FIXED_1 * 2 + FIXED_1);
    }

    #[test]
    fn load_catches_up_missed_periods() {
        let mut h = History::default();
        let two = LoadView {
            running: 2,
            total: 5,
            ..LoadView::default()
        };
        assert!(h.load_due(0));
        assert_eq!(
            h.apply_load(0, two).avenrun,
            [0, 0, 0],
            "first sample: counts only"
        );
        assert!(!h.load_due(LOAD_PERIOD_NS - 1));
        let after_minute = h.apply_load(60 * 1_000_000_000, two);
        assert!(
            after_minute.avenrun[0] > FIXED_1,
            "{:?}",
            after_minute.avenrun
        );
        assert!(after_minute.avenrun[0] <= 2 * FIXED_1);
        assert!(after_minute.avenrun[2] < after_minute.avenrun[1]);
    }
}
