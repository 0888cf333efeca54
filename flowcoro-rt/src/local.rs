//! One thread's cache of one pool, and the thread-local tables that find it:
//! per class, the hot frame and two magazines, the keys the thread has seen,
//! its decay tick and its level for the peak; created on the thread's first
//! call of the pool and handed back to the depot when the thread exits.

#[cfg(feature = "std")]
use alloc::{boxed::Box, vec::Vec};
#[cfg(any(debug_assertions, feature = "std"))]
use core::cell::Cell;
use core::cell::UnsafeCell;
use core::ptr::NonNull;

use crate::decay;
use crate::frame::{CLASSES, free_list};
use crate::freelist::{List, Magazines};
use crate::hot::Visible;
use crate::layout::ClassKey;
#[cfg(feature = "std")]
use crate::shared::MAGAZINE;
use crate::shared::Shared;
use crate::stats::Counters;
use crate::sync::{Ordering::Relaxed, bump};

/// Keys a thread remembers per pool before it asks the shared class table.
const KEYS_KEPT: usize = 8;

/// A size-class redirect that no key has.
const NO_REDIRECT: u8 = u8::MAX;

/// One thread's caches for one pool.
///
/// Other threads read `visible` (through the registry) while the owner works,
/// so the owner never borrows the whole struct mutably: only `state`,
/// through [`LocalPool::with_state`], for the span of one pool operation.
pub(crate) struct LocalPool {
    pub(crate) shared: &'static Shared,
    /// The counters and hot slots, which other threads read to count.
    pub(crate) visible: Visible,
    /// Only through [`LocalPool::with_state`].
    state: UnsafeCell<LocalState>,
    /// Whether `with_state` is running: a second borrow is a bug, caught in
    /// debug builds.
    #[cfg(debug_assertions)]
    in_state: Cell<bool>,
}

/// What only the owning thread touches.
pub(crate) struct LocalState {
    /// Keys this thread asked for, and the class serving each.
    pub(crate) keys: [(u64, u8); KEYS_KEPT],
    /// Keys this pool has no class for, and the size-class pool serving
    /// each (its index among the size-class pools).
    redirects: [(u64, u8); KEYS_KEPT],
    pub(crate) mags: [Magazines; CLASSES],
    /// Calls between two looks at the clock: a power of two from
    /// [`decay::TICK`] to [`decay::MAX_TICK`], back to the least on every
    /// slow-path event. Also the length of a lap of hot-slot frees.
    pub(crate) tick_interval: u64,
    /// Magazine reuses since the last look, counted in steps of
    /// [`decay::TICK`].
    pub(crate) since_tick: u64,
    /// The highest [`level`] this thread reached with its hot slots empty,
    /// while it is the pool's only thread: a take that passes it may be a
    /// new peak of the pool (see [`LocalPool::check_high`]).
    pub(crate) high: High,
    /// This thread's calls (takes and frees) at its last depot visit, which
    /// way that went, and how many visits in a row went
    /// the same way, each a magazine after the last: a stream of frames to
    /// or from another thread.
    pub(crate) depot_at: u64,
    pub(crate) depot_last: Visit,
    pub(crate) depot_run: u32,
}

impl LocalState {
    #[inline(always)]
    pub(crate) fn lookup(&self, key: ClassKey) -> Option<usize> {
        self.keys.iter().find(|(k, _)| *k == key.bits()).map(|&(_, c)| c as usize)
    }

    pub(crate) fn remember(&mut self, key: ClassKey, class: usize) {
        if self.lookup(key).is_some() {
            return;
        }
        if let Some(slot) = self.keys.iter_mut().find(|(k, _)| *k == ClassKey::EMPTY) {
            *slot = (key.bits(), class as u8);
        }
    }

    /// The size-class pool (by index) this thread sent `key` to, if any.
    pub(crate) fn redirect(&self, key: ClassKey) -> Option<usize> {
        self.redirects
            .iter()
            .find(|&&(k, to)| k == key.bits() && to != NO_REDIRECT)
            .map(|&(_, to)| usize::from(to))
    }

