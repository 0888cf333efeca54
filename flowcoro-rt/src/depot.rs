//! The shared depot behind the per-thread caches: full batches of free frames
//! of one class, exchanged whole under a lock that a thread takes once per
//! magazine, never per call.
// Items are `pub` so the loom models can reach them through `__loom`;
// outside loom builds the module is private and they stay crate-internal.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use core::ptr;

use crate::freelist::{FreeNode, List};
use crate::sync::{Mutex, lock};

#[derive(Debug)]
struct Batches {
    /// Head frame of the first batch; each batch head links the next.
    head: *mut FreeNode,
    frames: usize,
}

// SAFETY: the depot owns the free frames it links (see `List`'s `Send`).
unsafe impl Send for Batches {}

/// Free frames of one class, shared by every thread of a pool.
#[derive(Debug)]
pub struct Depot {
    batches: Mutex<Batches>,
}

impl Depot {
    #[cfg(not(loom))]
    pub const fn new() -> Depot {
        Depot { batches: Mutex::new(Batches { head: ptr::null_mut(), frames: 0 }) }
    }

    #[cfg(loom)]
    pub fn new() -> Depot {
        Depot { batches: Mutex::new(Batches { head: ptr::null_mut(), frames: 0 }) }
    }

    /// Frames held.
    pub fn frames(&self) -> usize {
        lock(&self.batches).frames
    }

    /// Keeps `batch` if the depot stays within `limit` frames; otherwise
    /// gives it back for the caller to free.
    pub fn push(&self, batch: List, limit: usize) -> Result<(), List> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut b = lock(&self.batches);
        if b.frames + batch.len() > limit {
            return Err(batch);
        }
        let len = batch.len();
        let (head, _) = batch.into_raw();
        // SAFETY: `head` is the first frame of a non-empty list we now own;
        // its `FreeNode` is valid and only we touch it.
        unsafe {
            (*head).batch_next = b.head;
            (*head).batch_len = len;
        }
        b.head = head;
        b.frames += len;
        Ok(())
    }

    /// Takes one batch.
    pub fn pop(&self) -> Option<List> {
        let mut b = lock(&self.batches);
        if b.head.is_null() {
            return None;
        }
        let head = b.head;
        // SAFETY: `head` is a batch head pushed by `push`, which wrote both
        // fields; the lock gives us exclusive access to it.
        let (next, len) = unsafe { ((*head).batch_next, (*head).batch_len) };
        b.head = next;
        b.frames -= len;
        debug_assert!(len > 0);
        // SAFETY: `head` and `len` describe the list `push` took apart.
        Some(unsafe { List::from_raw(head, len) })
    }

    /// Takes every batch.
    #[cfg(loom)]
    pub fn take_all(&self) -> Vec<List> {
        let mut out = Vec::new();
        while let Some(l) = self.pop() {
            out.push(l);
        }
        out
    }
}
