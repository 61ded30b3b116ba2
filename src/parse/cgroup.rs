//! cgroup file formats (v1 and v2): single values with `max`, flat-keyed and
//! nested-keyed files, `cpu.max`, cpuacct per-CPU files and blkio tables.

use super::{parse_u64, truncate, ParseError, ParseResult};

/// Values at or above this are "unlimited". cgroup v1 prints "no limit" as
/// `PAGE_COUNTER_MAX × PAGE_SIZE` (9223372036854771712 with 4 KiB pages, other values
/// with 64 KiB pages), never as `max`; 2^62 bytes (4 EiB) is beyond any real limit.
pub const V1_UNLIMITED_FLOOR: u64 = 1 << 62;

/// A resource limit: explicit "no limit" rather than a magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// No limit (`max`, `-1`, or a v1 "infinite" value).
    Max,
    /// A limit in the file's unit (bytes for memory).
    Value(u64),
}

impl Limit {
    /// The smaller of two limits (`Max` is larger than any value).
    pub fn min(self, other: Limit) -> Limit {
        match (self, other) {
            (Limit::Max, x) | (x, Limit::Max) => x,
            (Limit::Value(a), Limit::Value(b)) => Limit::Value(a.min(b)),
        }
    }

    /// The value, if limited.
    pub fn value(self) -> Option<u64> {
        match self {
            Limit::Max => None,
            Limit::Value(v) => Some(v),
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
pub fn parse_single_u64(text: &str) -> ParseResult<u64> {
    parse_u64(single_token(text)?)
}

/// A limit file: `max` (v2), `-1` (v1 "unset"), or a number (values at or above
/// [`V1_UNLIMITED_FLOOR`] count as unlimited).
pub fn parse_limit(text: &str) -> ParseResult<Limit> {
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

/// A flat-keyed file (`memory.stat`, `cpu.stat`): `key value` per line. Lines that do not
/// parse are skipped and counted in the second tuple member.
pub fn parse_flat_keyed(text: &str) -> (Vec<(String, u64)>, usize) {
    let mut bad = 0;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut w = line.split_whitespace();
        match (w.next(), w.next().map(parse_u64), w.next()) {
            (Some(k), Some(Ok(v)), None) => out.push((k.to_owned(), v)),
            _ => bad += 1,
        }
    }
    (out, bad)
}

/// One entry of a nested-keyed file (`io.stat`): `8:0 rbytes=1 wbytes=2 ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NestedEntry {
    /// The line's key (`8:0`).
    pub key: String,
    /// Its `name=value` pairs that parsed as numbers.
    pub fields: Vec<(String, u64)>,
}

/// Parse a nested-keyed file; lines without a key are skipped, and values that are not
/// numbers are dropped (the kernel never prints them).
pub fn parse_nested_keyed(text: &str) -> Vec<NestedEntry> {
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
pub fn parse_dev(key: &str) -> Option<(u32, u32)> {
    let (a, b) = key.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// CFS bandwidth: `quota` µs of CPU time per `period` µs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CpuQuota {
    /// Allowed CPU time per period, in µs (> 0).
    pub quota_us: u64,
    /// Period length in µs (> 0).
    pub period_us: u64,
}

impl CpuQuota {
    /// `quota / period` rounded up: the CPU count this quota can keep busy.
    pub fn ceil_cpus(&self) -> u64 {
        self.quota_us.div_ceil(self.period_us)
    }

    /// True when `self` allows less CPU than `other` (exact rational comparison).
    pub fn is_tighter_than(&self, other: &CpuQuota) -> bool {
        (self.quota_us as u128) * (other.period_us as u128)
            < (other.quota_us as u128) * (self.period_us as u128)
    }
}

/// `cpu.max` (v2): `max 100000` (no quota) or `150000 100000`.
pub fn parse_cpu_max(text: &str) -> ParseResult<Option<CpuQuota>> {
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
pub fn parse_cfs_quota(quota: &str, period: &str) -> ParseResult<Option<CpuQuota>> {
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
pub struct CpuUsageNs {
    /// CPU number.
    pub cpu: u32,
    /// User time in ns.
    pub user_ns: u64,
    /// System time in ns.
    pub system_ns: u64,
}

/// `cpuacct.usage_all`: header `cpu user system`, then `<cpu> <user_ns> <system_ns>`.
pub fn parse_usage_all(text: &str) -> ParseResult<Vec<CpuUsageNs>> {
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
pub fn parse_usage_percpu(text: &str) -> ParseResult<Vec<u64>> {
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
pub struct BlkioRow {
    /// Device.
    pub dev: (u32, u32),
    /// Operation: `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`.
    pub op: String,
    /// Value.
    pub value: u64,
}

/// A v1 blkio table (`blkio.throttle.io_serviced_recursive` and friends). The trailing
/// `Total N` line and malformed rows are skipped.
pub fn parse_blkio(text: &str) -> Vec<BlkioRow> {
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
        let (kv, bad) = parse_flat_keyed("usage_usec 10\nuser_usec 7\nnonsense\nx -1\n");
        assert_eq!(kv, vec![("usage_usec".into(), 10), ("user_usec".into(), 7)]);
        assert_eq!(bad, 2);
        let n = parse_nested_keyed("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n");
        assert_eq!(n[0].key, "8:0");
        assert_eq!(n[0].fields.len(), 6);
        assert_eq!(parse_dev("8:16"), Some((8, 16)));
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
