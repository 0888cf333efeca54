//! A thread's looks at the clock, driven by its own pool calls: the end of a
//! lap of frees into a hot slot, or a count of reuses, leads to a look,
//! which may run the pool's decay step (in `shared.rs`: the idle bound from
//! the recent peak, the excess freed) and, now and then, the pass over
//! every pool, which also enforces the idle budget.
//!
//! No thread of ours and no clock read per call: a thread ticks at the end
//! of each lap of frees into a pool's hot slot, or every [`decay::TICK`]
//! reuses from its magazines (see `decay.rs` for the intervals).

use crate::budget;
use crate::decay;
use crate::decay::Instant;
use crate::global;
use crate::local::{High, LocalPool, LocalState};
use crate::pool::FramePool;
use crate::sync::fixed::AtomicU64;
use crate::sync::{Ordering, Ordering::Relaxed};

/// When the last pass over every pool ran, in [`decay::millis`].
static LAST_PASS: AtomicU64 = AtomicU64::new(0);

/// The end of a lap of this thread's hot-slot frees: a look at the clock,
/// and the next lap, as long as the interval the look chose.
#[cold]
#[inline(never)]
pub(crate) fn end_hot_lap(pool: &'static FramePool, lp: &LocalPool) {
    lp.with_state(|st| {
        st.since_tick = 0;
        // The next lap first, as long as the interval so far: the look
        // below sets the one after it, and if it unwinds the count goes on.
        lp.counters().start_hot_lap(st.tick_interval);
        look(pool, lp, st);
    });
}

/// Every [`decay::TICK`] reuses from a thread's magazines: once
/// `st.tick_interval` calls have passed since the last look, a look.
pub(crate) fn reuse_tick(pool: &'static FramePool, lp: &LocalPool, st: &mut LocalState) {
    st.since_tick += decay::TICK;
    if st.since_tick < st.tick_interval {
        return;
    }
    st.since_tick = 0;
    look(pool, lp, st);
}

/// A look at the clock (unless this thread looked very recently), the
/// next interval between looks, and maybe a decay step, after which this
/// thread's magazines shrink to what the pool's decayed peak calls for
/// (the owner gives back its own cache: no other thread touches it).
/// Runs with no frame in flight, or with one held by an unwind guard.
fn look(pool: &'static FramePool, lp: &LocalPool, st: &mut LocalState) {
    #[cfg(all(test, not(loom)))]
    hooks::inject("look");
    let (next, now) = decay::tick(st.tick_interval);
    st.tick_interval = next;
    let Some(now) = now else {
        return;
    };
    let shared = pool.shared();
    shared.decay_step(now);
    lp.sync_cap(st);
    if st.high.is_stopped() && shared.threads.load(Relaxed) == 1 {
        // The other threads are gone: the peak can be exact again.
        st.high = High::START;
    }
    let ms = decay::millis(now);
    let last = LAST_PASS.load(Ordering::Relaxed);
    if ms.saturating_sub(last) >= decay::PASS.as_millis() as u64
        && LAST_PASS.compare_exchange(last, ms, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        decay_pass(now);
    }
}

/// Tells the pools, in a `no_std` build, that `elapsed` has passed since
/// the last call (or since start), and runs their decay: each pool's idle
/// bound follows its decayed recent peak, and the frames its depot keeps
/// beyond that go back to the allocator; the idle budget is enforced.
///
/// Without std there is no clock: call this now and then (every second,
/// from a timer task, say) for idle memory to go back by itself; without
/// it, idle frames stay bounded by each pool's peak and `max_idle`, and
/// [`trim_all`](crate::trim_all) frees them. (With std, each thread looks at
/// the clock as it calls its pools, and this function does not exist.)
#[cfg(not(feature = "std"))]
pub fn tick(elapsed: core::time::Duration) {
    decay_pass(decay::advance(elapsed));
}

/// A decay step on every pool (for the pools that see no traffic), then the
/// idle budget re-counted and enforced.
fn decay_pass(now: Instant) {
    for pool in global::all() {
        if let Some(shared) = pool.shared_if_used() {
            shared.decay_step(now);
        }
    }
    if budget::limited() {
        budget::recount();
        budget::enforce();
    }
}

/// Test-only places where a test can make the pool's own code panic, to
/// check that nothing it holds is stranded.
#[cfg(all(test, not(loom)))]
pub(crate) mod hooks {
    use core::cell::Cell;

    thread_local! {
        /// A place in the pool's code (see [`inject`]) where the next pass
        /// on this thread panics.
        static PANIC_AT: Cell<Option<&'static str>> = const { Cell::new(None) };
    }

    /// Panics here if a test asked for it (once).
    pub(crate) fn inject(site: &'static str) {
        if PANIC_AT.with(|at| at.get() == Some(site)) {
            PANIC_AT.with(|at| at.set(None));
            panic!("injected panic at {site}");
        }
    }

    /// Runs `f` with a panic injected at `site`.
    pub(crate) fn with_panic_at<R>(
        site: &'static str,
        f: impl FnOnce() -> R,
    ) -> std::thread::Result<R> {
        PANIC_AT.with(|at| at.set(Some(site)));
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        PANIC_AT.with(|at| at.set(None));
        out
    }
}
