//! What the sampler remembers about a view between samples: the `/proc/stat` lines
//! (counters that never go backwards) and the load averages.
//!
//! **CPU time.** The lines count from the view's anchor (the start of the reader's
//! pid-namespace init, the instant its `/proc/uptime` counts from), over the `n` visible
//! CPUs, as on a real machine with `n` CPUs:
//!
//! | quantity | rule |
//! |---|---|
//! | first sample | user/system = the cgroup's cumulative ticks per CPU (v1 per CPU; v2 spread evenly), at most the age per CPU (a cgroup that ran processes before the init started has used time its age cannot hold; user and system are scaled alike); idle = n × age − busy, spread over the CPUs by their headroom (age − busy of the CPU). **Never zeros** (LXCFS's CPU view starts at 0) |
//! | each later sample | user/system grow by the cgroup's own growth per CPU; CPUs hidden by the CPU view (`--enable-cfs`) give their growth to visible CPUs with room in the interval, then evenly (never dropped); idle grows so that it equals n × age − busy again (it never decreases: after an interval in which the cgroup used more than n CPUs it stays flat until the formula catches up), spread by each CPU's headroom in the interval |
//! | interval property | the lines together grow by **n × elapsed**: busy by the cgroup's CPU time, idle by the rest; an unused quota is idle |
//! | uptime | its idle is the lines' idle total, so `/proc/uptime` and `/proc/stat` agree exactly |
//! | visible CPUs change | lines of CPUs that stay are kept; a new CPU starts at 0; the lines of CPUs that went are added to the first shown one, so the `cpu` total never decreases |
//!
//! Elapsed time comes from the clock (CLOCK_BOOTTIME), not from the host's per-CPU tick
//! counts: those stall on a busy virtual machine, which made idle vanish.
//!
//! **Load averages.** The kernel's fixed-point EWMA (FSHIFT 11, EXP_1 1884, EXP_5 2014,
//! EXP_15 2037) over the number of tasks in state R or D, every 5 s of the clock. Periods
//! in which the view was not sampled (nobody read it) are caught up with the count of
//! the next sample, at most one hour of them.
//!
//! Histories survive a restart or an upgrade of the serving process: they are written
//! in a versioned text form ([`History::encode`]) before each publication.

use crate::config::RenderOptions;
use crate::parse::stat::CpuTimes;
use crate::snapshot::cpu::{busy_ticks, ns_to_ticks, visible_cpus, VisibleCpus};
use crate::snapshot::{ContainerView, CpuLines, HostView, LoadView, FIXED_1};
use std::fmt::Write;

/// Load sampling period (the kernel's LOAD_FREQ).
pub(crate) const LOAD_PERIOD_NS: u64 = 5_000_000_000;
/// exp(-5s/1min), exp(-5s/5min), exp(-5s/15min) in fixed point.
const EXP: [u64; 3] = [1884, 2014, 2037];
/// Most missed periods caught up at once (one hour).
const MAX_CATCH_UP: u64 = 720;

/// The kernel's `calc_load`: one EWMA step with `active` = tasks × FIXED_1.
fn calc_load(load: u64, exp: u64, active: u64) -> u64 {
    let mut new = load
        .saturating_mul(exp)
        .saturating_add(active.saturating_mul(FIXED_1 - exp));
    if active >= load {
        new = new.saturating_add(FIXED_1 - 1);
    }
    new / FIXED_1
}

/// `amount` split over slots in proportion to `weights` (evenly when they are all 0);
/// the remainder of the division goes one by one to the first slots. The parts always
/// add up to `amount`.
fn spread(amount: u64, weights: &[u64]) -> Vec<u64> {
    let n = weights.len();
    if n == 0 {
        return Vec::new();
    }
    let total: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    let mut parts: Vec<u64> = if total == 0 {
        vec![amount / n as u64; n]
    } else {
        weights
            .iter()
            .map(|w| u64::try_from(u128::from(amount) * u128::from(*w) / total).unwrap_or(u64::MAX))
            .collect()
    };
    let mut left = amount.saturating_sub(parts.iter().fold(0u64, |a, p| a.saturating_add(*p)));
    let mut i = 0;
    while left > 0 {
        // Slots with weight first (in order), so idle does not land on a full CPU.
        let slot = i % n;
        if total == 0 || weights[slot] > 0 || i >= n {
            parts[slot] += 1;
            left -= 1;
        }
        i += 1;
    }
    parts
}

