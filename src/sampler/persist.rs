//! The sampler's soft state in a form that outlives the serving process.
//!
//! Load averages and the `/proc/stat` lines are history: a new serving process (after a
//! crash, or an upgrade to a new binary) must continue them, or a reader would see load
//! drop to 0 or counters go backwards. The sampler writes every history before it
//! publishes the snapshots computed from them, so whatever a reader has seen is in the
//! state, and a successor reads it at start.
//!
//! The format is an explicit, versioned text protocol (never an in-memory layout: a new
//! binary must read what an old one wrote, or start afresh):
//!
//! ```text
//! vproc-state 1
//! view memory=/lxc/c1 cpu=/lxc/c1 cpuacct=/lxc/c1 cpuset=/lxc/c1 io=/lxc/c1 unified=- anchor=1234
//! sampled 183742580000000
//! avenrun 0 0 0
//! cpu_line 1 0 2 3 0 0 0 0 0 0
//! end
//! ```
//!
//! Paths escape `%`, space and control characters as `%XX`; `-` is "none".

use super::history::History;
use crate::cgroup::ContainerId;
use crate::snapshot::ViewKey;
use std::collections::HashMap;
use std::fmt::Write;
use std::io;

const MAGIC: &str = "vproc-state";
const VERSION: u32 = 1;

/// Where the state goes between serving processes.
pub(crate) trait StateStore: Send {
    /// Keep `blob` as the newest state (atomically: a crash during the call leaves the
    /// previous state readable).
    fn save(&mut self, blob: &[u8]) -> io::Result<()>;
    /// The newest complete state, if any.
    fn load(&mut self) -> Option<Vec<u8>>;
}

fn escape(path: &Option<String>, out: &mut String) {
    let Some(p) = path else {
        out.push('-');
        return;
    };
    for c in p.chars() {
        if c == '%' || c == '=' || c.is_whitespace() || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
}

fn unescape(text: &str) -> Option<Option<String>> {
    if text == "-" {
        return Some(None);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Some)
}

fn encode_key(key: &ViewKey, out: &mut String) {
    let c = &key.cgroups;
    out.push_str("view");
    for (name, path) in [
        ("memory", &c.memory),
        ("cpu", &c.cpu),
        ("cpuacct", &c.cpuacct),
        ("cpuset", &c.cpuset),
        ("io", &c.io),
        ("unified", &c.unified),
    ] {
        let _ = write!(out, " {name}=");
        escape(path, out);
    }
    match key.anchor {
        Some(a) => {
            let _ = writeln!(out, " anchor={a}");
        }
        None => out.push_str(" anchor=-\n"),
    }
}

fn decode_key(line: &str) -> Option<ViewKey> {
    let mut key = ViewKey::default();
    let mut fields = line.strip_prefix("view ")?.split(' ');
    let mut next =
        |name: &str| -> Option<&str> { fields.next()?.strip_prefix(name)?.strip_prefix('=') };
    key.cgroups = ContainerId {
        memory: unescape(next("memory")?)?,
        cpu: unescape(next("cpu")?)?,
        cpuacct: unescape(next("cpuacct")?)?,
        cpuset: unescape(next("cpuset")?)?,
        io: unescape(next("io")?)?,
        unified: unescape(next("unified")?)?,
    };
    key.anchor = match next("anchor")? {
        "-" => None,
        a => Some(a.parse().ok()?),
    };
    Some(key)
}

/// Every history in the persisted form.
pub(crate) fn encode_state(histories: &HashMap<ViewKey, History>) -> String {
    let mut out = format!("{MAGIC} {VERSION}\n");
    for (key, h) in histories {
        encode_key(key, &mut out);
        h.encode(&mut out);
        out.push_str("end\n");
    }
    out
}

/// The histories of a persisted state. A state of another version, or a view that does
/// not decode, is skipped with a warning: its counters start afresh.
pub(crate) fn decode_state(text: &str) -> HashMap<ViewKey, History> {
    let mut out = HashMap::new();
    let mut lines = text.lines();
    match lines.next().and_then(|l| l.strip_prefix(MAGIC)) {
        Some(v) if v.trim() == VERSION.to_string() => {}
        other => {
            log::warn!(
                "saved state has version {:?}, this vproc reads {VERSION}: load averages and CPU counters start afresh",
                other.map(str::trim)
            );
            return out;
        }
    }
    while let Some(head) = lines.next() {
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "end").collect();
        match (decode_key(head), History::decode(body.iter().copied())) {
            (Some(key), Some(h)) => {
                out.insert(key, h);
            }
            _ => log::warn!("saved state: skipping an unreadable view ({head:?})"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_odd_paths_round_trip() {
        let mut histories = HashMap::new();
        let key = ViewKey {
            cgroups: ContainerId {
                memory: Some("/a b/c%d=e\nf".into()),
                cpu: None,
                cpuacct: Some("/x".into()),
                ..ContainerId::default()
            },
            anchor: Some(42),
        };
        histories.insert(key.clone(), History::default());
        histories.insert(ViewKey::default(), History::default());
        let text = encode_state(&histories);
        assert_eq!(text.lines().count(), 1 + 2 * 4, "{text}");
        assert_eq!(decode_state(&text), histories);
    }

    #[test]
    fn other_versions_and_garbage_are_skipped() {
        assert!(decode_state("vproc-state 99\nview\nend\n").is_empty());
        assert!(decode_state("").is_empty());
        let good = encode_state(&HashMap::from([(ViewKey::default(), History::default())]));
        let mixed = format!("{good}view nonsense\nsampled 1\nend\n");
        assert_eq!(decode_state(&mixed).len(), 1);
    }
}
