//! A frame's way out of its pool, from the cheapest place to the dearest:
//! the thread's hot slot (inline, for the pool's first layout), the other
//! hot slots and the magazines, a magazine from the depot, a size-class
//! pool for a layout past the pool's classes, new memory. Each take counts
//! itself in the thread's counters, or is counted by the free that filled
//! the hot slot it came from.

use core::ptr::NonNull;

use crate::adaptive::visit_depot;
use crate::decay;
use crate::frame::{Class, Frame, fresh_alloc, heap_alloc};
use crate::give::Held;
use crate::global::register;
use crate::layout::ClassKey;
use crate::lifecycle::reuse_tick;
use crate::local::{
    LocalPool, LocalState, Peak, Visit, level, local_pool, local_pool_or_insert, near_pool,
};
use crate::pool::FramePool;
use crate::reserve::Reserve;
use crate::size_class::overflow_pool;
use crate::size_class::{sc_key, size_class};
use crate::stats::Totals;
use crate::sync::{Ordering, Ordering::Relaxed, Ordering::Release, bump};

/// Takes a frame for `key`: the fast path. A layout past `pool`'s
/// classes is served by a shared size-class pool ([`Class::OVERFLOW`]), and
/// counted here.
// Inlined into each future's code only where it pays: in optimised
// builds. A debug build calls the one copy here.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn take_frame(pool: &'static FramePool, key: ClassKey) -> Frame {
    // The pool's first layout, a non-generic fn's only one, is class 0:
    // its hot frame is the whole inline path. The others, and the
    // magazines, are one call away.
    if pool.first.load(Ordering::Relaxed) == key.bits() {
        if let Some(lp) = near_pool(pool.near.load(Ordering::Relaxed)) {
            // SAFETY: invariant 6: this thread's live cache (`local_pool`).
            let lp = unsafe { lp.as_ref() };
            if let Some(ptr) = lp.visible.hot[0].take() {
                // Counted by the free that filled the slot.
                return Frame { ptr, class: Class::FIRST };
            }
            // SAFETY: `take_near` returns a tagged frame.
            return unsafe { Frame::from_tagged(take_near(pool, lp, key)) };
        }
    }
    // SAFETY: `take_other` returns a tagged frame.
    unsafe { Frame::from_tagged(take_other(pool, key)) }
}

/// [`take_frame`] of the first layout past an empty hot slot, with this
/// thread's cache `lp` at hand: the magazines of class 0, then the slow
/// path. The way a thread that only takes (its frames freed by another)
/// takes every frame. Returns the frame [`tagged`](Frame::tagged).
#[inline(never)]
fn take_near(pool: &'static FramePool, lp: &LocalPool, key: ClassKey) -> NonNull<u8> {
    match lp.with_state(|st| take_cached(pool, lp, st, Class::FIRST, key)) {
        Some(frame) => frame.tagged(),
        None => take_slow(pool, key).tagged(),
    }
}

/// [`take_frame`] past the hot slot of the first layout: a pool past the
/// near table, a layout other than the first one this thread asked for (a
/// generic fn's), the magazines, or an empty cache. Returns the frame
/// [`tagged`](Frame::tagged).
#[inline(never)]
fn take_other(pool: &'static FramePool, key: ClassKey) -> NonNull<u8> {
    if let Some(reserve) = pool.reserve {
        if let Some(frame) = take_static(pool, reserve, key) {
            return frame.tagged();
        }
    }
    if let Some(lp) = local_pool(pool.index.load(Ordering::Relaxed)) {
        // SAFETY: invariant 6: this thread's live cache (`local_pool`).
        let lp = unsafe { lp.as_ref() };
        let cached = lp.with_state(|st| {
            st.lookup(key).and_then(|c| take_cached(pool, lp, st, Class::own(c), key))
        });
        if let Some(frame) = cached {
            return frame.tagged();
        }
    }
    take_slow(pool, key).tagged()
}

