//! The shared depot behind the per-thread caches: full magazines of free
//! frames of one class, exchanged whole under a lock that a thread takes
//! once per magazine, never per call, and the empty containers they travel
//! in.
// Items are `pub` so the loom models can reach them through `__loom`;
// outside loom builds the module is private and they stay crate-internal.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use crate::freelist::List;
use crate::sync::{Mutex, lock};

/// Empty containers a depot keeps for threads that spill; more are freed.
const SPARE_CONTAINERS: usize = 16;

#[derive(Debug)]
struct Stacks {
    full: Vec<List>,
    empty: Vec<List>,
    frames: usize,
}

/// Free frames of one class, shared by every thread of a pool.
#[derive(Debug)]
pub struct Depot {
    stacks: Mutex<Stacks>,
}

impl Depot {
    #[cfg(not(loom))]
    pub const fn new() -> Depot {
        Depot { stacks: Mutex::new(Stacks { full: Vec::new(), empty: Vec::new(), frames: 0 }) }
    }

    #[cfg(loom)]
    pub fn new() -> Depot {
        Depot { stacks: Mutex::new(Stacks { full: Vec::new(), empty: Vec::new(), frames: 0 }) }
    }

    /// Frames held.
    pub fn frames(&self) -> usize {
        lock(&self.stacks).frames
    }

    /// Keeps `batch` if the depot stays within `limit` frames, and returns an
    /// empty container in exchange (one without room if the depot has none);
    /// otherwise gives the batch back for the caller to free.
    pub fn push(&self, batch: List, limit: usize) -> Result<List, List> {
        if batch.is_empty() {
            return Ok(batch);
        }
        let mut s = lock(&self.stacks);
        if s.frames + batch.len() > limit {
            return Err(batch);
        }
        s.frames += batch.len();
        s.full.push(batch);
        Ok(s.empty.pop().unwrap_or_default())
    }

    /// Takes one full batch, and keeps `empty` for a later spill: a refill
    /// in one lock.
    pub fn exchange(&self, empty: List) -> Option<List> {
        debug_assert!(empty.is_empty());
        let mut s = lock(&self.stacks);
        if empty.has_room_for(1) && s.empty.len() < SPARE_CONTAINERS {
            s.empty.push(empty);
        }
        let batch = s.full.pop()?;
        s.frames -= batch.len();
        Some(batch)
    }

    /// Takes one full batch.
    pub fn pop(&self) -> Option<List> {
        let mut s = lock(&self.stacks);
        let batch = s.full.pop()?;
        s.frames -= batch.len();
        Some(batch)
    }

    /// Keeps an empty container for a later spill, if there is room for it.
    pub fn put_empty(&self, empty: List) {
        debug_assert!(empty.is_empty());
        if !empty.has_room_for(1) {
            return;
        }
        let mut s = lock(&self.stacks);
        if s.empty.len() < SPARE_CONTAINERS {
            s.empty.push(empty);
        }
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