    pub(crate) fn remember_redirect(&mut self, key: ClassKey, to: usize) {
        if self.redirect(key).is_some() {
            return;
        }
        if let Some(slot) = self.redirects.iter_mut().find(|(k, _)| *k == ClassKey::EMPTY) {
            *slot = (key.bits(), u8::try_from(to).unwrap_or(NO_REDIRECT));
        }
    }
}

/// Which way a depot visit went.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Visit {
    /// A full magazine to the depot.
    Spill,
    /// Frames from the depot to an empty cache.
    Refill,
}

/// This thread's highest [`level`] while it is a pool's only thread, or
/// that it is not watching.
#[derive(Clone, Copy, Debug)]
pub(crate) struct High(i64);

impl High {
    /// Watching from the next take on: any level passes it.
    pub(crate) const START: High = High(i64::MIN);
    /// Not watching, while other threads use the pool: no level passes it.
    pub(crate) const STOPPED: High = High(i64::MAX);

    /// Whether `level` passes it: a new high (never while stopped).
    #[inline(always)]
    pub(crate) fn passed_by(self, level: i64) -> bool {
        level > self.0
    }

    pub(crate) fn is_stopped(self) -> bool {
        self.0 == Self::STOPPED.0
    }
}

/// What [`LocalPool::check_high`] did with the pool's peak.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Peak {
    /// A new high of this thread, the pool's only one, recorded as its peak.
    Recorded,
    /// No new high, or other threads use the pool.
    Unrecorded,
}

/// A thread's level for a pool: the frames it took minus the frames it gave
/// back, counting the frames in its hot slots as taken (they are, for the
/// counters: a hot-slot reuse is counted by the free that filled the slot).
/// `reused` is the magazine-reuse count, often already in a register. Its
/// live count when the hot slots are empty; negative on a thread that frees
/// more than it takes.
#[inline(always)]
pub(crate) fn level(c: &Counters, reused: u64) -> i64 {
    let taken =
        reused.wrapping_add(c.fresh.load(Relaxed)).wrapping_add(c.heap_fallbacks.load(Relaxed));
    taken.wrapping_sub(c.frees.load(Relaxed)) as i64
}

impl LocalPool {
    #[cfg(feature = "std")]
    /// A leaked, boxed cache, registered with the pool's stats.
    fn boxed(shared: &'static Shared) -> NonNull<LocalPool> {
        let cap = shared.thread_cap.load(Relaxed);
        let lp = Box::new(LocalPool {
            shared,
            visible: Visible::new(shared.settings.magazine(MAGAZINE) > 0),
            #[cfg(debug_assertions)]
            in_state: Cell::new(false),
            state: UnsafeCell::new(LocalState {
                keys: [(ClassKey::EMPTY, 0); KEYS_KEPT],
                redirects: [(ClassKey::EMPTY, NO_REDIRECT); KEYS_KEPT],
                tick_interval: decay::TICK,
                since_tick: 0,
                high: High::START,
                depot_at: 0,
                depot_last: Visit::Refill,
                depot_run: 0,
                mags: core::array::from_fn(|_| Magazines::new(cap)),
            }),
        });
        let lp = NonNull::from(Box::leak(lp));
        // SAFETY: invariant 6: just leaked, alive until `retire`, which unregisters it
        // first.
        shared.register_thread(NonNull::from(&unsafe { lp.as_ref() }.visible));
        lp
    }

