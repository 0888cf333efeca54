//! The idle budget: one cap on the bytes that all pools' depots keep, the
//! books of what they keep while a cap is set, and giving back when it is
//! passed. A pool's shared part joins on first use, as a [`Holder`].

use alloc::vec::Vec;

use crate::sync::Ordering::Relaxed;
use crate::sync::fixed::{AtomicU64, Mutex, lock};

/// The cap on idle bytes across all pools (`u64::MAX`: none).
static IDLE_BUDGET: AtomicU64 = AtomicU64::new(u64::MAX);
/// Bytes held in all pools' depots, while a budget is set (see [`recount`]).
static DEPOT_BYTES: AtomicU64 = AtomicU64::new(0);
/// Every pool that ever held idle frames.
static HOLDERS: Mutex<Vec<&'static dyn Holder>> = Mutex::new(Vec::new());

/// What the budget asks of a pool.
pub(crate) trait Holder: Sync {
    /// Bytes held in the pool's depots.
    fn depot_bytes(&self) -> u64;
    /// Frees depot frames until the depots hold at most `target` bytes, and
    /// counts them as decayed.
    fn release_down_to(&self, target: u64);
}

/// A pool's shared part joins the budget's books, once.
pub(crate) fn join(holder: &'static dyn Holder) {
    lock(&HOLDERS).push(holder);
}

fn holders() -> Vec<&'static dyn Holder> {
    lock(&HOLDERS).clone()
}

/// Caps the idle memory of all pools together: when the frames cached in
/// the pools' depots pass `bytes`, the pools over their share (the budget
/// split evenly among the pools holding idle frames) give theirs back first.
/// Checked when a thread hands frames to a depot and at each decay pass.
/// Default: unlimited (`u64::MAX`). Each thread's own cache (at most two
/// magazines and a hot frame per class) is outside the budget.
pub fn set_idle_budget(bytes: u64) {
    IDLE_BUDGET.store(bytes, Relaxed);
    recount();
    enforce();
}

/// The current idle budget, in bytes (`u64::MAX`: unlimited).
pub fn idle_budget() -> u64 {
    IDLE_BUDGET.load(Relaxed)
}

/// Whether a budget is set: only then are depot bytes counted.
pub(crate) fn limited() -> bool {
    idle_budget() != u64::MAX
}

/// Whether `bytes` more in a depot would pass the budget.
pub(crate) fn would_pass(bytes: u64) -> bool {
    limited() && DEPOT_BYTES.load(Relaxed).saturating_add(bytes) > idle_budget()
}

/// The budget split evenly among the pools holding idle frames now.
pub(crate) fn fair_share() -> u64 {
    let holding = holders().iter().filter(|h| h.depot_bytes() > 0).count().max(1);
    idle_budget() / holding as u64
}

/// A depot took `bytes` more.
pub(crate) fn added(bytes: u64) {
    if limited() {
        DEPOT_BYTES.fetch_add(bytes, Relaxed);
    }
}

/// A depot gave `bytes` up. Saturating: a batch pushed while the budget was
/// being set may have gone uncounted (until the next re-count).
pub(crate) fn taken(bytes: u64) {
    if !limited() {
        return;
    }
    let mut held = DEPOT_BYTES.load(Relaxed);
    while let Err(now) =
        DEPOT_BYTES.compare_exchange_weak(held, held.saturating_sub(bytes), Relaxed, Relaxed)
    {
        held = now;
    }
}

/// Sets the depot bytes from the depots themselves. The total is kept up to
/// date only while a budget is set (so that without one, depot exchanges
/// share no counter across pools); it is re-counted when a budget is set and
/// at each decay pass, which also mends any drift from a batch that moved
/// while the budget changed.
pub(crate) fn recount() {
    let total = holders().iter().map(|h| h.depot_bytes()).sum();
    DEPOT_BYTES.store(total, Relaxed);
}

/// Brings the depots' bytes under the budget: pools over their share (the
/// budget split evenly among pools holding idle frames) give back first,
/// largest first.
pub(crate) fn enforce() {
    let budget = idle_budget();
    if DEPOT_BYTES.load(Relaxed) <= budget {
        return;
    }
    let mut holding: Vec<(&'static dyn Holder, u64)> = holders()
        .into_iter()
        .filter_map(|h| {
            let bytes = h.depot_bytes();
            (bytes > 0).then_some((h, bytes))
        })
        .collect();
    holding.sort_by_key(|&(_, bytes)| core::cmp::Reverse(bytes));
    let share = budget / holding.len().max(1) as u64;
    for (holder, bytes) in holding {
        let over = DEPOT_BYTES.load(Relaxed).saturating_sub(budget);
        if over == 0 {
            break;
        }
        let give = over.min(bytes.saturating_sub(share));
        if give > 0 {
            holder.release_down_to(bytes - give);
        }
    }
}
