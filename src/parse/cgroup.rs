//! cgroup file formats (v1 and v2): single values with `max`, flat-keyed and
//! nested-keyed files, `cpu.max`, cpuacct per-CPU files and blkio tables.

use super::{parse_u64, truncate, ParseError, ParseResult};

/// Values at or above this are "unlimited". cgroup v1 prints "no limit" as
/// `PAGE_COUNTER_MAX × PAGE_SIZE` (9223372036854771712 with 4 KiB pages, other values
/// with 64 KiB pages), never as `max`; 2^62 bytes (4 EiB) is beyond any real limit.
pub(crate) const V1_UNLIMITED_FLOOR: u64 = 1 << 62;

/// A resource limit: explicit "no limit" rather than a magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Limit {
    /// No limit (`max`, `-1`, or a v1 "infinite" value).
    Max,
    /// A limit in the file's unit (bytes for memory).
    Value(u64),
}

impl Limit {
    /// The smaller of two limits (`Max` is larger than any value).
    pub(crate) fn min(self, other: Limit) -> Limit {
        match (self, other) {
            (Limit::Max, x) | (x, Limit::Max) => x,
            (Limit::Value(a), Limit::Value(b)) => Limit::Value(a.min(b)),
        }
    }
}

/// The single token of a one-value file.
fn single_token(text: &str) -> ParseResult<&str> {
    let mut w = text.split_whitespace();
    match (w.next(), w.next()) {
        (Some(t), None) => Ok(t),
        (None, _) => Err(ParseError::new("empty file")),
        _ => Err(ParseError::new(format!(
            "expected one value: {:?}",
            truncate(text)
        ))),
    }
}

/// A one-number file (`memory.current`, `cpuacct.usage`).
pub(crate) fn parse_single_u64(text: &str) -> ParseResult<u64> {
    parse_u64(single_token(text)?)
}

/// A limit file: `max` (v2), `-1` (v1 "unset"), or a number (values at or above
/// [`V1_UNLIMITED_FLOOR`] count as unlimited).
pub(crate) fn parse_limit(text: &str) -> ParseResult<Limit> {
    let t = single_token(text)?;
    if t == "max" || t == "-1" {
        return Ok(Limit::Max);
    }
    let v: u64 = t
        .parse()
        .map_err(|_| ParseError::new(format!("not a limit: {:?}", truncate(t))))?;
    Ok(if v >= V1_UNLIMITED_FLOOR {
        Limit::Max
    } else {
        Limit::Value(v)
    })
}

/// A flat-keyed file (`memory.stat`, `cpu.stat`): `key value` per line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FlatKeyed {
    /// The pairs that parsed, in file order.
    pub(crate) pairs: Vec<(String, u64)>,
    /// Lines that did not parse (skipped).
    pub(crate) bad_lines: usize,
}

impl FlatKeyed {
    /// The value of `key` (exact match: `file` never matches `file_mapped`).
    pub(crate) fn get(&self, key: &str) -> Option<u64> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// Parse a flat-keyed file; lines that do not parse are skipped and counted.
pub(crate) fn parse_flat_keyed(text: &str) -> FlatKeyed {
    let mut out = FlatKeyed::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut w = line.split_whitespace();
        match (w.next(), w.next().map(parse_u64), w.next()) {
            (Some(k), Some(Ok(v)), None) => out.pairs.push((k.to_owned(), v)),
            _ => out.bad_lines += 1,
        }
    }
    out
}

/// The memory counters vproc shows, in bytes, normalised from v1 (`total_*`) and v2
/// `memory.stat` keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemoryStat {
    /// Page cache (v1 `total_cache`, v2 `file`).
    pub(crate) cache: u64,
    /// Shared memory (`total_shmem` / `shmem`).
    pub(crate) shmem: u64,
    /// Mapped files (`total_mapped_file` / `file_mapped`).
    pub(crate) mapped_file: u64,
    /// Dirty pages (`total_dirty` / `file_dirty`).
    pub(crate) dirty: u64,
    /// Under writeback (`total_writeback` / `file_writeback`).
    pub(crate) writeback: u64,
    pub(crate) active_anon: u64,
    pub(crate) inactive_anon: u64,
    pub(crate) active_file: u64,
    pub(crate) inactive_file: u64,
    pub(crate) unevictable: u64,
    /// Transparent huge pages of anonymous memory (`total_rss_huge` / `anon_thp`).
    pub(crate) anon_thp: u64,
    /// Slab total (v2 `slab`; 0 on v1, which has no per-cgroup figure).
    pub(crate) slab: u64,
    /// Reclaimable slab (v2 `slab_reclaimable`).
    pub(crate) slab_reclaimable: u64,
    /// Unreclaimable slab (v2 `slab_unreclaimable`).
    pub(crate) slab_unreclaimable: u64,
    /// Compressed size in zswap (v2 `zswap`), when the kernel reports it.
    pub(crate) zswap: Option<u64>,
    /// Original size of what zswap holds (v2 `zswapped`).
    pub(crate) zswapped: Option<u64>,
}

