//! The plan as a test: the module rules of `ARCHITECTURE.md`, measured from the code.
//!
//! * every `crate::<module>` path in a module's code (comments stripped) must be in its
//!   row of the rule table, and every module under `src/` must have a row;
//! * only `source::host` and `os` allow the banned file methods or use `std::fs`;
//! * `unsafe` only in `sys`; `arc_swap` only in `snapshot::store`, `vfs::handle` and
//!   `identity`; the FUSE protocol module only used by `server`, `supervisor` and
//!   `control`.
#![allow(clippy::disallowed_methods)] // the test reads the sources

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `module → allowed modules`, from the table under "Who may call whom".
fn rules() -> BTreeMap<String, BTreeSet<String>> {
    let doc = fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let table = doc
        .split("## Who may call whom")
        .nth(1)
        .expect("a 'Who may call whom' section");
    let mut out = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let name = cells[0].trim_matches('`').to_owned();
        let allowed = cells[2]
            .split(',')
            .map(|c| c.trim().trim_matches('`').to_owned())
            .filter(|c| !c.is_empty() && c != "—")
            .collect();
        out.insert(name, allowed);
    }
    assert!(out.len() > 10, "the rule table was not found: {out:?}");
    out
}

/// Every source file with its top-level module.
fn sources() -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = root().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            let top = rel
                .split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_owned();
            (top != "lib" && top != "main").then_some((top, p))
        })
        .collect()
}

/// The code of a file without comments (line comments and doc comments).
fn code(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal is rare in this code base and harmless
            // (it only hides the rest of that line from the check).
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a piece of code names through `crate::`.
fn uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

#[test]
fn imports_follow_the_rule_table() {
    let rules = rules();
    let mut broken = Vec::new();
    let mut seen = BTreeSet::new();
    for (module, path) in sources() {
        seen.insert(module.clone());
        let Some(allowed) = rules.get(&module) else {
            broken.push(format!("module `{module}` has no row in ARCHITECTURE.md"));
            continue;
        };
        for used in uses(&code(&path)) {
            if used != module && !allowed.contains(&used) {
                broken.push(format!(
                    "{}: `{module}` uses `{used}`, which its row does not allow",
                    path.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    for module in rules.keys() {
        if !seen.contains(module) {
            broken.push(format!(
                "ARCHITECTURE.md lists `{module}`, which does not exist"
            ));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// The files among `sources()` whose code matches `pred`, relative to `src/`.
fn files_where(pred: impl Fn(&str) -> bool) -> BTreeSet<String> {
    let src = root().join("src");
    sources()
        .into_iter()
        .filter(|(_, p)| pred(&code(p)))
        .map(|(_, p)| p.strip_prefix(&src).unwrap().to_string_lossy().into_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn only_the_edges_touch_the_filesystem() {
    assert_eq!(
        files_where(|c| c.contains("disallowed_methods")),
        set(&["os.rs", "source/host.rs"]),
        "who allows the banned file methods"
    );
    let fs_users =
        files_where(|c| c.contains("std::fs") || c.contains("fs::read") || c.contains("fs::write"));
    assert!(
        fs_users.is_subset(&set(&["os.rs", "source/host.rs"])),
        "std::fs outside the edges: {fs_users:?}"
    );
}

#[test]
fn unsafe_code_and_lock_free_structures_stay_in_their_modules() {
    assert_eq!(files_where(|c| c.contains("unsafe {")), set(&["sys.rs"]));
    assert_eq!(
        files_where(|c| c.contains("arc_swap")),
        set(&["identity.rs", "snapshot/store.rs", "vfs/handle.rs"])
    );
    assert_eq!(
        files_where(|c| c.contains("\"/dev/fuse\"") || c.contains("abi::")),
        set(&["fs/mod.rs", "os.rs"]),
        "the FUSE protocol"
    );
    let lib = fs::read_to_string(root().join("src/lib.rs")).unwrap();
    assert!(lib.contains("#![deny(unsafe_code)]"));
}