/// The CPU lines of one view and what they were computed from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct CpuHistory {
    /// Host numbers of the CPUs shown, then of those hidden by the CPU view.
    shown: Vec<u32>,
    hidden: Vec<u32>,
    /// Cumulative (user, system) ticks per CPU at the last sample: shown, then hidden.
    busy: Vec<(u64, u64)>,
    /// Ticks from the anchor to the last sample.
    age: u64,
    /// The lines shown, one per shown CPU.
    lines: Vec<CpuTimes>,
}

impl CpuHistory {
    fn idle_ticks(&self) -> u64 {
        self.lines
            .iter()
            .fold(0u64, |a, l| a.saturating_add(l.0[CpuTimes::IDLE]))
    }

    fn busy_shown(&self) -> u64 {
        self.lines.iter().fold(0u64, |a, l| {
            a.saturating_add(l.0[CpuTimes::USER])
                .saturating_add(l.0[CpuTimes::SYSTEM])
        })
    }

    /// Raise the idle total to n × age − busy (never lower), spread by `headroom`.
    fn top_up_idle(&mut self, headroom: &[u64]) {
        let capacity = (self.lines.len() as u64).saturating_mul(self.age);
        let target = capacity.saturating_sub(self.busy_shown());
        let grow = target.saturating_sub(self.idle_ticks());
        for (line, add) in self.lines.iter_mut().zip(spread(grow, headroom)) {
            line.0[CpuTimes::IDLE] = line.0[CpuTimes::IDLE].saturating_add(add);
        }
    }

    /// The first sample of a view.
    fn first(visible: &VisibleCpus, busy: Vec<(u64, u64)>, age: u64) -> CpuHistory {
        let n = visible.count();
        let mut h = CpuHistory {
            shown: visible.physical.iter().collect(),
            hidden: visible.hidden.iter().collect(),
            lines: vec![CpuTimes::default(); n],
            busy: Vec::new(),
            age,
        };
        let own: Vec<(u64, u64)> = busy.iter().take(n).copied().collect();
        h.add_busy(&own, &busy[n.min(busy.len())..], age);
        h.busy = busy;
        // A cgroup can be older than the init the view counts from (it ran other
        // processes first): time used before the init started cannot fit its age, so a
        // first line holds at most the age of busy time (user and system scaled alike);
        // growth is counted in full from here on.
        for line in &mut h.lines {
            let (user, system) = (line.0[CpuTimes::USER], line.0[CpuTimes::SYSTEM]);
            let total = u128::from(user) + u128::from(system);
            if total > u128::from(age) {
                let scaled = u128::from(user) * u128::from(age) / total;
                let scaled = u64::try_from(scaled).unwrap_or(age);
                line.0[CpuTimes::USER] = scaled;
                line.0[CpuTimes::SYSTEM] = age - scaled;
            }
        }
        let headroom: Vec<u64> = h
            .lines
            .iter()
            .map(|l| age.saturating_sub(l.busy()))
            .collect();
        h.top_up_idle(&headroom);
        h
    }

    /// Add per-CPU busy growth `own` to the shown lines and move the growth of hidden
    /// CPUs onto shown ones with room within `interval` ticks, then evenly.
    fn add_busy(&mut self, own: &[(u64, u64)], hidden: &[(u64, u64)], interval: u64) {
        for (line, (u, s)) in self.lines.iter_mut().zip(own) {
            line.0[CpuTimes::USER] = line.0[CpuTimes::USER].saturating_add(*u);
            line.0[CpuTimes::SYSTEM] = line.0[CpuTimes::SYSTEM].saturating_add(*s);
        }
        let (su, ss) = hidden.iter().fold((0u64, 0u64), |(a, b), (u, s)| {
            (a.saturating_add(*u), b.saturating_add(*s))
        });
        if su == 0 && ss == 0 {
            return;
        }
        let room: Vec<u64> = own
            .iter()
            .map(|(u, s)| interval.saturating_sub(u.saturating_add(*s)))
            .chain(std::iter::repeat(interval))
            .take(self.lines.len())
            .collect();
        for (col, amount) in [(CpuTimes::USER, su), (CpuTimes::SYSTEM, ss)] {
            for (line, add) in self.lines.iter_mut().zip(spread(amount, &room)) {
                line.0[col] = line.0[col].saturating_add(add);
            }
        }
    }

