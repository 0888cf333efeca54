//! Every pool: the list a pool joins on its first use, and what reads it,
//! `pools()`, `report()` and `trim_all()`.

use alloc::vec::Vec;

use crate::budget;
use crate::local::NEAR;
use crate::pool::FramePool;
use crate::report::Report;
use crate::stats::PoolStats;
use crate::sync::Ordering;
use crate::sync::fixed::{Mutex, lock};

static POOLS: Mutex<Vec<&'static FramePool>> = Mutex::new(Vec::new());

/// Every pool used so far, in the order they were first used.
pub(crate) fn all() -> Vec<&'static FramePool> {
    lock(&POOLS).clone()
}

/// Registers the pool in the global list on first use; returns its
/// index there, plus one.
pub(crate) fn register(pool: &'static FramePool) -> usize {
    let idx = pool.index.load(Ordering::Acquire);
    if idx != 0 {
        return idx;
    }
    let shared = pool.shared();
    let mut all = lock(&POOLS);
    let idx = pool.index.load(Ordering::Acquire);
    if idx != 0 {
        return idx;
    }
    all.push(pool);
    budget::join(shared);
    let idx = all.len();
    pool.index.store(idx, Ordering::Release);
    if idx < NEAR {
        pool.near.store(idx, Ordering::Release);
    }
    idx
}

/// Every pool used so far, sorted by name.
pub fn pools() -> Vec<PoolStats> {
    let mut stats: Vec<PoolStats> = all().iter().map(|p| p.stats()).collect();
    stats.sort_unstable_by(|a, b| a.name.cmp(b.name));
    stats
}

/// Every pool's stats, as a value whose `Display` is a readable table.
pub fn report() -> Report {
    Report { pools: pools() }
}

/// [`FramePool::trim`] on every pool; returns the bytes released.
pub fn trim_all() -> usize {
    all().iter().map(|p| p.trim()).sum()
}