/// A frame of the pool's static frames, if one is free and fits,
/// counted (under the registry lock: a pool with static frames is one
/// for a microcontroller, where that lock is a critical section).
#[cold]
fn take_static(pool: &'static FramePool, reserve: &dyn Reserve, key: ClassKey) -> Option<Frame> {
    let (ptr, high) = reserve.take(key)?;
    register(pool);
    let shared = pool.shared();
    shared.add_retired(&Totals { allocations: 1, reused: 1, ..Totals::default() });
    if high {
        shared.observe_peak();
    }
    Some(Frame { ptr, class: Class::STATIC })
}

/// A cached frame of `class` from this thread's `lp`: the hot frame, or
/// one from the magazines.
#[inline]
fn take_cached(
    pool: &'static FramePool,
    lp: &LocalPool,
    st: &mut LocalState,
    class: Class,
    key: ClassKey,
) -> Option<Frame> {
    if let Some(ptr) = lp.visible.hot[class.index()].take() {
        // Counted by the free that filled the slot.
        return Some(Frame { ptr, class });
    }
    let ptr = st.mags[class.index()].pop()?;
    let c = lp.counters();
    let reused = c.reused.load(Relaxed).wrapping_add(1);
    c.reused.store(reused, Release);
    let frame = Frame { ptr, class };
    // A constant mask on a value already in a register (the adaptive
    // interval is counted in `reuse_tick`, off this path), and this thread's
    // level against its highest (see `LocalState::high`).
    if reused % decay::TICK == 0 || st.high.passed_by(level(c, reused)) {
        after_reuse(pool, lp, st, frame, key, reused);
    }
    Some(frame)
}

/// The rare work after a reuse from the magazines: the decay tick, and a
/// new high of this thread's level. Holds the taken frame meanwhile: if
/// anything here unwinds, the frame goes back to the pool's depot.
#[cold]
#[inline(never)]
fn after_reuse(
    pool: &'static FramePool,
    lp: &LocalPool,
    st: &mut LocalState,
    frame: Frame,
    key: ClassKey,
    reused: u64,
) {
    let held = Held { pool, frame, key };
    if reused % decay::TICK == 0 {
        reuse_tick(pool, lp, st);
    }
    lp.check_high(st);
    core::mem::forget(held);
}

#[cold]
#[inline(never)]
fn take_slow(pool: &'static FramePool, key: ClassKey) -> Frame {
    let idx = register(pool);
    let shared = pool.shared();
    let redirected = local_pool(idx).and_then(|lp| {
        // SAFETY: invariant 6: this thread's live cache (`local_pool`).
        let lp = unsafe { lp.as_ref() };
        lp.with_state(|st| st.redirect(key))
    });
    if let Some(to) = redirected {
        return take_overflow(pool, idx, size_class(to), key);
    }
    let class = shared.class_for(key);
    if class.is_none() {
        if let Some((to, sc)) = overflow_pool(pool, key) {
            if let Some(lp) = local_pool_or_insert(idx, shared) {
                // SAFETY: invariant 6: this thread's live cache (`local_pool`).
                let lp = unsafe { lp.as_ref() };
                lp.with_state(|st| st.remember_redirect(key, to));
            }
            shared.classes.note_other(key);
            return take_overflow(pool, idx, sc, key);
        }
    }
    let local = local_pool_or_insert(idx, shared).map(|lp| {
        // SAFETY: invariant 6: this thread's live cache (`local_pool`).
        let lp = unsafe { lp.as_ref() };
        lp.with_state(|st| take_slow_cached(pool, lp, st, class, key))
    });
    match local {
        Some(frame) => frame,
        None => shared.take_orphan(key, class),
    }
}