    /// A later sample.
    fn advance(&mut self, visible: &VisibleCpus, busy: Vec<(u64, u64)>, age: u64) {
        let shown: Vec<u32> = visible.physical.iter().collect();
        let hidden: Vec<u32> = visible.hidden.iter().collect();
        let previous_busy = |cpu: u32| -> Option<(u64, u64)> {
            let i = self
                .shown
                .iter()
                .chain(self.hidden.iter())
                .position(|c| *c == cpu)?;
            self.busy.get(i).copied()
        };
        // Growth per CPU since the last sample (a CPU not seen before grows by 0 now).
        let growth: Vec<(u64, u64)> = shown
            .iter()
            .chain(hidden.iter())
            .zip(&busy)
            .map(|(cpu, (u, s))| match previous_busy(*cpu) {
                Some((pu, ps)) => (u.saturating_sub(pu), s.saturating_sub(ps)),
                None => (0, 0),
            })
            .collect();
        if shown != self.shown {
            self.remap(&shown);
        }
        let interval = age.saturating_sub(self.age);
        let n = shown.len();
        self.add_busy(
            &growth[..n.min(growth.len())],
            &growth[n.min(growth.len())..],
            interval,
        );
        let headroom: Vec<u64> = growth
            .iter()
            .take(n)
            .map(|(u, s)| interval.saturating_sub(u.saturating_add(*s)))
            .collect();
        self.shown = shown;
        self.hidden = hidden;
        self.busy = busy;
        self.age = self.age.max(age);
        self.top_up_idle(&headroom);
    }

    /// New shown CPUs: kept CPUs keep their lines, new ones start at 0, the lines of CPUs
    /// that went are added to the first shown line (the total never decreases).
    fn remap(&mut self, shown: &[u32]) {
        let mut lines = vec![CpuTimes::default(); shown.len()];
        let mut gone = CpuTimes::default();
        for (cpu, line) in self.shown.iter().zip(&self.lines) {
            match shown.iter().position(|c| c == cpu) {
                Some(i) => lines[i] = *line,
                None => {
                    for (a, v) in gone.0.iter_mut().zip(line.0) {
                        *a = a.saturating_add(v);
                    }
                }
            }
        }
        if let Some(first) = lines.first_mut() {
            for (a, v) in first.0.iter_mut().zip(gone.0) {
                *a = a.saturating_add(v);
            }
        }
        self.lines = lines;
    }
}

/// Everything remembered about one view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct History {
    cpu: Option<CpuHistory>,
    avenrun: [u64; 3],
    /// Monotonic time of the next load sample (None: never sampled).
    next_load_ns: Option<u64>,
    /// Task counts of the last load sample.
    last_load: Option<LoadView>,
    /// Monotonic time of the last sample applied.
    last_sample_ns: u64,
}

impl History {
    /// Monotonic time of the last sample applied.
    pub(crate) fn last_sample_ns(&self) -> u64 {
        self.last_sample_ns
    }

    /// Whether the tasks should be counted for a sample at `now_ns`.
    pub(crate) fn load_due(&self, now_ns: u64) -> bool {
        self.next_load_ns.is_none_or(|next| now_ns >= next)
    }