impl MemoryStat {
    /// Usage estimated from the counters, for when the usage file cannot be read:
    /// anonymous + file LRU pages + unevictable + slab.
    pub(crate) fn estimated_usage(&self) -> u64 {
        [
            self.active_anon,
            self.inactive_anon,
            self.active_file,
            self.inactive_file,
            self.unevictable,
            self.slab,
        ]
        .iter()
        .fold(0u64, |a, v| a.saturating_add(*v))
    }
}

/// The hierarchical `total_*` counters of a v1 `memory.stat`.
pub(crate) fn parse_v1_memory_stat(text: &str) -> MemoryStat {
    let kv = parse_flat_keyed(text);
    let get = |k: &str| kv.get(k).unwrap_or(0);
    MemoryStat {
        cache: get("total_cache"),
        shmem: get("total_shmem"),
        mapped_file: get("total_mapped_file"),
        dirty: get("total_dirty"),
        writeback: get("total_writeback"),
        active_anon: get("total_active_anon"),
        inactive_anon: get("total_inactive_anon"),
        active_file: get("total_active_file"),
        inactive_file: get("total_inactive_file"),
        unevictable: get("total_unevictable"),
        anon_thp: get("total_rss_huge"),
        ..MemoryStat::default()
    }
}

/// The counters of a v2 `memory.stat` (already hierarchical). Keys are matched exactly,
/// so `file_mapped`, `file_dirty`, `file_writeback` and `anon_thp` are read correctly
/// (LXCFS's prefix matching loses them).
pub(crate) fn parse_v2_memory_stat(text: &str) -> MemoryStat {
    let kv = parse_flat_keyed(text);
    let get = |k: &str| kv.get(k).unwrap_or(0);
    MemoryStat {
        cache: get("file"),
        shmem: get("shmem"),
        mapped_file: get("file_mapped"),
        dirty: get("file_dirty"),
        writeback: get("file_writeback"),
        active_anon: get("active_anon"),
        inactive_anon: get("inactive_anon"),
        active_file: get("active_file"),
        inactive_file: get("inactive_file"),
        unevictable: get("unevictable"),
        anon_thp: get("anon_thp"),
        slab: get("slab"),
        slab_reclaimable: get("slab_reclaimable"),
        slab_unreclaimable: get("slab_unreclaimable"),
        zswap: kv.get("zswap"),
        zswapped: kv.get("zswapped"),
    }
}

/// Cumulative CPU time of a cgroup, nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuTime {
    /// All CPU time (v1 `cpuacct.usage`, v2 `cpu.stat usage_usec`).
    pub(crate) total_ns: u64,
    /// User time (v1 sum of `usage_all`, v2 `user_usec`).
    pub user_ns: u64,
    pub(crate) system_ns: u64,
    /// Per physical CPU (v1 only).
    pub(crate) per_cpu: Option<Vec<CpuUsageNs>>,
}

/// Block I/O of a cgroup on one device, in diskstats units before scaling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct IoCounters {
    /// major:minor.
    pub(crate) dev: (u32, u32),
    pub(crate) reads: u64,
    pub(crate) reads_merged: u64,
    pub(crate) read_bytes: u64,
    /// Time reading, ms.
    pub(crate) read_ms: u64,
    pub(crate) writes: u64,
    pub(crate) writes_merged: u64,
    pub(crate) write_bytes: u64,
    /// Time writing, ms.
    pub(crate) write_ms: u64,
    /// Time doing I/O, ms.
    pub(crate) io_ms: u64,
    pub(crate) discards: u64,
    pub(crate) discards_merged: u64,
    pub(crate) discard_bytes: u64,
    /// Time discarding, ms.
    pub(crate) discard_ms: u64,
}

/// v2 `io.stat`: `rios wios dios rbytes wbytes dbytes` per device (no time columns exist).
pub(crate) fn parse_io_stat(text: &str) -> Vec<IoCounters> {
    parse_nested_keyed(text)
        .into_iter()
        .filter_map(|e| {
            let dev = parse_dev(&e.key)?;
            let get = |k: &str| e.fields.iter().find(|(n, _)| n == k).map_or(0, |(_, v)| *v);
            Some(IoCounters {
                dev,
                reads: get("rios"),
                read_bytes: get("rbytes"),
                writes: get("wios"),
                write_bytes: get("wbytes"),
                discards: get("dios"),
                discard_bytes: get("dbytes"),
                ..IoCounters::default()
            })
        })
        .collect()
}