/// [`take_slow`] with this thread's cache: a heap frame for a layout with
/// no class, or the magazines, refilled from the depot, or new memory.
fn take_slow_cached(
    pool: &'static FramePool,
    lp: &LocalPool,
    st: &mut LocalState,
    class: Option<usize>,
    key: ClassKey,
) -> Frame {
    let shared = pool.shared();
    let c = lp.counters();
    let Some(class) = class else {
        bump(&c.heap_fallbacks, 1);
        bump(&c.bytes_in, key.size() as u64);
        shared.classes.note_other(key);
        let frame = heap_alloc(key);
        check_high_holding(pool, lp, st, frame, key);
        return frame;
    };
    st.remember(key, class);
    // Class 0's own layout (not one that shares it) takes the inline
    // path from now on. Written once: every call of every thread
    // reads the line.
    if class == 0
        && pool.reserve.is_none()
        && pool.first.load(Ordering::Relaxed) != key.bits()
        && shared.classes.key(0) == key
    {
        pool.first.store(key.bits(), Ordering::Relaxed);
    }
    // A slow take (refill or new memory): traffic may be changing,
    // watch the clock closely again, and size the magazines anew.
    lp.watch_closely(st);
    lp.sync_cap(st);
    if pool.settings.prewarm > 0 {
        shared.prewarm_once(class);
    }
    if let Some(frame) = take_cached(pool, lp, st, Class::own(class), key) {
        return frame;
    }
    let mags = &mut st.mags[class];
    let refilled = shared.depot_refill(class, mags.surplus()).map(|batch| mags.load(batch));
    // Noted with the batch in the cache: nothing is lost if it unwinds.
    if refilled.is_some() {
        visit_depot(lp, st, Visit::Refill);
    }
    if let Some(ptr) = refilled.and_then(|()| st.mags[class].pop()) {
        bump(&c.reused, 1);
        let frame = Frame { ptr, class: Class::own(class) };
        check_high_holding(pool, lp, st, frame, key);
        return frame;
    }
    let ckey = shared.classes.key(class);
    bump(&c.fresh, 1);
    bump(&c.bytes_in, ckey.size() as u64);
    let frame = Frame { ptr: fresh_alloc(ckey), class: Class::own(class) };
    let held = Held { pool, frame, key };
    if lp.check_high(st) == Peak::Unrecorded {
        shared.observe_peak();
    }
    core::mem::forget(held);
    frame
}

/// Takes a frame for `key` from the size-class pool `sc`, and counts the
/// call in `pool` as well: as a reuse or new memory, as `sc` served it.
fn take_overflow(
    pool: &'static FramePool,
    idx: usize,
    sc: &'static FramePool,
    key: ClassKey,
) -> Frame {
    let shared = pool.shared();
    let sc_fresh = || {
        local_pool(sc.index.load(Ordering::Relaxed)).map_or(0, |lp| {
            // SAFETY: invariant 6: this thread's live cache (`local_pool`).
            let c = unsafe { lp.as_ref() }.counters();
            c.fresh.load(Relaxed) + c.heap_fallbacks.load(Relaxed)
        })
    };
    let before = sc_fresh();
    let frame = take_frame(sc, sc_key(key));
    let fresh = sc_fresh() != before;
    let frame = Frame { ptr: frame.ptr, class: Class::OVERFLOW };
    match local_pool_or_insert(idx, shared) {
        Some(lp) => {
            // SAFETY: invariant 6: this thread's live cache (`local_pool`).
            let lp = unsafe { lp.as_ref() };
            let c = lp.counters();
            bump(&c.overflow, 1);
            if fresh {
                bump(&c.fresh, 1);
                bump(&c.overflow_fresh, 1);
            } else {
                bump(&c.reused, 1);
            }
            lp.with_state(|st| check_high_holding(pool, lp, st, frame, key));
        }
        None => {
            let t = Totals {
                allocations: 1,
                overflow: 1,
                fresh: u64::from(fresh),
                overflow_fresh: u64::from(fresh),
                reused: u64::from(!fresh),
                ..Totals::default()
            };
            shared.add_retired(&t);
        }
    }
    frame
}

