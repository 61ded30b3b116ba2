//! `/proc/cpuinfo` in the formats of x86_64, aarch64, ppc64le and s390x.
//!
//! The file is kept as a sequence of items so that a renderer can filter CPUs and
//! renumber them while every other byte stays as the kernel printed it:
//! * x86_64, aarch64, ppc64le: a block starts at `processor\t: N` and runs up to and
//!   including the first blank line; text before the first block is a preamble, text
//!   after the last one a trailer (ppc64le: `timebase`, `platform`, `model`, `machine`,
//!   `MMU`).
//! * s390x (first line mentions `IBM/S390`): a machine-wide header, one
//!   `processor N: version = ...` line per CPU, and (kernels ≥ 4.x) per-CPU blocks that
//!   start at `cpu number      : N`.

/// One piece of cpuinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CpuInfoItem {
    /// A line outside any CPU block.
    Line(String),
    /// A per-CPU block: `head` is the text before the number (`processor\t: `,
    /// `cpu number      : `), `lines` the rest of the block including its blank line.
    Block {
        /// CPU number as printed by the kernel.
        number: u32,
        /// Text of the first line before the number.
        head: String,
        /// The following lines of the block.
        lines: Vec<String>,
    },
    /// An s390x `processor N: version = ...` summary line; `rest` follows the colon.
    S390Processor {
        number: u32,
        /// The text after `processor N`.
        rest: String,
    },
}

/// The parsed file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuInfo {
    /// The s390x layout (header + summary lines + `cpu number` blocks).
    pub(crate) s390: bool,
    /// Items in kernel order.
    pub(crate) items: Vec<CpuInfoItem>,
}

impl CpuInfo {
    /// Number of per-CPU blocks.
    pub(crate) fn block_count(&self) -> usize {
        self.items
            .iter()
            .filter(|i| matches!(i, CpuInfoItem::Block { .. }))
            .count()
    }
}

/// `processor\t: 3` → (`processor\t: `, 3); also `cpu number      : 3` on s390x.
fn block_head(line: &str, key: &str) -> Option<(String, u32)> {
    let (k, v) = line.split_once(':')?;
    if k.trim_end() != key {
        return None;
    }
    let n = v.trim().parse::<u32>().ok()?;
    let num_at = line.len() - v.trim_start().len();
    Some((line[..num_at].to_owned(), n))
}

/// `processor 3: version = ...` (s390x summary line).
fn s390_processor(line: &str) -> Option<(u32, String)> {
    let rest = line.strip_prefix("processor ")?;
    let (num, tail) = rest.split_once(':')?;
    let n = num.trim().parse::<u32>().ok()?;
    Some((n, format!(":{tail}")))
}

/// Parse cpuinfo text. Never fails; unrecognised text is kept as lines.
pub(crate) fn parse_cpuinfo(text: &str) -> CpuInfo {
    let s390 = text.lines().next().is_some_and(|l| l.contains("IBM/S390"));
    let block_key = if s390 { "cpu number" } else { "processor" };
    let mut items: Vec<CpuInfoItem> = Vec::new();
    let mut open_block = false;
    for line in text.lines() {
        if let Some((head, number)) = block_head(line, block_key) {
            items.push(CpuInfoItem::Block {
                number,
                head,
                lines: Vec::new(),
            });
            open_block = true;
            continue;
        }
        if s390 {
            if let Some((number, rest)) = s390_processor(line) {
                items.push(CpuInfoItem::S390Processor { number, rest });
                open_block = false;
                continue;
            }
        }
        match items.last_mut() {
            Some(CpuInfoItem::Block { lines, .. }) if open_block => {
                lines.push(line.to_owned());
                if line.trim().is_empty() {
                    open_block = false;
                }
            }
            _ => items.push(CpuInfoItem::Line(line.to_owned())),
        }
    }
    CpuInfo { s390, items }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_blocks() {
        let c =
            parse_cpuinfo("processor\t: 0\nvendor_id\t: X\n\nprocessor\t: 1\nvendor_id\t: X\n\n");
        assert!(!c.s390);
        assert_eq!(c.block_count(), 2);
        match &c.items[1] {
            CpuInfoItem::Block {
                number,
                head,
                lines,
            } => {
                assert_eq!(*number, 1);
                assert_eq!(head, "processor\t: ");
                assert_eq!(lines, &vec!["vendor_id\t: X".to_owned(), String::new()]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ppc_trailer_is_lines() {
        let c = parse_cpuinfo(
            "processor\t: 0\ncpu\t\t: POWER9\n\ntimebase\t: 512000000\nMMU\t\t: Radix\n",
        );
        assert_eq!(c.block_count(), 1);
        assert_eq!(c.items.len(), 3);
        assert_eq!(c.items[2], CpuInfoItem::Line("MMU\t\t: Radix".into()));
    }

    #[test]
    fn s390_layout() {
        let c = parse_cpuinfo(
            "vendor_id       : IBM/S390\n# processors    : 2\nprocessor 0: version = 00,  identification = 0123A8,  machine = 8561\nprocessor 1: version = 00,  identification = 0123A8,  machine = 8561\n\ncpu number      : 0\ncpu MHz static  : 5200\n\ncpu number      : 1\ncpu MHz static  : 5200\n",
        );
        assert!(c.s390);
        assert_eq!(c.block_count(), 2);
        assert!(c
            .items
            .iter()
            .any(|i| matches!(i, CpuInfoItem::S390Processor { number: 1, .. })));
    }
}
