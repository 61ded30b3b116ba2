//! Open files: what each open file serves.
//!
//! Semantics are the kernel's `single_open` seq_file (and LXCFS's): a read at offset 0 —
//! also after `lseek(0)` on a file kept open, as `top`, `vmstat` and `free -s` do —
//! takes the current rendering; reads at later offsets continue from that same rendering,
//! so a reader that reads in small pieces sees one consistent file, never a torn mix of
//! two samples. A read at an offset > 0 before any read at 0 takes a rendering too
//! (LXCFS returns EOF there).
//!
//! The table is lock-free and allocates nothing per open: a slab of slots in lazily
//! allocated chunks; open claims a free slot with compare-and-swap, release frees it.
//! A handle is `epoch << 48 | generation << 32 | (slot + 1)`: the generation makes a
//! stale handle miss a reused slot; the epoch is the serving process's, so after a
//! restart the handles the kernel still holds (from the previous process) are told apart
//! and served from a small side table ([`HandleTable::foreign`]) until released.

use crate::error::{Error, Result};
use crate::snapshot::store::Rendered;
use arc_swap::ArcSwapOption;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

const CHUNK: usize = 1024;
/// At most 262 144 files open at once; one more open fails with `EMFILE`.
/// At most 262 144 files open at once; one more open fails with `EMFILE`.
const MAX_CHUNKS: usize = 256;

/// A file handle as the kernel holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileHandle(pub u64);

#[derive(Default)]
struct Slot {
    /// 0 while free, else the (16-bit, never 0) generation of the open occupying it.
    tag: AtomicU32,
    content: ArcSwapOption<Rendered>,
}

/// All open files.
pub(crate) struct HandleTable {
    epoch: u16,
    chunks: Box<[OnceLock<Box<[Slot]>>]>,
    allocated: AtomicUsize,
    cursor: AtomicUsize,
    generation: AtomicU32,
    /// Handles of a previous serving process: content by handle, until released.
    foreign: Mutex<HashMap<u64, Arc<Rendered>>>,
}