/// [`LocalPool::check_high`] after a slow take, holding the taken frame:
/// if anything unwinds, it goes back.
fn check_high_holding(
    pool: &'static FramePool,
    lp: &LocalPool,
    st: &mut LocalState,
    frame: Frame,
    key: ClassKey,
) {
    if st.high.passed_by(level(lp.counters(), lp.counters().reused.load(Relaxed))) {
        let held = Held { pool, frame, key };
        lp.check_high(st);
        core::mem::forget(held);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::Ordering as StdOrdering;

    use super::take_frame;
    use crate::decay;
    use crate::give::{Held, class_of, give_back};
    use crate::layout::{ClassKey, KeyOf};
    use crate::lifecycle::hooks::with_panic_at;
    use crate::local::local_pool;
    use crate::pool::FramePool;
    use crate::shared::MAGAZINE;
    use crate::sync::Ordering::Relaxed;

    #[test]
    fn a_panic_in_a_decay_look_while_a_frame_is_taken_gives_it_back() {
        static POOL: FramePool = FramePool::new("take::tests::look_panic");
        // Fill the magazines, then take from them until a tick falls due
        // inside a take from the magazines.
        let warm: Vec<_> = (0..2 * MAGAZINE + 1).map(|i| POOL.alloc(async move { i })).collect();
        drop(warm);
        let mut held = Vec::new();
        let mut panicked = 0;
        for i in 0..2 * MAGAZINE {
            match with_panic_at("look", || POOL.alloc(async move { i })) {
                Ok(h) => held.push(h),
                Err(_) => panicked += 1,
            }
        }
        assert_eq!(panicked, 1, "a look ran inside a take");
        drop(held);
        let s = POOL.stats();
        assert_eq!(s.live, 0, "the frame taken before the panic came back: {s:?}");
        assert_eq!(s.allocations, (2 * MAGAZINE + 1) as u64 + 2 * MAGAZINE as u64 - 1 + 1, "{s:?}");
        POOL.trim();
        assert_eq!(POOL.stats().reserved_bytes, 0);
    }

    /// The unwind path of the pool's own work cannot borrow the thread's
    /// state a second time: a frame held meanwhile goes back through the
    /// depot. Here the hot slot is full, so the thread's cache would take
    /// the frame into its magazines, a second borrow (a debug build aborts
    /// on it, and Miri reports it as undefined behaviour).
    #[test]
    fn a_frame_held_while_the_state_is_borrowed_goes_back_without_borrowing_it() {
        static POOL: FramePool = FramePool::new("take::tests::held");
        let key = KeyOf::<[u64; 4]>::KEY;
        let held = take_frame(&POOL, key);
        let other = take_frame(&POOL, key);
        // SAFETY: taken above for `key`, holding no value.
        unsafe { give_back(&POOL, other.ptr, key) };
        let lp = local_pool(POOL.index.load(StdOrdering::Acquire)).expect("this thread's cache");
        // SAFETY: invariant 6: this thread's live cache (`local_pool`).
        let lp = unsafe { lp.as_ref() };
        assert!(lp.visible.hot[0].holds_frame(), "the hot slot is full");
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lp.with_state(|_| {
                let _held = Held { pool: &POOL, frame: held, key };
                panic!("the pool's own work unwinds");
            })
        }));
        assert!(unwound.is_err());
        let s = POOL.stats();
        assert_eq!((s.allocations, s.live), (2, 0), "{s:?}");
        // The state is free again, and the hot frame still there.
        let again = take_frame(&POOL, key);
        assert_eq!(again.ptr, other.ptr);
        // SAFETY: as above.
        unsafe { give_back(&POOL, again.ptr, key) };
        POOL.trim();
        assert_eq!(POOL.stats().reserved_bytes, 0);
    }

    fn seen_keys(pool: &'static FramePool) -> Vec<u64> {
        let lp = local_pool(pool.index.load(StdOrdering::Acquire)).expect("this thread's cache");
        // SAFETY: invariant 6: this thread's live cache (`local_pool`).
        unsafe { lp.as_ref() }.with_state(|st| {
            st.keys.iter().map(|&(k, _)| k).filter(|&k| k != ClassKey::EMPTY).collect()
        })
    }

    #[test]
    fn slow_takes_remember_a_layout_once() {
        static POOL: FramePool = FramePool::new("take::tests::remember");
        // Every one of these takes the slow path (new memory each time).
        let small: Vec<_> = (0..20).map(|i| POOL.alloc(async move { i })).collect();
        let large: Vec<_> = (0..20).map(|_| POOL.alloc(std::future::ready([0u8; 300]))).collect();
        let keys = seen_keys(&POOL);
        assert_eq!(keys.len(), 2, "one entry per layout, not per slow take: {keys:?}");
        drop((small, large));
    }

    #[test]
    fn a_layout_sharing_class_0_keeps_the_first_and_comes_back_to_it() {
        static POOL: FramePool = FramePool::new("take::tests::share_first");
        let first = KeyOf::<std::future::Ready<[u8; 500]>>::KEY;
        drop(POOL.alloc(std::future::ready([0u8; 500])));
        assert_eq!(POOL.first.load(StdOrdering::Relaxed), first.bits());
        // Seven more layouts fill the classes ...
        drop(POOL.alloc(std::future::ready([0u8; 1000])));
        drop(POOL.alloc(std::future::ready([0u8; 2000])));
        drop(POOL.alloc(std::future::ready([0u8; 3000])));
        drop(POOL.alloc(std::future::ready([0u8; 4000])));
        drop(POOL.alloc(std::future::ready([0u8; 5000])));
        drop(POOL.alloc(std::future::ready([0u8; 6000])));
        drop(POOL.alloc(std::future::ready([0u8; 7000])));
        // ... and a smaller one then shares class 0.
        let shared = KeyOf::<std::future::Ready<[u8; 300]>>::KEY;
        assert_eq!(class_of(&POOL, shared), crate::frame::Class::FIRST);
        for round in 0..3 {
            let handles: Vec<_> =
                (0..5).map(|_| POOL.alloc(std::future::ready([0u8; 300]))).collect();
            // Freed on another thread too: it finds the class by the key.
            if round == 1 {
                std::thread::spawn(move || drop(handles)).join().unwrap();
            } else {
                drop(handles);
            }
        }
        // Class 0 is still known by its own layout, the only one inline.
        assert_eq!(POOL.first.load(StdOrdering::Relaxed), first.bits());
        let s = POOL.stats();
        assert_eq!((s.live, s.heap_fallbacks), (0, 0), "{s:?}");
        // The 15 frames of the shared layout came from class 0's frames:
        // new memory only beyond the one class 0 had, and for the others.
        assert_eq!(s.allocations, 8 + 15);
        assert_eq!(s.fresh, 8 + 4, "{s:?}");
    }

    fn tick_state(pool: &'static FramePool) -> (u64, u64) {
        let lp = local_pool(pool.index.load(StdOrdering::Acquire)).expect("this thread's cache");
        // SAFETY: as in `seen_keys`.
        let lp = unsafe { lp.as_ref() };
        let interval = lp.with_state(|st| st.tick_interval);
        (interval, lp.counters().hot_left.load(Relaxed))
    }

    #[test]
    fn busy_laps_grow_and_a_burst_shortens_them_without_losing_counts() {
        static POOL: FramePool = FramePool::new("take::tests::laps");
        let rounds = if cfg!(miri) { 200 } else { 100_000 };
        for i in 0..rounds {
            drop(POOL.alloc(async move { i }));
        }
        let (interval, left) = tick_state(&POOL);
        assert!(left <= interval, "a lap is never longer than the interval: {left} > {interval}");
        // Under Miri the clock is too slow to call these ticks close.
        assert!(interval == decay::MAX_TICK || cfg!(miri), "a busy thread's laps grow: {interval}");
        // A burst spills to the depot: the next look comes within a few calls.
        let burst: Vec<_> = (0..3 * MAGAZINE).map(|i| POOL.alloc(async move { i })).collect();
        drop(burst);
        let (interval, left) = tick_state(&POOL);
        assert_eq!(interval, decay::TICK);
        assert!(left <= decay::TICK, "the lap ends within a tick: {left}");
        let stats = POOL.stats();
        assert_eq!(stats.allocations, (rounds + 3 * MAGAZINE) as u64);
        assert_eq!(stats.live, 0);
        // New memory for the first call and the burst past its hot frame;
        // every other call reused, counted through laps of every length.
        assert_eq!(stats.fresh, 3 * MAGAZINE as u64, "{stats:?}");
        assert_eq!(stats.reused, rounds as u64, "{stats:?}");
    }
}