    /// Fold a load sample (the task counts just taken) into the averages; returns the view.
    pub(crate) fn apply_load(&mut self, now_ns: u64, counts: LoadView) -> LoadView {
        self.last_sample_ns = self.last_sample_ns.max(now_ns);
        let periods = match self.next_load_ns {
            Some(next) if now_ns >= next => {
                (1 + (now_ns - next) / LOAD_PERIOD_NS).min(MAX_CATCH_UP)
            }
            _ => 0,
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

    /// The load view between load samples: the last counts and averages.
    pub(crate) fn last_load(&self) -> Option<LoadView> {
        self.last_load
    }

    /// The `/proc/stat` lines for a new sample of `c` taken at `boot_ns` (CLOCK_BOOTTIME),
    /// for a view anchored at `anchor` ticks; `None` when the container's CPU time is
    /// unknown (the host's lines are shown).
    pub(crate) fn apply_cpu(
        &mut self,
        now_ns: u64,
        boot_ns: u64,
        anchor: Option<u64>,
        c: &ContainerView,
        host: &HostView,
        options: &RenderOptions,
    ) -> Option<CpuLines> {
        self.last_sample_ns = self.last_sample_ns.max(now_ns);
        let visible = visible_cpus(c, host, options);
        let Some(busy) = busy_ticks(c, &visible, options.clock_ticks) else {
            self.cpu = None;
            return None;
        };
        let age = ns_to_ticks(boot_ns, options.clock_ticks).saturating_sub(anchor.unwrap_or(0));
        match &mut self.cpu {
            Some(h) => h.advance(&visible, busy, age),
            None => self.cpu = Some(CpuHistory::first(&visible, busy, age)),
        }
        self.cpu.as_ref().map(|h| CpuLines {
            lines: h.lines.clone(),
            idle_ticks: h.idle_ticks(),
        })
    }

    /// The history in its persisted form (see [`crate::sampler::persist`]): one
    /// `key value…` line per field.
    pub(crate) fn encode(&self, out: &mut String) {
        let join = |v: &mut dyn Iterator<Item = u64>| {
            v.map(|x| x.to_string()).collect::<Vec<_>>().join(" ")
        };
        let _ = writeln!(out, "sampled {}", self.last_sample_ns);
        let _ = writeln!(out, "avenrun {}", join(&mut self.avenrun.iter().copied()));
        if let Some(next) = self.next_load_ns {
            let _ = writeln!(out, "next_load {next}");
        }
        if let Some(l) = self.last_load {
            let _ = writeln!(
                out,
                "last_load {} {} {} {}",
                l.running, l.blocked, l.total, l.last_pid
            );
        }
        if let Some(c) = &self.cpu {
            let _ = writeln!(out, "cpu_age {}", c.age);
            let _ = writeln!(
                out,
                "cpu_shown {}",
                join(&mut c.shown.iter().map(|x| u64::from(*x)))
            );
            let _ = writeln!(
                out,
                "cpu_hidden {}",
                join(&mut c.hidden.iter().map(|x| u64::from(*x)))
            );
            let _ = writeln!(
                out,
                "cpu_busy {}",
                join(&mut c.busy.iter().flat_map(|(u, s)| [*u, *s]))
            );
            for l in &c.lines {
                let _ = writeln!(out, "cpu_line {}", join(&mut l.0.iter().copied()));
            }
        }
    }

    /// A history from the lines [`History::encode`] wrote; `None` if they do not make one.
    pub(crate) fn decode<'a>(lines: impl Iterator<Item = &'a str>) -> Option<History> {
        let mut h = History::default();
        let mut cpu = CpuHistory::default();
        let mut has_cpu = false;
        for line in lines {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            let nums: Vec<u64> = rest
                .split_whitespace()
                .map(|w| w.parse::<u64>().ok())
                .collect::<Option<_>>()?;
            let cpus =
                || -> Option<Vec<u32>> { nums.iter().map(|n| u32::try_from(*n).ok()).collect() };
            match key {
                "sampled" => h.last_sample_ns = *nums.first()?,
                "avenrun" => h.avenrun = nums.try_into().ok()?,
                "next_load" => h.next_load_ns = Some(*nums.first()?),
                "last_load" => {
                    let [running, blocked, total, last_pid]: [u64; 4] = nums.try_into().ok()?;
                    h.last_load = Some(LoadView {
                        avenrun: h.avenrun,
                        running,
                        blocked,
                        total,
                        last_pid,
                    });
                }
                "cpu_age" => {
                    cpu.age = *nums.first()?;
                    has_cpu = true;
                }
                "cpu_shown" => cpu.shown = cpus()?,
                "cpu_hidden" => cpu.hidden = cpus()?,
                "cpu_busy" => {
                    cpu.busy = nums
                        .chunks(2)
                        .map(|p| (p[0], *p.get(1).unwrap_or(&0)))
                        .collect()
                }
                "cpu_line" => cpu.lines.push(CpuTimes(nums.try_into().ok()?)),
                _ => return None,
            }
        }
        if has_cpu {
            let consistent = cpu.lines.len() == cpu.shown.len()
                && cpu.busy.len() == cpu.shown.len() + cpu.hidden.len();
            if !consistent {
                return None;
            }
            h.cpu = Some(cpu);
        }
        if let Some(l) = &mut h.last_load {
            l.avenrun = h.avenrun;
        }
        Some(h)
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
        assert_eq!(l, 1299, "0.634 in fixed point, as the kernel computes it");
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
        // 12 periods of 2 tasks: 2 × (1 − e^-1) ≈ 1.26.
        assert_eq!(after_minute.avenrun[0], 2595);
        assert!(after_minute.avenrun[2] < after_minute.avenrun[1]);
    }

    #[test]
    fn spread_adds_up_and_follows_weights() {
        assert_eq!(spread(10, &[1, 1]), vec![5, 5]);
        assert_eq!(spread(10, &[3, 1]), vec![8, 2]);
        assert_eq!(spread(7, &[0, 0, 0]), vec![3, 2, 2]);
        assert_eq!(spread(5, &[0, 4]), vec![0, 5]);
        assert_eq!(spread(0, &[1]), vec![0]);
        assert!(spread(3, &[]).is_empty());
    }

    fn visible(shown: &[u32], hidden: &[u32]) -> VisibleCpus {
        VisibleCpus {
            physical: crate::parse::cpuset::CpuSet::from_cpus(shown.iter().copied()),
            hidden: crate::parse::cpuset::CpuSet::from_cpus(hidden.iter().copied()),
            host: false,
        }
    }

    fn total(h: &CpuHistory) -> u64 {
        h.lines.iter().map(|l| l.total()).sum()
    }

    #[test]
    fn a_quota_leaves_its_unused_share_idle() {
        // 2 visible CPUs, 1000 ticks old, used 300 + 200 ticks: idle = 2000 − 500.
        let mut h = CpuHistory::first(&visible(&[0, 1], &[]), vec![(300, 0), (0, 200)], 1000);
        assert_eq!(h.idle_ticks(), 1500);
        assert_eq!(total(&h), 2000);
        // 500 ticks later, 1.5 CPUs' worth of work (750 ticks): idle grows by 250.
        h.advance(&visible(&[0, 1], &[]), vec![(700, 0), (0, 550)], 1500);
        assert_eq!(h.idle_ticks(), 1750);
        assert_eq!(total(&h), 3000, "the lines grow by 2 CPUs × elapsed");
        assert_eq!(
            h.lines[0].0[CpuTimes::IDLE] + h.lines[1].0[CpuTimes::IDLE],
            1750
        );
    }

    #[test]
    fn hidden_cpus_fold_in_and_nothing_goes_backwards() {
        // CPU view: CPU 0 shown, CPU 1 hidden by a 1-CPU quota.
        let mut h = CpuHistory::first(&visible(&[0], &[1]), vec![(100, 10), (50, 5)], 400);
        assert_eq!(h.lines[0].0[CpuTimes::USER], 150);
        assert_eq!(h.lines[0].0[CpuTimes::SYSTEM], 15);
        assert_eq!(h.idle_ticks(), 400 - 165);
        let before = h.lines.clone();
        // The counter is reset (cgroup recreated): nothing decreases.
        h.advance(&visible(&[0], &[1]), vec![(0, 0), (0, 0)], 450);
        for (a, b) in before[0].0.iter().zip(h.lines[0].0) {
            assert!(b >= *a);
        }
        // A second CPU appears: the total carries on.
        let t = total(&h);
        h.advance(&visible(&[0, 1], &[]), vec![(10, 0), (10, 0)], 460);
        assert!(total(&h) >= t);
        assert_eq!(h.lines.len(), 2);
    }

    #[test]
    fn history_survives_encoding() {
        let mut h = History::default();
        h.apply_load(
            7,
            LoadView {
                running: 1,
                total: 3,
                ..LoadView::default()
            },
        );
        h.cpu = Some(CpuHistory::first(
            &visible(&[2, 3], &[5]),
            vec![(1, 2), (3, 4), (5, 6)],
            99,
        ));
        let mut text = String::new();
        h.encode(&mut text);
        assert_eq!(History::decode(text.lines()), Some(h));
        assert_eq!(History::decode(["cpu_line 1 2"].into_iter()), None);
        assert_eq!(History::decode(["bogus 1"].into_iter()), None);
    }
}