    /// Runs `f` on this thread's state: the one borrow of it (invariant 5
    /// in ARCHITECTURE.md). Only the owning thread calls it, the only one
    /// that can reach `self` through its thread-local tables ([`local_pool`]),
    /// or `retire` once no one else can; and no code that runs inside `f`
    /// calls it again, unwinding included: what gives a frame back while
    /// the state is borrowed does it through the depot
    /// (`Held`, in give.rs), never this cache. A debug build checks
    /// that.
    #[inline(always)]
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut LocalState) -> R) -> R {
        #[cfg(debug_assertions)]
        let _entered = Entered::new(&self.in_state);
        // SAFETY: invariant 5: this thread owns the state, and this is its
        // only borrow while `f` runs (checked above in debug builds).
        f(unsafe { &mut *self.state.get() })
    }

    /// This thread's counters.
    #[inline(always)]
    pub(crate) fn counters(&self) -> &Counters {
        &self.visible.counters
    }

    /// Looks at the clock again within [`decay::TICK`] calls, whichever path
    /// they take (owning thread only): traffic may be changing.
    pub(crate) fn watch_closely(&self, st: &mut LocalState) {
        st.tick_interval = decay::TICK;
        self.counters().shorten_hot_lap(decay::TICK);
    }

    /// Empties the hot slot of `class` (owning thread only), into a list.
    pub(crate) fn drain_hot(&self, class: usize) -> List {
        let mut list = List::new();
        let hot = &self.visible.hot[class];
        if !hot.holds_frame() {
            return list;
        }
        // The frame leaves without a reuse: count its free as an ordinary
        // one, so that the frees into hot slots minus their frames stay the
        // reuses. Three words change: one step for readers.
        let counters = self.counters();
        let frame = counters.write(|| {
            counters.unhot_one();
            bump(&counters.frees, 1);
            hot.take()
        });
        if let Some(frame) = frame {
            // SAFETY: a free frame of `class` that the slot owned.
            unsafe { list.push(frame) };
        }
        list
    }

    /// Sends a full magazine to the depot, or to the allocator past
    /// `max_idle`. Returns an empty container for the next spill.
    pub(crate) fn spill(&self, class: usize, batch: List) -> List {
        let limit = self.shared.idle_limit.load(Relaxed) as usize;
        match self.shared.depot_push(class, batch, limit) {
            Ok(empty) => empty,
            Err(mut batch) => {
                let (frames, bytes) = free_list(&mut batch, self.shared.classes.key(class));
                self.counters().release(frames, bytes);
                batch
            }
        }
    }

    /// Puts the free frames of `list` (of `class`) in this thread's
    /// magazines, spilling as they fill.
    pub(crate) fn cache_list(&self, st: &mut LocalState, class: usize, mut list: List) {
        while let Some(p) = list.pop() {
            // SAFETY: a free frame of `class`, handed over by the list.
            if let Some(spill) = unsafe { st.mags[class].push(p) } {
                st.mags[class].restock(self.spill(class, spill));
            }
        }
    }

    /// Sets this thread's magazines to the size the pool's recent peak
    /// calls for, and gives back what they hold beyond it.
    pub(crate) fn sync_cap(&self, st: &mut LocalState) {
        let cap = self.shared.thread_cap.load(Relaxed);
        // Every class follows the one cap: unchanged, nothing to resize.
        if st.mags[0].cap() == cap {
            return;
        }
        for class in 0..CLASSES {
            if let Some(excess) = st.mags[class].set_cap(cap) {
                drop(self.spill(class, excess));
            }
        }
    }

    /// This thread's level has passed its highest (or its hot slots hold
    /// frames at its highest): makes the peak exact for a pool used from one
    /// thread. Empties the hot slots into the magazines, so that the level is
    /// the thread's live count and no later hot-slot reuse can pass it
    /// unseen, then records a new high as the pool's peak. With
    /// other threads on the pool, stops watching (the peak is then a lower
    /// bound, sampled as the pool grows).
    ///
    /// Why no reuse from a hot slot needs the check: the slot's frame was
    /// freed at a level one higher than the reuse brings back, and any take
    /// from the magazines that reaches this thread's highest while a hot
    /// slot holds a frame passes `high` (the level counts that frame), which
    /// empties the slots here.
    #[cold]
    #[inline(never)]
    pub(crate) fn check_high(&self, st: &mut LocalState) -> Peak {
        if self.shared.threads.load(Relaxed) != 1 {
            st.high = High::STOPPED;
            return Peak::Unrecorded;
        }
        for class in 0..CLASSES {
            let hot = self.drain_hot(class);
            if !hot.is_empty() {
                self.cache_list(st, class, hot);
            }
        }
        let live = level(self.counters(), self.counters().reused.load(Relaxed));
        if !st.high.passed_by(live) {
            return Peak::Unrecorded;
        }
        st.high = High(live);
        self.shared.observe_peak();
        Peak::Recorded
    }

    /// Frees what this thread's cache holds (owning thread only): its part
    /// of `trim`. Returns the frames and bytes.
    pub(crate) fn free_cached(&self) -> (u64, u64) {
        self.with_state(|st| {
            let (mut frames, mut bytes) = (0, 0);
            for class in 0..CLASSES {
                let hot = self.drain_hot(class);
                for mut list in st.mags[class].drain().into_iter().chain([hot]) {
                    if !list.is_empty() {
                        let (f, b) = free_list(&mut list, self.shared.classes.key(class));
                        frames += f;
                        bytes += b;
                    }
                }
            }
            (frames, bytes)
        })
    }

    #[cfg(feature = "std")]
    /// Thread exit: hands the cached frames to the depot and the counters to
    /// the pool's retired totals, then frees the cache.
    ///
    /// # Safety
    /// `lp` came from [`LocalPool::boxed`] and is used by no one else, now
    /// or later, but the registry.
    unsafe fn retire(lp: NonNull<LocalPool>) {
        {
            // SAFETY: invariant 6: alive until freed below; shared, as the registry may be
            // reading the counters.
            let this = unsafe { lp.as_ref() };
            this.with_state(|st| {
                for class in 0..CLASSES {
                    let hot = this.drain_hot(class);
                    for list in st.mags[class].drain().into_iter().chain([hot]) {
                        if !list.is_empty() {
                            drop(this.spill(class, list));
                        }
                    }
                }
            });
            this.shared.unregister_thread(NonNull::from(&this.visible));
        }
        // SAFETY: invariant 6: unregistered, so this is the only pointer left to a box
        // leaked by `boxed`.
        drop(unsafe { Box::from_raw(lp.as_ptr()) });
    }
}

