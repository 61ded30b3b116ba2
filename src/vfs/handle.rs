//! Open files: the bytes rendered at open, served at every offset until release.
//!
//! This is the kernel's `single_open` seq_file semantics (and LXCFS's per-open cache):
//! a reader that reads in small pieces sees one consistent rendering, never a torn mix
//! of two samples. Unlike LXCFS, a read at an offset > 0 without a prior read at 0 is
//! served too (the content exists from open on).
//!
//! The table is lock-free: a slab of `ArcSwapOption` slots in lazily allocated chunks.
//! A file handle is `generation << 32 | (slot + 1)`, so a stale handle never reads a
//! reused slot. Open claims a free slot with compare-and-swap; read loads; release
//! clears.

use crate::error::{Error, Result};
use arc_swap::ArcSwapOption;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

const CHUNK: usize = 1024;
const MAX_CHUNKS: usize = 256;

/// Most files open at once (262 144); one more open fails with `EMFILE`.
pub const MAX_OPEN: usize = CHUNK * MAX_CHUNKS;

/// What one open file serves.
#[derive(Debug)]
pub struct OpenFile {
    generation: u32,
    /// The rendered content.
    pub bytes: Box<[u8]>,
}

type Chunk = Box<[ArcSwapOption<OpenFile>]>;

/// All open files.
#[derive(Debug)]
pub struct HandleTable {
    chunks: Box<[OnceLock<Chunk>]>,
    allocated: AtomicUsize,
    cursor: AtomicUsize,
    generation: AtomicU32,
}

impl Default for HandleTable {
    fn default() -> Self {
        HandleTable {
            chunks: (0..MAX_CHUNKS).map(|_| OnceLock::new()).collect(),
            allocated: AtomicUsize::new(1),
            cursor: AtomicUsize::new(0),
            generation: AtomicU32::new(1),
        }
    }
}

impl HandleTable {
    fn slot(&self, index: usize) -> &ArcSwapOption<OpenFile> {
        let chunk = self.chunks[index / CHUNK]
            .get_or_init(|| (0..CHUNK).map(|_| ArcSwapOption::empty()).collect());
        &chunk[index % CHUNK]
    }

    /// Store `bytes` and return the file handle.
    pub fn insert(&self, bytes: Box<[u8]>) -> Result<u64> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed).max(1);
        let file = Arc::new(OpenFile { generation, bytes });
        loop {
            let allocated = self.allocated.load(Ordering::Acquire);
            let slots = allocated * CHUNK;
            let start = self.cursor.fetch_add(1, Ordering::Relaxed);
            for i in 0..slots {
                let index = (start + i) % slots;
                let slot = self.slot(index);
                if slot.load().is_some() {
                    continue;
                }
                let prev = slot.compare_and_swap(&None::<Arc<OpenFile>>, Some(Arc::clone(&file)));
                if prev.is_none() {
                    return Ok((u64::from(generation) << 32) | (index as u64 + 1));
                }
            }
            if allocated >= MAX_CHUNKS {
                return Err(Error::TooManyOpen);
            }
            // Every slot is taken: open one more chunk (racing openers agree on the max).
            self.allocated.fetch_max(allocated + 1, Ordering::AcqRel);
        }
    }

    fn locate(&self, fh: u64) -> Option<(usize, u32)> {
        let index = usize::try_from(fh & 0xffff_ffff).ok()?.checked_sub(1)?;
        (index < self.allocated.load(Ordering::Acquire) * CHUNK)
            .then_some((index, (fh >> 32) as u32))
    }

    /// The open file behind `fh`.
    pub fn get(&self, fh: u64) -> Result<Arc<OpenFile>> {
        let (index, generation) = self.locate(fh).ok_or(Error::BadHandle)?;
        self.slot(index)
            .load_full()
            .filter(|f| f.generation == generation)
            .ok_or(Error::BadHandle)
    }

    /// Forget `fh`.
    pub fn remove(&self, fh: u64) -> Result<()> {
        let file = self.get(fh)?;
        let (index, _) = self.locate(fh).ok_or(Error::BadHandle)?;
        let prev = self.slot(index).compare_and_swap(&Some(file), None);
        if prev
            .as_ref()
            .is_some_and(|p| p.generation == (fh >> 32) as u32)
        {
            Ok(())
        } else {
            Err(Error::BadHandle)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_and_stale_handles() {
        let t = HandleTable::default();
        let a = t.insert(b"hello".to_vec().into()).unwrap();
        let b = t.insert(b"world".to_vec().into()).unwrap();
        assert_ne!(a, b);
        assert_eq!(&*t.get(a).unwrap().bytes, b"hello");
        t.remove(a).unwrap();
        assert!(t.get(a).is_err());
        assert!(t.remove(a).is_err());
        let c = t.insert(b"again".to_vec().into()).unwrap();
        assert_ne!(a, c, "a reused slot gets a new generation");
        assert!(t.get(a).is_err());
        assert_eq!(&*t.get(b).unwrap().bytes, b"world");
        assert!(t.get(0).is_err());
        assert!(t.get(u64::MAX).is_err());
    }

    #[test]
    fn grows_past_one_chunk() {
        let t = HandleTable::default();
        let fhs: Vec<u64> = (0..CHUNK + 10)
            .map(|i| t.insert(i.to_string().into_bytes().into()).unwrap())
            .collect();
        for (i, fh) in fhs.iter().enumerate() {
            assert_eq!(&*t.get(*fh).unwrap().bytes, i.to_string().as_bytes());
        }
    }
}
