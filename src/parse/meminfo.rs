//! `/proc/meminfo`: an ordered list of lines; the ones of the form `Key: <n> [kB]` carry
//! their value, everything else is kept verbatim for pass-through.

use super::parse_u64;

/// One line of meminfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MeminfoLine {
    /// The label without the colon (`MemTotal`, `Active(anon)`), empty if the line has none.
    pub(crate) key: String,
    /// The value (in kB where the line says so), when it parsed.
    pub(crate) value: Option<u64>,
    /// The line as the kernel printed it, without the newline.
    pub(crate) raw: String,
}

/// The parsed file, in kernel order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meminfo {
    /// Every line of the file.
    pub(crate) lines: Vec<MeminfoLine>,
}

impl Meminfo {
    /// The value of `key`, if present and numeric.
    pub(crate) fn get(&self, key: &str) -> Option<u64> {
        self.lines
            .iter()
            .find(|l| l.key == key)
            .and_then(|l| l.value)
    }
}

/// Parse meminfo text. Never fails: lines that are not `Key: value` are kept raw.
pub(crate) fn parse_meminfo(text: &str) -> Meminfo {
    let lines = text
        .lines()
        .map(|raw| {
            let (key, value) = match raw.split_once(':') {
                Some((k, rest)) => {
                    let mut words = rest.split_whitespace();
                    let value = words.next().and_then(|w| parse_u64(w).ok());
                    (k.trim().to_owned(), value)
                }
                None => (String::new(), None),
            };
            MeminfoLine {
                key,
                value,
                raw: raw.to_owned(),
            }
        })
        .collect();
    Meminfo { lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_values() {
        let m = parse_meminfo(
            "MemTotal:       24684084 kB\nHugePages_Total:       0\nweird line\nActive(anon):       3676 kB\n",
        );
        assert_eq!(m.lines.len(), 4);
        assert_eq!(m.get("MemTotal"), Some(24684084));
        assert_eq!(m.get("HugePages_Total"), Some(0));
        assert_eq!(m.get("Active(anon)"), Some(3676));
        assert_eq!(m.lines[2].raw, "weird line");
        assert_eq!(m.lines[2].value, None);
    }
}
