//! [`MemSource`]: an in-memory kernel for unit tests and the testkit's builders.

use super::{Metadata, NodeKind, Source};
use std::collections::BTreeMap;
use std::io;

#[derive(Clone, Debug)]
enum Node {
    File(Vec<u8>),
    Link(String),
}

/// Kernel paths mapped to contents; directories exist implicitly.
#[derive(Clone, Debug, Default)]
pub struct MemSource {
    nodes: BTreeMap<String, Node>,
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl MemSource {
    /// An empty kernel.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) a file.
    pub fn file(&mut self, path: &str, content: impl AsRef<[u8]>) -> &mut Self {
        self.nodes
            .insert(path.to_owned(), Node::File(content.as_ref().to_vec()));
        self
    }

    /// Add (or replace) a symbolic link.
    pub fn link(&mut self, path: &str, target: &str) -> &mut Self {
        self.nodes
            .insert(path.to_owned(), Node::Link(target.to_owned()));
        self
    }

    /// Remove a file or a whole subtree.
    pub fn remove(&mut self, path: &str) -> &mut Self {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.nodes
            .retain(|k, _| k != path && !k.starts_with(&prefix));
        self
    }

    fn is_dir(&self, path: &str) -> bool {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.nodes
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
    }
}

impl Source for MemSource {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        match self.nodes.get(path) {
            Some(Node::File(c)) => Ok(c.clone()),
            Some(Node::Link(_)) => Err(io::Error::from(io::ErrorKind::InvalidInput)),
            None if self.is_dir(path) => Err(io::Error::from(io::ErrorKind::IsADirectory)),
            None => Err(not_found()),
        }
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        if !self.is_dir(path) {
            return Err(not_found());
        }
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let mut names: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, _)| k[prefix.len()..].split('/').next().map(str::to_owned))
            .collect();
        names.dedup();
        Ok(names)
    }

    fn read_link(&self, path: &str) -> io::Result<String> {
        match self.nodes.get(path) {
            Some(Node::Link(t)) => Ok(t.clone()),
            Some(Node::File(_)) => Err(io::Error::from(io::ErrorKind::InvalidInput)),
            None => Err(not_found()),
        }
    }

    fn metadata(&self, path: &str) -> io::Result<Metadata> {
        let kind = match self.nodes.get(path) {
            Some(Node::File(_)) => NodeKind::File,
            Some(Node::Link(_)) => NodeKind::Symlink,
            None if self.is_dir(path) => NodeKind::Dir,
            None => return Err(not_found()),
        };
        let mode = match kind {
            NodeKind::File => 0o444,
            NodeKind::Dir => 0o555,
            NodeKind::Symlink => 0o777,
        };
        Ok(Metadata { kind, mode })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_children_once_and_reads_files() {
        let mut m = MemSource::new();
        m.file("/a/b/c", "1").file("/a/b/d", "2").file("/a/e", "3");
        m.link("/a/l", "pid:[1]");
        assert_eq!(m.read_dir("/a").unwrap(), vec!["b", "e", "l"]);
        assert_eq!(m.read_dir("/a/b").unwrap(), vec!["c", "d"]);
        assert_eq!(m.read("/a/b/d").unwrap(), b"2");
        assert_eq!(m.read_link("/a/l").unwrap(), "pid:[1]");
        assert_eq!(m.metadata("/a").unwrap().kind, NodeKind::Dir);
        assert!(m.read("/a/x").is_err());
        m.remove("/a/b");
        assert_eq!(m.read_dir("/a").unwrap(), vec!["e", "l"]);
    }
}