/// One entry of a nested-keyed file (`io.stat`): `8:0 rbytes=1 wbytes=2 ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NestedEntry {
    /// The line's key (`8:0`).
    pub(crate) key: String,
    /// Its `name=value` pairs that parsed as numbers.
    pub(crate) fields: Vec<(String, u64)>,
}

/// Parse a nested-keyed file; lines without a key are skipped, and values that are not
/// numbers are dropped (the kernel never prints them).
pub(crate) fn parse_nested_keyed(text: &str) -> Vec<NestedEntry> {
    text.lines()
        .filter_map(|line| {
            let mut w = line.split_whitespace();
            let key = w.next()?.to_owned();
            let fields = w
                .filter_map(|f| {
                    let (k, v) = f.split_once('=')?;
                    Some((k.to_owned(), parse_u64(v).ok()?))
                })
                .collect();
            Some(NestedEntry { key, fields })
        })
        .collect()
}

/// `major:minor` of a device key.
pub(crate) fn parse_dev(key: &str) -> Option<(u32, u32)> {
    let (a, b) = key.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// CFS bandwidth: `quota` µs of CPU time per `period` µs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CpuQuota {
    /// Allowed CPU time per period, in µs (> 0).
    pub(crate) quota_us: u64,
    /// Period length in µs (> 0).
    pub(crate) period_us: u64,
}

impl CpuQuota {
    /// `quota / period` rounded up: the CPU count this quota can keep busy.
    pub(crate) fn ceil_cpus(&self) -> u64 {
        self.quota_us.div_ceil(self.period_us)
    }

    /// True when `self` allows less CPU than `other` (exact rational comparison).
    pub(crate) fn is_tighter_than(&self, other: &CpuQuota) -> bool {
        (self.quota_us as u128) * (other.period_us as u128)
            < (other.quota_us as u128) * (self.period_us as u128)
    }
}

/// `cpu.max` (v2): `max 100000` (no quota) or `150000 100000`.
pub(crate) fn parse_cpu_max(text: &str) -> ParseResult<Option<CpuQuota>> {
    let w: Vec<&str> = text.split_whitespace().collect();
    let bad = || ParseError::new(format!("not a cpu.max value: {:?}", truncate(text)));
    let (quota, period) = match w.as_slice() {
        [q] => (*q, "100000"),
        [q, p] => (*q, *p),
        _ => return Err(bad()),
    };
    let period_us = parse_u64(period)?;
    if period_us == 0 {
        return Err(bad());
    }
    if quota == "max" {
        return Ok(None);
    }
    let quota_us = parse_u64(quota)?;
    if quota_us == 0 {
        return Err(bad());
    }
    Ok(Some(CpuQuota {
        quota_us,
        period_us,
    }))
}

/// v1 `cpu.cfs_quota_us` + `cpu.cfs_period_us`: quota `-1` means none.
pub(crate) fn parse_cfs_quota(quota: &str, period: &str) -> ParseResult<Option<CpuQuota>> {
    let q = single_token(quota)?;
    if q == "-1" {
        return Ok(None);
    }
    let quota_us = parse_u64(q)?;
    let period_us = parse_single_u64(period)?;
    if quota_us == 0 || period_us == 0 {
        return Err(ParseError::new("zero CFS quota or period"));
    }
    Ok(Some(CpuQuota {
        quota_us,
        period_us,
    }))
}

/// Per-CPU usage in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuUsageNs {
    pub(crate) cpu: u32,
    /// User time in ns.
    pub user_ns: u64,
    /// System time in ns.
    pub(crate) system_ns: u64,
}

/// `cpuacct.usage_all`: header `cpu user system`, then `<cpu> <user_ns> <system_ns>`.
pub(crate) fn parse_usage_all(text: &str) -> ParseResult<Vec<CpuUsageNs>> {
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h.split_whitespace().eq(["cpu", "user", "system"]) => {}
        _ => return Err(ParseError::new("cpuacct.usage_all: missing header")),
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() != 3 {
                return Err(ParseError::new(format!(
                    "cpuacct.usage_all: bad line {:?}",
                    truncate(l)
                )));
            }
            Ok(CpuUsageNs {
                cpu: w[0]
                    .parse()
                    .map_err(|_| ParseError::new("cpuacct.usage_all: bad cpu"))?,
                user_ns: parse_u64(w[1])?,
                system_ns: parse_u64(w[2])?,
            })
        })
        .collect()
}