/// Marks a [`LocalPool::with_state`] running, for the span of a borrow.
#[cfg(debug_assertions)]
struct Entered<'a>(&'a Cell<bool>);

#[cfg(debug_assertions)]
impl<'a> Entered<'a> {
    fn new(flag: &'a Cell<bool>) -> Self {
        assert!(!flag.replace(true), "a thread's pool state borrowed twice");
        Entered(flag)
    }
}

#[cfg(debug_assertions)]
impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

#[cfg(feature = "std")]
/// The fast view of this thread's caches: a plain array of `LocalPool`
/// pointers indexed by pool, in a thread-local that needs no destructor, so
/// reaching it is one `fs`-relative load with no liveness check.
///
/// The array is owned by [`Owner`], whose destructor retires the caches at
/// thread exit and marks the table dead; a pool call after that (from another
/// thread-local's destructor) takes the slow path and goes to the depot.
struct Table {
    ptr: Cell<*const *mut LocalPool>,
    len: Cell<usize>,
    dead: Cell<bool>,
}

#[cfg(feature = "std")]
/// Owns this thread's caches; dropped at thread exit.
struct Owner {
    pools: UnsafeCell<Vec<*mut LocalPool>>,
}

#[cfg(feature = "std")]
/// An empty entry of `NEAR_TABLE`, copied into each.
#[allow(clippy::declare_interior_mutable_const)]
const NO_POOL: Cell<*mut LocalPool> = Cell::new(core::ptr::null_mut());

#[cfg(feature = "std")]
thread_local! {
    static TABLE: Table = const {
        Table { ptr: Cell::new(core::ptr::null()), len: Cell::new(0), dead: Cell::new(false) }
    };
    static OWNER: Owner = const { Owner { pools: UnsafeCell::new(Vec::new()) } };
    /// The first pools' entries of `Table`, again, at fixed places: reaching
    /// one costs a single thread-local load, with no length to check.
    static NEAR_TABLE: [Cell<*mut LocalPool>; NEAR] =
        const { [NO_POOL; NEAR] };
}

