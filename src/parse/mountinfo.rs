//! `/proc/self/mountinfo`: the cgroup mounts, to detect the layout.

/// One line of `/proc/self/mountinfo` (the fields vproc uses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Root of the mount within its filesystem (field 4).
    pub root: String,
    /// Where it is mounted (field 5), octal escapes decoded.
    pub mount_point: String,
    /// Filesystem type (`cgroup`, `cgroup2`, ...).
    pub fstype: String,
    /// Super options (`rw,memory`; for v1 they name the controllers).
    pub super_options: Vec<String>,
}

/// Undo the kernel's `\040`-style escaping of spaces, tabs, newlines and backslashes.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse mountinfo; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            if l.len() < 6 || r.len() < 3 {
                return None;
            }
            Some(Mount {
                root: unescape(l[3]),
                mount_point: unescape(l[4]),
                fstype: r[0].to_owned(),
                super_options: r[2].split(',').map(str::to_owned).collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_lines() {
        let m = parse_mountinfo(
            "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n1 2 3 / /a\\040b rw - ext4 /dev/sda rw\n",
        );
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].super_options, vec!["rw", "memory"]);
        assert_eq!(m[1].fstype, "cgroup2");
        assert_eq!(m[2].mount_point, "/a b");
    }
}