/// `cpuacct.usage_percpu`: one total ns figure per CPU, CPU 0 first.
pub(crate) fn parse_usage_percpu(text: &str) -> ParseResult<Vec<u64>> {
    let v = text
        .split_whitespace()
        .map(parse_u64)
        .collect::<ParseResult<Vec<u64>>>()?;
    if v.is_empty() {
        return Err(ParseError::new("cpuacct.usage_percpu: empty"));
    }
    Ok(v)
}

/// One row of a v1 blkio table: `8:0 Read 4096`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BlkioRow {
    pub(crate) dev: (u32, u32),
    /// Operation: `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`.
    pub(crate) op: String,
    pub(crate) value: u64,
}

/// A v1 blkio table (`blkio.throttle.io_serviced_recursive` and friends). The trailing
/// `Total N` line and malformed rows are skipped.
pub(crate) fn parse_blkio(text: &str) -> Vec<BlkioRow> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() != 3 {
                return None;
            }
            Some(BlkioRow {
                dev: parse_dev(w[0])?,
                op: w[1].to_owned(),
                value: parse_u64(w[2]).ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(parse_limit("max\n"), Ok(Limit::Max));
        assert_eq!(parse_limit("-1"), Ok(Limit::Max));
        assert_eq!(parse_limit("536870912\n"), Ok(Limit::Value(536870912)));
        assert_eq!(parse_limit("9223372036854771712\n"), Ok(Limit::Max));
        assert_eq!(parse_limit("18446744073709551615"), Ok(Limit::Max));
        assert!(parse_limit("").is_err());
        assert!(parse_limit("-5").is_err());
        assert!(parse_limit("12 13").is_err());
        assert!(parse_limit("lots").is_err());
        assert_eq!(Limit::Max.min(Limit::Value(3)), Limit::Value(3));
        assert_eq!(Limit::Value(4).min(Limit::Value(3)), Limit::Value(3));
    }

    #[test]
    fn cpu_max_and_cfs() {
        assert_eq!(parse_cpu_max("max 100000\n"), Ok(None));
        let q = parse_cpu_max("150000 100000\n").unwrap().unwrap();
        assert_eq!(q.ceil_cpus(), 2);
        assert!(parse_cpu_max("150000 0").is_err());
        assert!(parse_cpu_max("").is_err());
        assert_eq!(parse_cfs_quota("-1\n", "100000\n"), Ok(None));
        let q2 = parse_cfs_quota("50000\n", "100000\n").unwrap().unwrap();
        assert!(q2.is_tighter_than(&q));
        assert!(!q.is_tighter_than(&q2));
    }

    #[test]
    fn keyed_files() {
        let kv = parse_flat_keyed("usage_usec 10\nuser_usec 7\nnonsense\nx -1\n");
        assert_eq!(
            kv.pairs,
            vec![("usage_usec".into(), 10), ("user_usec".into(), 7)]
        );
        assert_eq!(kv.bad_lines, 2);
        assert_eq!(kv.get("user_usec"), Some(7));
        assert_eq!(kv.get("user"), None);
        let n = parse_nested_keyed("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n");
        assert_eq!(n[0].key, "8:0");
        assert_eq!(n[0].fields.len(), 6);
        assert_eq!(parse_dev("8:16"), Some((8, 16)));
        let io = parse_io_stat("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\nbad\n");
        assert_eq!(io.len(), 1);
        assert_eq!(
            (io[0].reads, io[0].writes, io[0].discards, io[0].write_bytes),
            (3, 4, 6, 2)
        );
    }

    #[test]
    fn memory_stat_keys_match_exactly() {
        let v2 =
            parse_v2_memory_stat("file 100\nfile_mapped 7\nfile_dirty 3\nanon_thp 5\nzswap 9\n");
        assert_eq!(
            (v2.cache, v2.mapped_file, v2.dirty, v2.anon_thp),
            (100, 7, 3, 5)
        );
        assert_eq!((v2.zswap, v2.zswapped), (Some(9), None));
        let v1 = parse_v1_memory_stat("cache 1\ntotal_cache 10\ntotal_rss_huge 4\n");
        assert_eq!((v1.cache, v1.anon_thp, v1.slab), (10, 4, 0));
    }

    #[test]
    fn cpuacct_files() {
        let u =
            parse_usage_all("cpu user system\n0 1802003023 2658339083\n1 3736730535 3943860299\n")
                .unwrap();
        assert_eq!(u[1].system_ns, 3943860299);
        assert!(parse_usage_all("0 1 2\n").is_err());
        assert_eq!(
            parse_usage_percpu("4819312378 8219254538 \n").unwrap(),
            vec![4819312378, 8219254538]
        );
        let b = parse_blkio("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
        assert_eq!(b.len(), 2);
    }
}