impl HandleTable {
    /// A table whose handles carry `epoch` (never 0 for a daemon: the supervisor numbers
    /// serving processes from 1).
    pub(crate) fn new(epoch: u16) -> HandleTable {
        HandleTable {
            epoch,
            chunks: (0..MAX_CHUNKS).map(|_| OnceLock::new()).collect(),
            allocated: AtomicUsize::new(1),
            cursor: AtomicUsize::new(0),
            generation: AtomicU32::new(1),
            foreign: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, index: usize) -> &Slot {
        let chunk = self.chunks[index / CHUNK]
            .get_or_init(|| (0..CHUNK).map(|_| Slot::default()).collect());
        &chunk[index % CHUNK]
    }

    /// A new handle with no content yet.
    pub(crate) fn open(&self) -> Result<FileHandle> {
        let generation = (self.generation.fetch_add(1, Ordering::Relaxed) & 0xffff).max(1);
        loop {
            let allocated = self.allocated.load(Ordering::Acquire);
            let slots = allocated * CHUNK;
            let start = self.cursor.fetch_add(1, Ordering::Relaxed);
            for i in 0..slots {
                let index = (start + i) % slots;
                let slot = self.slot(index);
                if slot
                    .tag
                    .compare_exchange(0, generation, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    slot.content.store(None);
                    return Ok(FileHandle(
                        (u64::from(self.epoch) << 48)
                            | (u64::from(generation) << 32)
                            | (index as u64 + 1),
                    ));
                }
            }
            if allocated >= MAX_CHUNKS {
                return Err(Error::TooManyOpen);
            }
            // Every slot is taken: open one more chunk (racing openers agree on the max).
            self.allocated.fetch_max(allocated + 1, Ordering::AcqRel);
        }
    }

    /// The slot of `fh` if it belongs to this table and is open.
    fn own(&self, fh: FileHandle) -> Option<&Slot> {
        if (fh.0 >> 48) as u16 != self.epoch {
            return None;
        }
        let index = usize::try_from(fh.0 & 0xffff_ffff).ok()?.checked_sub(1)?;
        if index >= self.allocated.load(Ordering::Acquire) * CHUNK {
            return None;
        }
        let slot = self.slot(index);
        (slot.tag.load(Ordering::Acquire) == ((fh.0 >> 32) & 0xffff) as u32).then_some(slot)
    }

    /// Whether `fh` was handed out by another serving process.
    pub(crate) fn is_foreign(&self, fh: FileHandle) -> bool {
        (fh.0 >> 48) as u16 != self.epoch
    }

    /// What `fh` serves (None: nothing rendered yet).
    pub(crate) fn content(&self, fh: FileHandle) -> Result<Option<Arc<Rendered>>> {
        match self.own(fh) {
            Some(slot) => Ok(slot.content.load_full()),
            None if self.is_foreign(fh) => Ok(self.foreign().get(&fh.0).cloned()),
            None => Err(Error::BadHandle),
        }
    }

    /// Make `fh` serve `content`.
    pub(crate) fn set_content(&self, fh: FileHandle, content: Arc<Rendered>) -> Result<()> {
        match self.own(fh) {
            Some(slot) => {
                slot.content.store(Some(content));
                Ok(())
            }
            None if self.is_foreign(fh) => {
                self.foreign().insert(fh.0, content);
                Ok(())
            }
            None => Err(Error::BadHandle),
        }
    }

    /// Forget `fh`.
    pub(crate) fn release(&self, fh: FileHandle) -> Result<()> {
        if self.is_foreign(fh) {
            self.foreign().remove(&fh.0);
            return Ok(());
        }
        let slot = self.own(fh).ok_or(Error::BadHandle)?;
        slot.content.store(None);
        let tag = ((fh.0 >> 32) & 0xffff) as u32;
        slot.tag
            .compare_exchange(tag, 0, Ordering::AcqRel, Ordering::Relaxed)
            .map(|_| ())
            .map_err(|_| Error::BadHandle)
    }

    fn foreign(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Rendered>>> {
        self.foreign.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open handles of this process and of previous ones (for tests and statistics).
    pub(crate) fn open_count(&self) -> usize {
        let own: usize = self
            .chunks
            .iter()
            .filter_map(|c| c.get())
            .map(|c| {
                c.iter()
                    .filter(|s| s.tag.load(Ordering::Relaxed) != 0)
                    .count()
            })
            .sum();
        own + self.foreign().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(t: &str) -> Arc<Rendered> {
        Arc::new(Rendered {
            generation: 0,
            bytes: t.as_bytes().into(),
        })
    }

    #[test]
    fn open_content_release_and_stale_handles() {
        let t = HandleTable::new(3);
        let a = t.open().unwrap();
        let b = t.open().unwrap();
        assert_ne!(a, b);
        assert!(t.content(a).unwrap().is_none(), "nothing rendered yet");
        t.set_content(a, bytes("hello")).unwrap();
        assert_eq!(&*t.content(a).unwrap().unwrap().bytes, b"hello");
        t.release(a).unwrap();
        assert!(t.content(a).is_err());
        assert!(t.release(a).is_err());
        let c = t.open().unwrap();
        assert_ne!(a, c, "a reused slot gets a new generation");
        assert!(t.content(a).is_err());
        assert!(t.content(FileHandle(3 << 48)).is_err());
        assert_eq!(t.open_count(), 2);
        t.release(b).unwrap();
        t.release(c).unwrap();
        assert_eq!(t.open_count(), 0);
    }

    #[test]
    fn handles_of_a_previous_process_are_served_until_released() {
        let old = HandleTable::new(1);
        let fh = old.open().unwrap();
        let new = HandleTable::new(2);
        assert!(new.is_foreign(fh));
        assert!(new.content(fh).unwrap().is_none());
        new.set_content(fh, bytes("x")).unwrap();
        assert_eq!(&*new.content(fh).unwrap().unwrap().bytes, b"x");
        assert_eq!(new.open_count(), 1);
        new.release(fh).unwrap();
        assert_eq!(new.open_count(), 0);
    }

    #[test]
    fn grows_past_one_chunk() {
        let t = HandleTable::new(1);
        let fhs: Vec<FileHandle> = (0..CHUNK + 10).map(|_| t.open().unwrap()).collect();
        for (i, fh) in fhs.iter().enumerate() {
            t.set_content(*fh, bytes(&i.to_string())).unwrap();
        }
        for (i, fh) in fhs.iter().enumerate() {
            assert_eq!(
                &*t.content(*fh).unwrap().unwrap().bytes,
                i.to_string().as_bytes()
            );
        }
    }
}