/// Pools registered below this index are in the near table.
pub(crate) const NEAR: usize = 64;
const _: () = assert!(NEAR.is_power_of_two());

#[cfg(feature = "std")]
/// This thread's cache for the pool whose `near` index is `near` (`0`: none):
/// [`local_pool`] in one load.
#[inline(always)]
pub(crate) fn near_pool(near: usize) -> Option<NonNull<LocalPool>> {
    // Entry 0 is never set: no pool has index 0.
    NEAR_TABLE.with(|t| NonNull::new(t[near & (NEAR - 1)].get()))
}

#[cfg(feature = "std")]
/// This thread's cache for the pool at registry index `idx` (`0`: none yet).
///
/// The caller may turn the pointer into a shared reference while it runs:
/// the cache stays registered, and so alive, until its thread exits
/// (invariant 6), and only this thread reaches it through the tables. Its
/// state is borrowed only through [`LocalPool::with_state`] (invariant 5).
#[inline(always)]
pub(crate) fn local_pool(idx: usize) -> Option<NonNull<LocalPool>> {
    TABLE.with(|t| {
        if idx < t.len.get() {
            // SAFETY: `ptr` and `len` describe `Owner`'s vector, which only
            // `local_pool_or_insert` changes, and it updates both.
            NonNull::new(unsafe { *t.ptr.get().add(idx) })
        } else {
            None
        }
    })
}

#[cfg(feature = "std")]
/// This thread's cache for the pool at registry index `idx`, whose shared
/// part is `shared`, created on first use; `None` once the thread is
/// tearing down its thread-locals.
pub(crate) fn local_pool_or_insert(
    idx: usize,
    shared: &'static Shared,
) -> Option<NonNull<LocalPool>> {
    if let Some(lp) = local_pool(idx) {
        return Some(lp);
    }
    if TABLE.with(|t| t.dead.get()) {
        return None;
    }
    OWNER
        .try_with(|owner| {
            // SAFETY: no other borrow of the vector is alive: only this
            // function and `Owner::drop` touch it, neither re-entrantly.
            let pools = unsafe { &mut *owner.pools.get() };
            // Indexed by registry index; entry 0 (no pool) stays null.
            if pools.len() <= idx {
                pools.resize(idx + 1, core::ptr::null_mut());
            }
            if pools[idx].is_null() {
                pools[idx] = LocalPool::boxed(shared).as_ptr();
                if idx < NEAR {
                    NEAR_TABLE.with(|t| t[idx].set(pools[idx]));
                }
            }
            TABLE.with(|t| {
                t.ptr.set(pools.as_ptr());
                t.len.set(pools.len());
            });
            NonNull::new(pools[idx])
        })
        .ok()
        .flatten()
}

#[cfg(feature = "std")]
impl Drop for Owner {
    fn drop(&mut self) {
        TABLE.with(|t| {
            t.len.set(0);
            t.ptr.set(core::ptr::null());
            t.dead.set(true);
        });
        NEAR_TABLE.with(|t| t.iter().for_each(|lp| lp.set(core::ptr::null_mut())));
        for lp in self.pools.get_mut().drain(..) {
            if let Some(lp) = NonNull::new(lp) {
                // SAFETY: the table no longer lists it, and it came from
                // `LocalPool::boxed`.
                unsafe { LocalPool::retire(lp) };
            }
        }
    }
}

/// Without std there are no thread caches: every call takes the pool's
/// shared path (`shared.rs`, the paths of a thread with no cache), under
/// its critical-section locks.
#[cfg(not(feature = "std"))]
#[inline(always)]
pub(crate) fn near_pool(_near: usize) -> Option<NonNull<LocalPool>> {
    None
}

#[cfg(not(feature = "std"))]
#[inline(always)]
pub(crate) fn local_pool(_idx: usize) -> Option<NonNull<LocalPool>> {
    None
}

#[cfg(not(feature = "std"))]
pub(crate) fn local_pool_or_insert(
    _idx: usize,
    _shared: &'static Shared,
) -> Option<NonNull<LocalPool>> {
    None
}
