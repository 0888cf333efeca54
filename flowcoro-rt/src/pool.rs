//! `FramePool`: the per-function pool, its per-thread caches and its depot.
//!
//! Shape of the memory path:
//!
//! ```text
//!  alloc / free ──► thread cache (per class: the hot frame, then two
//!                        │  magazines; no lock, no RMW)
//!                        │  one full magazine at a time
//!                        ▼
//!                   depot (per class, a mutex taken once per magazine)
//!                        │  beyond `max_idle`
//!                        ▼
//!                   global allocator
//! ```
//!
//! Every frame is its own allocation, so a slot never moves while its frame
//! lives and an idle frame can be given back alone.

use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::ptr::NonNull;
use std::alloc::{alloc, dealloc, handle_alloc_error};
use std::sync::OnceLock;
use std::sync::atomic::{
    AtomicU64 as AtomicU64Std, AtomicUsize as AtomicUsizeStd, Ordering as StdOrdering,
};
use std::time::Instant;

use crate::decay;
use crate::depot::Depot;
use crate::freelist::{List, Magazines};
use crate::layout::{ClassKey, MAX_POOLED_SIZE, MIN_ALIGN};
use crate::stats::{Counters, PoolStats, Totals};
use crate::sync::{
    AtomicPtr, AtomicU64, AtomicUsize, Mutex, Ordering::Relaxed, Ordering::Release, bump, lock,
};

/// Layout classes one pool serves from its own caches. A generic fn gets one
/// class per distinct frame layout; past this many, a layout shares the
/// smallest class that holds it (at most twice its size), and only a layout
/// that fits none is allocated alone.
pub(crate) const CLASSES: usize = 8;
/// Masks a class index into range, which spares the fast path a bounds check.
const CLASS_MASK: usize = CLASSES - 1;
const _: () = assert!(CLASSES.is_power_of_two() && CLASSES <= HEAP as usize);

/// Frames per magazine: a thread exchanges this many with the depot at once.
pub const MAGAZINE: usize = if cfg!(miri) { 4 } else { 32 };

/// `max_idle` unset: the pool tunes its idle bound itself.
const SELF_TUNED: usize = usize::MAX;

/// The cap on idle bytes across all pools (`u64::MAX`: none).
static IDLE_BUDGET: AtomicU64Std = AtomicU64Std::new(u64::MAX);
/// Bytes held in all pools' depots, while a budget is set (see
/// [`recount_depot_bytes`]).
static DEPOT_BYTES: AtomicU64Std = AtomicU64Std::new(0);
/// When the last pass over every pool ran, in [`decay::millis`].
static LAST_PASS: AtomicU64Std = AtomicU64Std::new(0);

/// Keys a thread remembers per pool before it asks the shared class table.
const SEEN: usize = 8;

/// Marks a frame allocated alone, outside the pool's classes.
pub(crate) const HEAP: u8 = u8::MAX;
/// Marks a frame of a shared size-class pool, taken for a layout this pool
/// has no class for: it goes back there, and this pool counts the call.
pub(crate) const OVERFLOW: u8 = 62;

/// A typed pool of `async fn` frames: the memory a `#[pooled]` function's
/// calls live in.
///
/// The attribute puts one in a `static` inside each function, so you rarely
/// touch it; use it directly to pool futures you build by hand:
///
/// ```
/// use flowcoro_rt::FramePool;
///
/// static POOL: FramePool = FramePool::new("app::answer").with_max_idle(64);
///
/// let fut = POOL.alloc(async { 6 * 7 });
/// assert_eq!(pollster_block_on(fut), 42);
/// assert_eq!(POOL.stats().live, 0);
/// # fn pollster_block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop {
/// #         if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
/// #     }
/// # }
/// ```
///
/// # Cost
///
/// An allocation and a free on the same thread each touch only that thread's
/// cache: no lock, no atomic read-modify-write, no shared cache line. A call
/// that completes before the next one starts hands its frame over through a
/// one-frame hot slot (a load and a store each way); for the layout the pool
/// served first (a non-generic fn's only one) the slot is found with no
/// lookup. Behind it, magazines are
/// arrays of frame pointers: every [`MAGAZINE`]-th free or allocation of a
/// thread moves a whole one to or from the pool's depot under a lock, without
/// touching the frames. A frame freed on another thread than the one that
/// took it goes into the freeing thread's cache, as any other free.
///
/// # Memory
///
/// Frames come from the global allocator one at a time, the first time they
/// are needed (or in one batch on first use, with
/// [`with_prewarm`](FramePool::with_prewarm)), and are cached when they come
/// back. How many the depot keeps:
///
/// - by default, as many as the pool's recent peak of live frames needs, so
///   steady bursty traffic keeps being served from cache. The peak is held
///   for [`DECAY_HOLD`](crate::DECAY_HOLD) and then halves every
///   [`DECAY_HALF_LIFE`](crate::DECAY_HALF_LIFE): after a burst, the idle
///   frames it left behind go back to the allocator within a few seconds,
///   with no call to `trim`;
/// - with [`with_max_idle`](FramePool::with_max_idle), never more than that
///   (per layout class), and decaying the same way below it;
/// - across all pools, never more than [`set_idle_budget`] bytes, the pools
///   over their share giving back first.
///
/// Each thread keeps, per class, a hot frame and at most two magazines of
/// `cap` frames on top: `2 × cap + 1` frames, where `cap` is half the recent
/// peak, at least 1 and at most [`MAGAZINE`] (and `max_idle / 2`, the
/// prewarmed frames counting as a peak). As the peak decays, each thread
/// gives back what its cache holds beyond that at its next look at the
/// clock, so a pool whose calls never overlap much keeps few frames in each
/// thread however many threads free them. A thread that exits hands its
/// cached frames to the depot. [`trim`](FramePool::trim) frees what the
/// depot and the calling thread's cache hold.
///
/// # Layouts
///
/// A pool serves up to eight layouts (a generic fn's instantiations) from
/// classes of its own; a layout that fits a class at most twice its size
/// shares it. A layout past those is served by a shared size-class pool
/// (`flowcoro::size_class::N`, one per power of two): the call is counted
/// by this pool as any other ([`PoolStats::overflow`] says how many) and the
/// memory by the size-class pool. Frames over 1 MiB are allocated alone.
///
/// Decay costs the fast path nothing shared: a thread looks at the clock every
/// few dozen calls (every thousand or so on a busy thread), through a
/// cycle-counter filter that keeps real clock reads to about one per
/// millisecond at most.
pub struct FramePool {
    name: Name,
    max_idle: usize,
    prewarm: usize,
    /// Position in the global registry plus one; `0` until first use.
    index: AtomicUsizeStd,
    /// `index` if below [`NEAR`], else `0`: where this thread's cache for the
    /// pool sits in the near table.
    near: AtomicUsizeStd,
    /// The key of the pool's class 0 (the first layout it served), or
    /// [`ClassKey::EMPTY`]: a frame of this layout needs no lookup for its
    /// class, and the handle no word for it.
    first: AtomicU64Std,
    shared: OnceLock<Shared>,
}

/// Where a pool's name comes from.
#[derive(Clone, Copy)]
enum Name {
    Given(&'static str),
    /// The type name of a function nested in the pooled function.
    Site(fn() -> &'static str),
}

/// The part of a pool all threads share, built on first use.
///
/// Aligned apart from the pool's header: its locks are written on every
/// depot exchange, and the header (`near`, `first`) is read on every call of
/// every thread.
#[repr(align(128))]
struct Shared {
    /// Class keys, set once each under the registry lock.
    classes: [AtomicU64; CLASSES],
    depots: [Depot; CLASSES],
    registry: Mutex<Registry>,
    /// The largest key served outside the classes (allocated alone, or by
    /// a size-class pool), for `frame_size`.
    largest_other: AtomicU64,
    /// Frames each depot may hold now: `max_idle`, or the self-tuned bound.
    idle_limit: AtomicU64,
    /// Frames per magazine in each thread's cache now, from the recent peak.
    thread_cap: AtomicUsize,
    /// Threads with a cache for this pool (registered, not exited): the
    /// peak is exact while there is one.
    threads: AtomicUsize,
}

#[derive(Default)]
struct Registry {
    /// One block per thread that has used the pool and not exited.
    threads: Vec<ThreadRef>,
    /// What exited threads, trims and orphan frees counted.
    retired: Totals,
    peak: u64,
    /// The remembered recent peak, and when it was seen.
    tuned_peak: u64,
    tuned_at: Option<Instant>,
    last_decay: Option<Instant>,
    prewarmed: bool,
}

impl Registry {
    /// Takes `live` at `now` into the remembered peak; returns the peak as
    /// it stands after decay.
    fn remember_peak(&mut self, live: u64, now: Instant) -> u64 {
        let remembered = self.tuned_at.map_or(0, |at| decay::decayed(self.tuned_peak, at, now));
        if live >= remembered {
            self.tuned_peak = live;
            self.tuned_at = Some(now);
            live
        } else {
            remembered
        }
    }
}

/// A frame taken from the pool: its memory and the class that serves it.
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) ptr: NonNull<u8>,
    pub(crate) class: u8,
}

const TAG: usize = MIN_ALIGN - 1;
const _: () = assert!(HEAP as usize & TAG == TAG && CLASSES <= TAG);
const _: () = assert!(OVERFLOW as usize & TAG == OVERFLOW as usize && OVERFLOW as usize >= CLASSES);

impl Frame {
    /// The frame in one word, so that the out-of-line takes return in a
    /// register: frames are at least [`MIN_ALIGN`]-aligned, which leaves the
    /// class room in the address's low bits.
    #[inline(always)]
    pub(crate) fn tagged(self) -> NonNull<u8> {
        debug_assert!(self.ptr.addr().get() & TAG == 0);
        let class = usize::from(self.class) & TAG;
        self.ptr.map_addr(|a| a | class)
    }

    /// The frame [`tagged`](Frame::tagged) made.
    ///
    /// # Safety
    /// `tagged` came from [`Frame::tagged`].
    #[inline(always)]
    pub(crate) unsafe fn from_tagged(tagged: NonNull<u8>) -> Frame {
        let tag = tagged.addr().get() & TAG;
        let class = if tag == TAG { HEAP } else { tag as u8 };
        // SAFETY: `tagged` is a non-null frame address, a multiple of
        // `MIN_ALIGN`, plus a tag below it: clearing the tag leaves the
        // frame's address, which is not null.
        let ptr = unsafe { NonNull::new_unchecked(tagged.as_ptr().map_addr(|a| a & !TAG)) };
        Frame { ptr, class }
    }
}

static POOLS: std::sync::Mutex<Vec<&'static FramePool>> = std::sync::Mutex::new(Vec::new());

impl FramePool {
    /// A pool named `name` (shown by [`stats`](FramePool::stats) and
    /// [`report`](crate::report)). Nothing is allocated until first use.
    pub const fn new(name: &'static str) -> FramePool {
        FramePool {
            name: Name::Given(name),
            max_idle: SELF_TUNED,
            prewarm: 0,
            index: AtomicUsizeStd::new(0),
            near: AtomicUsizeStd::new(0),
            first: AtomicU64Std::new(ClassKey::EMPTY),
            shared: OnceLock::new(),
        }
    }

    /// Caps the frames the pool's depot keeps, per layout class, when they
    /// come back; beyond that they are freed. Each thread may cache up to
    /// `2 × min(MAGAZINE, max_idle / 2) + 1` more per class (two magazines
    /// and a hot frame; fewer while the recent peak is low). `0` and `1`
    /// free every frame as soon as it comes back. Without it, the bound
    /// follows the pool's recent peak (see [Memory](FramePool#memory)).
    pub const fn with_max_idle(mut self, max_idle: usize) -> FramePool {
        self.max_idle = max_idle;
        self
    }

    /// Reserves `frames` frames in one batch on the pool's first use, so the
    /// first burst of calls does not pay the allocator. They count as idle
    /// (not as allocations), stay cached through decay as a floor of the
    /// self-tuned bound, and are capped by `max_idle` when that is set.
    pub const fn with_prewarm(mut self, frames: usize) -> FramePool {
        self.prewarm = frames;
        self
    }

    /// A pool named after the function `site` is nested in: what
    /// `#[pooled]` uses by default, so that a method's pool is named after
    /// its type (`app::server::Listener::run`, or
    /// `<app::Map as app::Store>::get` in a trait impl) wherever the
    /// attribute is, and two pools never share a default name. `site` is a
    /// function item declared inside the pooled function; the name is its
    /// path without its own last segment, as [`core::any::type_name`] gives
    /// it. Not meant to be called by hand.
    #[doc(hidden)]
    pub const fn at_site<F>(site: &F) -> FramePool {
        let _ = site;
        let mut pool = FramePool::new("");
        pool.name = Name::Site(core::any::type_name::<F>);
        pool
    }

    /// The pool's name.
    pub fn name(&self) -> &'static str {
        match self.name {
            Name::Given(name) => name,
            Name::Site(path) => {
                let path = path();
                path.rsplit_once("::").map_or(path, |(parent, _site)| parent)
            }
        }
    }

    /// The cap on frames the depot keeps per class; `None` when the pool
    /// tunes it from its recent peak.
    pub fn max_idle(&self) -> Option<usize> {
        (self.max_idle != SELF_TUNED).then_some(self.max_idle)
    }

    /// Frames reserved on first use.
    pub fn prewarm(&self) -> usize {
        self.prewarm
    }

    /// Frames per magazine for this pool at most: [`MAGAZINE`], or fewer
    /// under a small `max_idle`.
    fn magazine(&self) -> usize {
        MAGAZINE.min(self.max_idle / 2)
    }

    /// The least idle bound, whatever the recent traffic.
    fn idle_floor(&self) -> u64 {
        self.prewarm.min(self.max_idle) as u64
    }

    /// The magazine size a thread uses for a recent peak of `peak` live
    /// frames: a thread then keeps at most `2 × cap + 1` frames per class,
    /// about what one peak's worth of calls frees. A pool whose calls never
    /// overlap much keeps few frames in each thread, however many threads
    /// free them.
    fn thread_cap(&self, peak: u64) -> usize {
        let want = peak.max(self.idle_floor()).div_ceil(2);
        let most = self.magazine();
        usize::try_from(want).unwrap_or(usize::MAX).clamp(most.min(1), most)
    }

    /// The depot bound for a recent peak of `peak` live frames: enough for
    /// the peak to come back from cache, plus the magazine that frames freed
    /// on another thread travel in; never above `max_idle`.
    fn tuned_limit(&self, peak: u64) -> u64 {
        let in_transit = self.thread_cap(peak) as u64;
        peak.saturating_add(in_transit).max(self.idle_floor()).min(self.max_idle as u64)
    }

    /// Places `fut` in a frame of this pool.
    ///
    /// `fut` is built by the caller and then moved into the frame; prefer
    /// [`alloc_with`](FramePool::alloc_with), which builds it in place, for
    /// large futures.
    #[inline]
    pub fn alloc<F: Future>(&'static self, fut: F) -> Pooled<F> {
        self.alloc_with(move || fut)
    }

    /// Builds the future returned by `make` directly in a frame of this pool.
    ///
    /// This is what `#[pooled]` calls: the frame is taken first and the
    /// future written into it, so the cost of a call does not grow with the
    /// size of its state machine. If `make` panics, the frame goes back.
    #[inline]
    pub fn alloc_with<F: Future, M: FnOnce() -> F>(&'static self, make: M) -> Pooled<F> {
        let key = KeyOf::<F>::KEY;
        let frame = self.take(key);
        let guard = Unwritten { pool: self, frame, key };
        let ptr = frame.ptr.cast::<F>();
        debug_assert!(ptr.as_ptr().is_aligned());
        // SAFETY: `take` returned memory of a class that fits `key`, the
        // layout of `F` rounded up, and that no one else uses.
        unsafe { ptr.as_ptr().write(make()) };
        core::mem::forget(guard);
        // SAFETY: `ptr` now holds an `F` that only the handle owns, taken from
        // this pool for `F`'s class key.
        unsafe { Pooled::from_raw(ptr, self) }
    }

    fn shared(&self) -> &Shared {
        self.shared.get_or_init(|| {
            let shared = Shared::new();
            shared.idle_limit.store(self.tuned_limit(0), Relaxed);
            shared.thread_cap.store(self.thread_cap(0), Relaxed);
            shared
        })
    }

    /// Registers the pool in the global list on first use.
    fn register(&'static self) -> usize {
        let idx = self.index.load(StdOrdering::Acquire);
        if idx != 0 {
            return idx;
        }
        self.shared();
        let mut all = POOLS.lock().unwrap_or_else(|p| p.into_inner());
        let idx = self.index.load(StdOrdering::Acquire);
        if idx != 0 {
            return idx;
        }
        all.push(self);
        let idx = all.len();
        self.index.store(idx, StdOrdering::Release);
        if idx < NEAR {
            self.near.store(idx, StdOrdering::Release);
        }
        idx
    }

    /// Takes a frame for `key`: the fast path. A layout past this pool's
    /// classes is served by a shared size-class pool ([`OVERFLOW`]), and
    /// counted here.
    #[inline(always)]
    pub(crate) fn take(&'static self, key: ClassKey) -> Frame {
        // The pool's first layout, a non-generic fn's only one, is class 0:
        // its hot frame is the whole inline path. The others, and the
        // magazines, are one call away.
        if self.first.load(StdOrdering::Relaxed) == key.bits() {
            if let Some(lp) = near_pool(self.near.load(StdOrdering::Relaxed)) {
                // SAFETY: see `local_pool`.
                if let Some(ptr) = unsafe { lp.as_ref() }.hot[0].take() {
                    // Counted by the free that filled the slot.
                    return Frame { ptr, class: 0 };
                }
            }
        }
        // SAFETY: `take_other` returns a tagged frame.
        unsafe { Frame::from_tagged(self.take_other(key)) }
    }

    /// [`take`](FramePool::take) past the hot slot of the first layout: a
    /// pool past the near table, a layout other than the first one this
    /// thread asked for (a generic fn's), the magazines, or an empty cache.
    /// Returns the frame [`tagged`](Frame::tagged).
    #[inline(never)]
    fn take_other(&'static self, key: ClassKey) -> NonNull<u8> {
        if let Some(lp) = local_pool(self.index.load(StdOrdering::Relaxed)) {
            // SAFETY: see `local_pool`.
            let lp = unsafe { lp.as_ref() };
            // SAFETY: a short borrow of this thread's state, see `local_pool`.
            let st = unsafe { &mut *lp.state.get() };
            if let Some(class) = st.lookup(key) {
                if let Some(frame) = self.take_cached(lp, st, class, key) {
                    return frame.tagged();
                }
            }
        }
        self.take_slow(key).tagged()
    }

    /// A cached frame of `class` from this thread's `lp`: the hot frame, or
    /// one from the magazines.
    #[inline]
    fn take_cached(
        &'static self,
        lp: &LocalPool,
        st: &mut LocalState,
        class: usize,
        key: ClassKey,
    ) -> Option<Frame> {
        let class = class & CLASS_MASK;
        if let Some(ptr) = lp.hot[class].take() {
            // Counted by the free that filled the slot.
            return Some(Frame { ptr, class: class as u8 });
        }
        let ptr = st.mags[class].pop()?;
        let c = &lp.counters;
        let reused = c.reused.load(Relaxed).wrapping_add(1);
        c.reused.store(reused, Release);
        let frame = Frame { ptr, class: class as u8 };
        // A constant mask on a value already in a register (the adaptive
        // interval is counted in `tick`, off this path), and this thread's
        // level against its highest (see `LocalState::high`).
        if reused % decay::TICK == 0 || level(c, reused) > st.high {
            self.after_reuse(lp, st, frame, key, reused);
        }
        Some(frame)
    }

    /// The rare work after a reuse from the magazines: the decay tick, and a
    /// new high of this thread's level. Holds the taken frame meanwhile: if
    /// anything here unwinds, the frame goes back to the pool.
    #[cold]
    #[inline(never)]
    fn after_reuse(
        &'static self,
        lp: &LocalPool,
        st: &mut LocalState,
        frame: Frame,
        key: ClassKey,
        reused: u64,
    ) {
        let held = Unwritten { pool: self, frame, key };
        if reused % decay::TICK == 0 {
            self.tick(lp, st);
        }
        self.check_high(lp, st);
        core::mem::forget(held);
    }

    #[cold]
    #[inline(never)]
    fn take_slow(&'static self, key: ClassKey) -> Frame {
        let idx = self.register();
        let shared = self.shared();
        let redirected = local_pool(idx).and_then(|lp| {
            // SAFETY: see `local_pool`.
            let lp = unsafe { lp.as_ref() };
            // SAFETY: a short borrow of this thread's state, see `local_pool`.
            unsafe { &*lp.state.get() }.redirect(key)
        });
        if let Some(sc) = redirected {
            return self.take_overflow(idx, sc, key);
        }
        let class = shared.class_for(key);
        if class.is_none() {
            if let Some(sc) = self.overflow_pool(key) {
                if let Some(lp) = local_pool_or_insert(idx, self) {
                    // SAFETY: see `local_pool`.
                    let lp = unsafe { lp.as_ref() };
                    // SAFETY: a short borrow of this thread's state.
                    unsafe { &mut *lp.state.get() }.remember_redirect(key, sc);
                }
                shared.note_other(key);
                return self.take_overflow(idx, sc, key);
            }
        }
        let local = local_pool_or_insert(idx, self).map(|lp| {
            // SAFETY: see `local_pool`.
            let lp = unsafe { lp.as_ref() };
            // SAFETY: a short borrow of this thread's state, see `local_pool`.
            let st = unsafe { &mut *lp.state.get() };
            let Some(class) = class else {
                bump(&lp.counters.heap_fallbacks, 1);
                bump(&lp.counters.bytes_in, key.size() as u64);
                shared.note_other(key);
                let frame = heap_alloc(key);
                self.check_high_holding(lp, st, frame, key);
                return frame;
            };
            st.remember(key, class);
            // Class 0's own layout (not one that shares it) takes the inline
            // path from now on. Written once: every call of every thread
            // reads the line.
            if class == 0
                && self.first.load(StdOrdering::Relaxed) != key.bits()
                && shared.key(0) == key
            {
                self.first.store(key.bits(), StdOrdering::Relaxed);
            }
            // A slow take (refill or new memory): traffic may be changing,
            // watch the clock closely again, and size the magazines anew.
            lp.watch_closely(st);
            self.sync_cap(lp, st);
            if self.prewarm > 0 {
                self.prewarm_once(class);
            }
            if let Some(frame) = self.take_cached(lp, st, class, key) {
                return frame;
            }
            let c = &lp.counters;
            let mags = &mut st.mags[class];
            let refilled = shared.depot_refill(class, mags.surplus()).and_then(|batch| {
                mags.load(batch);
                mags.pop()
            });
            if let Some(ptr) = refilled {
                bump(&c.reused, 1);
                let frame = Frame { ptr, class: class as u8 };
                self.check_high_holding(lp, st, frame, key);
                return frame;
            }
            let ckey = shared.key(class);
            bump(&c.fresh, 1);
            bump(&c.bytes_in, ckey.size() as u64);
            let frame = Frame { ptr: fresh_alloc(ckey), class: class as u8 };
            let held = Unwritten { pool: self, frame, key };
            if !self.check_high(lp, st) {
                shared.observe_peak(self);
            }
            core::mem::forget(held);
            frame
        });
        match local {
            Some(frame) => frame,
            None => shared.take_orphan(key, class),
        }
    }

    /// The size-class pool that takes a layout this pool has no class for,
    /// if any. It takes the layout only if it has a class for it: its frames
    /// are then always given back by class, never freed with a layout (a
    /// heap fallback there would be freed with the future's own layout, not
    /// the one it was allocated with). The answer never changes once this
    /// pool's classes are all taken, which is the only time it is asked.
    fn overflow_pool(&'static self, key: ClassKey) -> Option<&'static FramePool> {
        size_class_pool(key)
            .filter(|sc| !core::ptr::eq(*sc, self))
            .filter(|sc| sc.shared().class_for(sc_key(key)).is_some())
    }

    /// Takes a frame for `key` from the size-class pool `sc`, and counts the
    /// call in this pool as well: as a reuse or new memory, as `sc` served it.
    fn take_overflow(&'static self, idx: usize, sc: &'static FramePool, key: ClassKey) -> Frame {
        let sc_fresh = || {
            local_pool(sc.index.load(StdOrdering::Relaxed)).map_or(0, |lp| {
                // SAFETY: see `local_pool`.
                let c = &unsafe { lp.as_ref() }.counters;
                c.fresh.load(Relaxed) + c.heap_fallbacks.load(Relaxed)
            })
        };
        let before = sc_fresh();
        let frame = sc.take(sc_key(key));
        let fresh = sc_fresh() != before;
        let frame = Frame { ptr: frame.ptr, class: OVERFLOW };
        match local_pool_or_insert(idx, self) {
            Some(lp) => {
                // SAFETY: see `local_pool`.
                let lp = unsafe { lp.as_ref() };
                let c = &lp.counters;
                bump(&c.overflow, 1);
                if fresh {
                    bump(&c.fresh, 1);
                    bump(&c.overflow_fresh, 1);
                } else {
                    bump(&c.reused, 1);
                }
                // SAFETY: a short borrow of this thread's state.
                self.check_high_holding(lp, unsafe { &mut *lp.state.get() }, frame, key);
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
                lock(&self.shared().registry).retired.add(&t);
            }
        }
        frame
    }

    /// [`check_high`](FramePool::check_high) after a slow take, holding the
    /// taken frame: if anything unwinds, it goes back.
    fn check_high_holding(
        &'static self,
        lp: &LocalPool,
        st: &mut LocalState,
        frame: Frame,
        key: ClassKey,
    ) {
        if level(&lp.counters, lp.counters.reused.load(Relaxed)) > st.high {
            let held = Unwritten { pool: self, frame, key };
            self.check_high(lp, st);
            core::mem::forget(held);
        }
    }

    /// This thread's level has passed its highest (or its hot slots hold
    /// frames at its highest): makes the peak exact for a pool used from one
    /// thread. Empties the hot slots into the magazines, so that the level is
    /// the thread's live count and no later hot-slot reuse can pass it
    /// unseen, then records a new high as the pool's peak (`true`). With
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
    fn check_high(&'static self, lp: &LocalPool, st: &mut LocalState) -> bool {
        let shared = self.shared();
        if shared.threads.load(Relaxed) != 1 {
            st.high = i64::MAX;
            return false;
        }
        for class in 0..CLASSES {
            let hot = lp.drain_hot(class);
            if !hot.is_empty() {
                self.cache_list(lp, st, class, hot);
            }
        }
        let live = level(&lp.counters, lp.counters.reused.load(Relaxed));
        if live <= st.high {
            return false;
        }
        st.high = live;
        shared.observe_peak(self);
        true
    }

    /// Puts the free frames of `list` (of `class`) in this thread's
    /// magazines, spilling as they fill.
    fn cache_list(
        &'static self,
        lp: &LocalPool,
        st: &mut LocalState,
        class: usize,
        mut list: List,
    ) {
        while let Some(p) = list.pop() {
            // SAFETY: a free frame of `class`, handed over by the list.
            if let Some(spill) = unsafe { st.mags[class].push(p) } {
                st.mags[class].restock(lp.spill(class, spill));
            }
        }
    }

    /// Sets this thread's magazines to the size the pool's recent peak
    /// calls for, and gives back what they hold beyond it.
    fn sync_cap(&'static self, lp: &LocalPool, st: &mut LocalState) {
        let cap = self.shared().thread_cap.load(Relaxed);
        for class in 0..CLASSES {
            if let Some(excess) = st.mags[class].set_cap(cap) {
                drop(lp.spill(class, excess));
            }
        }
    }

    /// Gives a frame back: the fast path. Its class is the one `take` chose
    /// for `key`, found the way `take` found it: for the pool's first layout,
    /// by comparing keys; for another, by looking it up.
    ///
    /// # Safety
    /// `ptr` came from `take(key)` on this pool, and no longer holds a value.
    #[inline(always)]
    pub(crate) unsafe fn give_back(&'static self, ptr: NonNull<u8>, key: ClassKey) {
        if self.first.load(StdOrdering::Relaxed) == key.bits() {
            if let Some(lp) = near_pool(self.near.load(StdOrdering::Relaxed)) {
                // SAFETY: see `local_pool`; the caller's frame, of class 0.
                unsafe { self.give_cached(lp.as_ref(), Frame { ptr, class: 0 }, key) };
                return;
            }
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.give_back_other(ptr, key) }
    }

    /// [`give_back`](FramePool::give_back) past its inline path: a layout
    /// other than the first, or a pool past the near table.
    ///
    /// # Safety
    /// As [`FramePool::give_back`].
    #[inline(never)]
    unsafe fn give_back_other(&'static self, ptr: NonNull<u8>, key: ClassKey) {
        let class = match local_pool(self.index.load(StdOrdering::Relaxed)) {
            Some(lp) => {
                // SAFETY: see `local_pool`.
                let lp = unsafe { lp.as_ref() };
                match self.remembered_class(lp, key) {
                    // SAFETY: forwarded from the caller, with the class
                    // `take` chose.
                    Some(OVERFLOW) => return unsafe { self.give_overflow(ptr, key) },
                    Some(class) => {
                        // SAFETY: as above.
                        return unsafe { self.give_cached(lp, Frame { ptr, class }, key) };
                    }
                    None => self.class_of(key),
                }
            }
            None => self.class_of(key),
        };
        // SAFETY: forwarded from the caller, with the class `take` chose.
        unsafe { self.give_frame(Frame { ptr, class }, key) }
    }

    /// The layout this pool serves `key` as: a size-class pool rounds it up
    /// to its classes.
    #[inline]
    fn served_key(&self, key: ClassKey) -> ClassKey {
        if SIZE_CLASSES.as_ptr_range().contains(&core::ptr::from_ref(self)) {
            sc_key(key)
        } else {
            key
        }
    }

    /// The class this thread's cache `lp` remembers for `key`, if any
    /// ([`OVERFLOW`] for a layout it took from a size-class pool).
    #[inline]
    fn remembered_class(&self, lp: &LocalPool, key: ClassKey) -> Option<u8> {
        // SAFETY: a short borrow of this thread's state, see `local_pool`.
        let st = unsafe { &*lp.state.get() };
        let served = self.served_key(key);
        st.lookup(served).map(|class| class as u8).or_else(|| st.redirect(served).map(|_| OVERFLOW))
    }

    /// The class that serves `key` in this pool, as `take` chose it: this
    /// thread's memory of it, or the pool's, which never changes once
    /// chosen; [`OVERFLOW`] for a layout served by a size-class pool,
    /// [`HEAP`] for one allocated alone.
    pub(crate) fn class_of(&'static self, key: ClassKey) -> u8 {
        if self.first.load(StdOrdering::Relaxed) == key.bits() {
            return 0;
        }
        if let Some(lp) = local_pool(self.index.load(StdOrdering::Relaxed)) {
            // SAFETY: see `local_pool`.
            if let Some(class) = self.remembered_class(unsafe { lp.as_ref() }, key) {
                return class;
            }
        }
        let served = self.served_key(key);
        match self.shared().class_for(served) {
            Some(class) => class as u8,
            None if self.overflow_pool(served).is_some() => OVERFLOW,
            None => HEAP,
        }
    }

    /// Gives back a frame whose class is known: to this thread's cache, or
    /// on the slow path.
    ///
    /// # Safety
    /// `frame` came from `take(key)` on this pool, class included, and no
    /// longer holds a value.
    #[inline(never)]
    unsafe fn give_frame(&'static self, frame: Frame, key: ClassKey) {
        if frame.class == OVERFLOW {
            // SAFETY: forwarded from the caller.
            return unsafe { self.give_overflow(frame.ptr, key) };
        }
        if let Some(lp) = local_pool(self.index.load(StdOrdering::Relaxed)) {
            // SAFETY: see `local_pool`; the caller's frame.
            unsafe { self.give_cached(lp.as_ref(), frame, key) };
            return;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.give_back_slow(frame, key) }
    }

    /// Gives a frame of a size-class pool back to it, and counts the free
    /// here.
    ///
    /// # Safety
    /// As [`FramePool::give_frame`], for a frame of class [`OVERFLOW`].
    #[cold]
    #[inline(never)]
    unsafe fn give_overflow(&'static self, ptr: NonNull<u8>, key: ClassKey) {
        let sc =
            self.overflow_pool(key).expect("a layout that overflowed keeps its size-class pool");
        match local_pool_or_insert(self.register(), self) {
            Some(lp) => {
                // SAFETY: see `local_pool`.
                let c = &unsafe { lp.as_ref() }.counters;
                bump(&c.frees, 1);
                bump(&c.overflow_frees, 1);
            }
            None => {
                let t = Totals { frees: 1, overflow_frees: 1, ..Totals::default() };
                lock(&self.shared().registry).retired.add(&t);
            }
        }
        // SAFETY: `take_overflow` took the frame from `sc` for the same
        // rounded layout, which `sc` finds from `key`.
        unsafe { sc.give_back(ptr, key) }
    }

    /// Caches a free pooled frame in this thread's `lp`: in the hot slot, or
    /// the magazines.
    ///
    /// # Safety
    /// `lp` is this thread's cache for `self` (see `local_pool`); `frame`
    /// came from `take(key)` on this pool, and no longer holds a value.
    #[inline(always)]
    unsafe fn give_cached(&'static self, lp: &LocalPool, frame: Frame, key: ClassKey) {
        // A heap frame's slot is always closed (and a size-class pool's
        // frame's): no separate test for them here.
        if lp.hot[frame.class as usize & HOT_MASK].put(frame.ptr) {
            if lp.counters.hot_free() {
                self.hot_lap(lp);
            }
            return;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.give_to_magazines(lp, frame, key) }
    }

    /// [`give_cached`](FramePool::give_cached) past a full hot slot, out of
    /// line so that the hot path stays small enough to inline everywhere.
    ///
    /// # Safety
    /// As [`FramePool::give_cached`].
    #[inline(never)]
    unsafe fn give_to_magazines(&'static self, lp: &LocalPool, frame: Frame, key: ClassKey) {
        if frame.class == HEAP || frame.class == OVERFLOW {
            // SAFETY: forwarded from the caller.
            return unsafe { self.give_back_slow(frame, key) };
        }
        let class = frame.class as usize & CLASS_MASK;
        // SAFETY: a short borrow of this thread's state, see `local_pool`.
        let st = unsafe { &mut *lp.state.get() };
        bump(&lp.counters.frees, 1);
        // SAFETY: the caller gives us the frame, a free frame of `class`.
        if let Some(spill) = unsafe { st.mags[class].push(frame.ptr) } {
            lp.watch_closely(st);
            self.sync_cap(lp, st);
            st.mags[class].restock(lp.spill(class, spill));
        }
    }

    /// # Safety
    /// As [`FramePool::give_frame`].
    #[cold]
    #[inline(never)]
    unsafe fn give_back_slow(&'static self, frame: Frame, key: ClassKey) {
        if frame.class == OVERFLOW {
            // SAFETY: forwarded from the caller.
            return unsafe { self.give_overflow(frame.ptr, key) };
        }
        let idx = self.register();
        let shared = self.shared();
        let local = local_pool_or_insert(idx, self).map(|lp| {
            // SAFETY: see `local_pool`.
            let lp = unsafe { lp.as_ref() };
            if frame.class == HEAP {
                bump(&lp.counters.frees, 1);
                bump(&lp.counters.heap_frees, 1);
                bump(&lp.counters.bytes_out, key.size() as u64);
                // SAFETY: a heap frame was allocated alone with `key`'s layout.
                unsafe { dealloc(frame.ptr.as_ptr(), key.layout()) };
                return;
            }
            // SAFETY: this thread's cache for the pool; the caller gives us a
            // free pooled frame of it.
            unsafe { self.give_cached(lp, frame, key) };
        });
        if local.is_none() {
            // SAFETY: forwarded from the caller.
            unsafe { shared.give_back_orphan(frame, key, self.max_idle) };
        }
    }

    /// What the pool has done so far. Takes the pool's registry lock and sums
    /// each thread's counters; see [`PoolStats`] for how exact that is.
    pub fn stats(&self) -> PoolStats {
        let Some(shared) = self.shared.get() else {
            return PoolStats::empty(self.name());
        };
        shared.stats(self.name())
    }

    /// Frees the cached frames this thread can reach — the pool's depot and
    /// the calling thread's own cache — and returns the bytes released.
    ///
    /// Other threads' caches are theirs (reaching them would cost the fast path
    /// its lock-freedom); they come back to the depot when those threads
    /// exit, or overflow into it.
    pub fn trim(&self) -> usize {
        let Some(shared) = self.shared.get() else {
            return 0;
        };
        let idx = self.index.load(StdOrdering::Acquire);
        let mut lists: Vec<(usize, List)> = Vec::new();
        if let Some(lp) = local_pool(idx) {
            // SAFETY: see `local_pool`.
            let lp = unsafe { lp.as_ref() };
            // SAFETY: a short borrow of this thread's state, see `local_pool`.
            let st = unsafe { &mut *lp.state.get() };
            for (class, mags) in st.mags.iter_mut().enumerate() {
                lists.push((class, lp.drain_hot(class)));
                lists.extend(mags.drain().into_iter().map(|l| (class, l)));
            }
        }
        for class in 0..CLASSES {
            while let Some(list) = shared.depot_pop(class) {
                lists.push((class, list));
            }
        }
        let mut freed = Totals::default();
        for (class, mut list) in lists.into_iter().filter(|(_, l)| !l.is_empty()) {
            let (frames, bytes) = free_list(&mut list, shared.key(class));
            freed.released += frames;
            freed.trimmed += frames;
            freed.bytes_out += bytes;
        }
        lock(&shared.registry).retired.add(&freed);
        freed.bytes_out as usize
    }
}

impl FramePool {
    /// The end of a lap of this thread's hot-slot frees: a look at the clock,
    /// and the next lap, as long as the interval the look chose.
    #[cold]
    #[inline(never)]
    fn hot_lap(&'static self, lp: &LocalPool) {
        // SAFETY: a short borrow of this thread's state, see `local_pool`.
        let st = unsafe { &mut *lp.state.get() };
        st.since_tick = 0;
        // The next lap first, as long as the interval so far: the look
        // below sets the one after it, and if it unwinds the count goes on.
        lp.counters.hot_lap(st.tick_interval);
        self.look(lp, st);
    }

    /// Every [`decay::TICK`] reuses from a thread's magazines: once
    /// `st.tick_interval` calls have passed since the last look, a look.
    fn tick(&'static self, lp: &LocalPool, st: &mut LocalState) {
        st.since_tick += decay::TICK;
        if st.since_tick < st.tick_interval {
            return;
        }
        st.since_tick = 0;
        self.look(lp, st);
    }

    /// A look at the clock (unless this thread looked very recently), the
    /// next interval between looks, and maybe a decay step, after which this
    /// thread's magazines shrink to what the pool's decayed peak calls for
    /// (the owner gives back its own cache: no other thread touches it).
    /// Runs with no frame in flight, or with one held by an unwind guard.
    fn look(&'static self, lp: &LocalPool, st: &mut LocalState) {
        #[cfg(all(test, not(loom)))]
        tests::inject("look");
        let (next, now) = decay::tick(st.tick_interval);
        st.tick_interval = next;
        let Some(now) = now else {
            return;
        };
        self.decay_step(now);
        self.sync_cap(lp, st);
        if st.high == i64::MAX && self.shared().threads.load(Relaxed) == 1 {
            // The other threads are gone: the peak can be exact again.
            st.high = i64::MIN;
        }
        let ms = decay::millis(now);
        let last = LAST_PASS.load(StdOrdering::Relaxed);
        if ms.saturating_sub(last) >= decay::PASS.as_millis() as u64
            && LAST_PASS
                .compare_exchange(last, ms, StdOrdering::Relaxed, StdOrdering::Relaxed)
                .is_ok()
        {
            decay_pass(now);
        }
    }

    /// Sets the idle bounds from the recent peak and gives the depot's
    /// excess back to the allocator. At most one step per pool every
    /// [`decay::STEP`].
    fn decay_step(&self, now: Instant) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        let mut reg = lock(&shared.registry);
        if reg.last_decay.is_some_and(|last| now.saturating_duration_since(last) < decay::STEP) {
            return;
        }
        reg.last_decay = Some(now);
        let (_, live) = Shared::totals(&mut reg);
        let peak = reg.remember_peak(live, now);
        let limit = self.tuned_limit(peak);
        shared.idle_limit.store(limit, Relaxed);
        shared.thread_cap.store(self.thread_cap(peak), Relaxed);
        drop(reg);
        let freed = shared.shrink_depots(limit);
        if freed.released > 0 {
            let mut reg = lock(&shared.registry);
            reg.retired.add(&Totals { decayed: freed.released, ..freed });
        }
    }

    /// Reserves the `prewarm` frames of `class`, once.
    fn prewarm_once(&self, class: usize) {
        let shared = self.shared();
        {
            let mut reg = lock(&shared.registry);
            if reg.prewarmed {
                return;
            }
            reg.prewarmed = true;
        }
        let key = shared.key(class);
        let mut kept = Totals::default();
        let mut left = self.idle_floor() as usize;
        while left > 0 {
            let n = left.min(MAGAZINE);
            let mut batch = List::new();
            for _ in 0..n {
                // SAFETY: a fresh frame of `class`, ours alone.
                unsafe { batch.push(fresh_alloc(key)) };
            }
            kept.prewarmed += n as u64;
            kept.bytes_in += (n * key.size()) as u64;
            // The floor keeps them: with no limit the depot takes every batch.
            shared.depot_put_back(class, batch);
            left -= n;
        }
        lock(&shared.registry).retired.add(&kept);
    }
}

/// A decay step on every pool, then the idle budget enforced.
fn decay_pass(now: Instant) {
    let all: Vec<&'static FramePool> = POOLS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for pool in &all {
        pool.decay_step(now);
    }
    if IDLE_BUDGET.load(StdOrdering::Relaxed) != u64::MAX {
        recount_depot_bytes(&all);
        enforce_budget(&all);
    }
}

/// Brings the depots' bytes under the idle budget: pools over their share
/// (the budget split evenly among pools holding idle frames) give back first,
/// largest first.
fn enforce_budget(all: &[&'static FramePool]) {
    let budget = IDLE_BUDGET.load(StdOrdering::Relaxed);
    if DEPOT_BYTES.load(StdOrdering::Relaxed) <= budget {
        return;
    }
    let mut holding: Vec<(&'static FramePool, u64)> = all
        .iter()
        .filter_map(|p| {
            let bytes = p.shared.get()?.depot_bytes();
            (bytes > 0).then_some((*p, bytes))
        })
        .collect();
    holding.sort_by_key(|&(_, bytes)| core::cmp::Reverse(bytes));
    let share = budget / holding.len().max(1) as u64;
    for (pool, bytes) in holding {
        let over = DEPOT_BYTES.load(StdOrdering::Relaxed).saturating_sub(budget);
        if over == 0 {
            break;
        }
        let shared = pool.shared();
        let give = over.min(bytes.saturating_sub(share));
        if give == 0 {
            continue;
        }
        let target = bytes - give;
        let freed = shared.shrink_depot_bytes(target);
        if freed.released > 0 {
            lock(&shared.registry).retired.add(&Totals { decayed: freed.released, ..freed });
        }
    }
}

/// Caps the idle memory of all pools together: when the frames cached in
/// the pools' depots pass `bytes`, the pools over their share (the budget
/// split evenly among the pools holding idle frames) give theirs back first.
/// Checked when a thread hands frames to a depot and at each decay pass.
/// Default: unlimited (`u64::MAX`). Each thread's own cache (at most two
/// magazines and a hot frame per class) is outside the budget.
pub fn set_idle_budget(bytes: u64) {
    IDLE_BUDGET.store(bytes, StdOrdering::Relaxed);
    let all: Vec<&'static FramePool> = POOLS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    recount_depot_bytes(&all);
    enforce_budget(&all);
}

/// Sets [`DEPOT_BYTES`] from the depots themselves. The total is kept up to
/// date only while a budget is set (so that without one, depot exchanges
/// share no counter across pools); it is re-counted when a budget is set and
/// at each decay pass, which also mends any drift from a batch that moved
/// while the budget changed.
fn recount_depot_bytes(all: &[&'static FramePool]) {
    let total = all.iter().filter_map(|p| p.shared.get()).map(Shared::depot_bytes).sum();
    DEPOT_BYTES.store(total, StdOrdering::Relaxed);
}

/// The current idle budget, in bytes (`u64::MAX`: unlimited).
pub fn idle_budget() -> u64 {
    IDLE_BUDGET.load(StdOrdering::Relaxed)
}

impl fmt::Debug for FramePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FramePool")
            .field("name", &self.name())
            .field("max_idle", &self.max_idle())
            .field("prewarm", &self.prewarm)
            .finish_non_exhaustive()
    }
}

/// Gives a taken frame back if something unwinds before it holds a value:
/// the future's constructor, or the pool's own work while it holds the frame.
struct Unwritten {
    pool: &'static FramePool,
    frame: Frame,
    key: ClassKey,
}

impl Drop for Unwritten {
    fn drop(&mut self) {
        // SAFETY: the frame came from `take(key)` and holds no value: the
        // unwinding began before it was written.
        unsafe { self.pool.give_frame(self.frame, self.key) };
    }
}

impl Shared {
    fn new() -> Shared {
        Shared {
            classes: core::array::from_fn(|_| AtomicU64::new(ClassKey::EMPTY)),
            depots: core::array::from_fn(|_| Depot::new()),
            registry: Mutex::new(Registry::default()),
            largest_other: AtomicU64::new(0),
            idle_limit: AtomicU64::new(0),
            thread_cap: AtomicUsize::new(0),
            threads: AtomicUsize::new(0),
        }
    }

    fn key(&self, class: usize) -> ClassKey {
        let bits = self.classes[class].load(Relaxed);
        debug_assert_ne!(bits, ClassKey::EMPTY);
        ClassKey::from_bits(bits)
    }

    /// The class that serves `key`, assigning a free one on first sight;
    /// `None` when the frame must be allocated alone.
    fn class_for(&self, key: ClassKey) -> Option<usize> {
        if !key.poolable() {
            return None;
        }
        if let Some(i) = self.classes.iter().position(|k| k.load(Relaxed) == key.bits()) {
            return Some(i);
        }
        let _reg = lock(&self.registry);
        for (i, k) in self.classes.iter().enumerate() {
            let bits = k.load(Relaxed);
            if bits == key.bits() {
                return Some(i);
            }
            if bits == ClassKey::EMPTY {
                k.store(key.bits(), Relaxed);
                return Some(i);
            }
        }
        // Every class is taken: share the smallest one that holds the frame
        // without wasting more than half of it.
        self.classes
            .iter()
            .enumerate()
            .map(|(i, k)| (i, ClassKey::from_bits(k.load(Relaxed))))
            .filter(|(_, k)| k.fits(key) && k.size() <= 2 * key.size())
            .min_by_key(|(_, k)| k.size())
            .map(|(i, _)| i)
    }

    /// Notes a layout served outside the classes, for `frame_size`.
    fn note_other(&self, key: ClassKey) {
        if self.largest_other.load(Relaxed) < key.bits() {
            self.largest_other.fetch_max(key.bits(), Relaxed);
        }
    }

    /// What every thread has done, as far as the registry can tell: the
    /// retired totals plus a snapshot of each registered thread, each figure
    /// kept from going below an earlier snapshot's; and the live count as
    /// read now (never above the real one, unlike a difference of figures
    /// kept at different times).
    fn totals(reg: &mut Registry) -> (Totals, u64) {
        let mut kept = reg.retired;
        let mut now = reg.retired;
        for thread in &mut reg.threads {
            let (floor, read) = thread.snapshot();
            kept.add(&floor);
            now.add(&read);
        }
        (kept, now.live())
    }

    /// Records the live count as a candidate peak: when the pool grows, and
    /// when a thread alone on the pool passes its highest level.
    fn observe_peak(&self, pool: &FramePool) {
        let mut reg = lock(&self.registry);
        let (_, live) = Self::totals(&mut reg);
        reg.peak = reg.peak.max(live);
        // A slow path already (it just called the allocator, or passed a
        // high), so reading the clock here costs little.
        reg.remember_peak(live, Instant::now());
        // A pool that grows keeps room for its new peak when the frames come
        // back; decay takes it down again once the peak is past. A maximum,
        // so that no other writer's bound is lost (decay lowers them under
        // the registry lock, which is held here too).
        self.idle_limit.fetch_max(pool.tuned_limit(live), Relaxed);
        self.thread_cap.fetch_max(pool.thread_cap(live), Relaxed);
    }

    /// Hands a batch to the depot of `class` if it stays within `limit`
    /// frames and the idle budget; otherwise gives it back.
    fn depot_push(&self, class: usize, batch: List, limit: usize) -> Result<List, List> {
        if batch.is_empty() {
            return Ok(batch);
        }
        let bytes = (batch.len() * self.key(class).size()) as u64;
        let budget = IDLE_BUDGET.load(StdOrdering::Relaxed);
        if budget != u64::MAX
            && limit != usize::MAX
            && DEPOT_BYTES.load(StdOrdering::Relaxed) + bytes > budget
        {
            // Over budget: a pool past its fair share gives back at once; one
            // under it keeps the batch and the largest holders make room.
            let all: Vec<&'static FramePool> =
                POOLS.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let holders = all
                .iter()
                .filter(|p| p.shared.get().is_some_and(|s| s.depot_bytes() > 0))
                .count()
                .max(1) as u64;
            if self.depot_bytes() + bytes > budget / holders {
                return Err(batch);
            }
            let empty = self.depots[class].push(batch, limit)?;
            DEPOT_BYTES.fetch_add(bytes, StdOrdering::Relaxed);
            enforce_budget(&all);
            return Ok(empty);
        }
        let empty = self.depots[class].push(batch, limit)?;
        if budget != u64::MAX {
            DEPOT_BYTES.fetch_add(bytes, StdOrdering::Relaxed);
        }
        Ok(empty)
    }

    /// Puts a batch in the depot whatever its limit: frames taken from it a
    /// moment ago (they fitted), or reserved by prewarming (the floor).
    fn depot_put_back(&self, class: usize, batch: List) {
        if let Ok(empty) = self.depot_push(class, batch, usize::MAX) {
            self.depots[class].put_empty(empty);
        }
    }

    /// [`depot_pop`](Shared::depot_pop) for a thread's empty cache, which
    /// hands over its surplus container in the same lock.
    fn depot_refill(&self, class: usize, surplus: List) -> Option<List> {
        let batch = self.depots[class].exchange(surplus)?;
        self.took(class, &batch);
        Some(batch)
    }

    /// Takes a batch from the depot of `class`.
    fn depot_pop(&self, class: usize) -> Option<List> {
        let batch = self.depots[class].pop()?;
        self.took(class, &batch);
        Some(batch)
    }

    /// Accounts for `batch`, just taken from the depot.
    fn took(&self, class: usize, batch: &List) {
        if IDLE_BUDGET.load(StdOrdering::Relaxed) != u64::MAX {
            let bytes = (batch.len() * self.key(class).size()) as u64;
            // Saturating: a batch pushed while the budget was being set may
            // have gone uncounted (until the next re-count).
            let mut held = DEPOT_BYTES.load(StdOrdering::Relaxed);
            while let Err(now) = DEPOT_BYTES.compare_exchange_weak(
                held,
                held.saturating_sub(bytes),
                StdOrdering::Relaxed,
                StdOrdering::Relaxed,
            ) {
                held = now;
            }
        }
    }

    /// Bytes held in this pool's depots.
    fn depot_bytes(&self) -> u64 {
        (0..CLASSES)
            .filter(|&c| self.classes[c].load(Relaxed) != ClassKey::EMPTY)
            .map(|c| (self.depots[c].frames() * self.key(c).size()) as u64)
            .sum()
    }

    /// Frees depot frames until each class holds at most `limit`; returns
    /// what was freed (see [`Depot::shrink`]).
    fn shrink_depots(&self, limit: u64) -> Totals {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut freed = Totals::default();
        for class in 0..CLASSES {
            if self.classes[class].load(Relaxed) == ClassKey::EMPTY {
                continue;
            }
            let key = self.key(class);
            self.depots[class].shrink(limit, |mut doomed| {
                self.took(class, &doomed);
                let (frames, bytes) = free_list(&mut doomed, key);
                freed.released += frames;
                freed.bytes_out += bytes;
            });
        }
        freed
    }

    /// Frees depot frames, class by class, until the depots hold at most
    /// `target` bytes.
    fn shrink_depot_bytes(&self, target: u64) -> Totals {
        let mut freed = Totals::default();
        for class in 0..CLASSES {
            if self.classes[class].load(Relaxed) == ClassKey::EMPTY {
                continue;
            }
            let key = self.key(class);
            while self.depot_bytes() > target {
                let Some(mut batch) = self.depot_pop(class) else { break };
                let (frames, bytes) = free_list(&mut batch, key);
                freed.released += frames;
                freed.bytes_out += bytes;
            }
        }
        freed
    }

    fn stats(&self, name: &'static str) -> PoolStats {
        let mut reg = lock(&self.registry);
        let (t, live) = Self::totals(&mut reg);
        reg.peak = reg.peak.max(live);
        let mut s = PoolStats::empty(name);
        for k in self.classes.iter().map(|k| k.load(Relaxed)).filter(|&b| b != ClassKey::EMPTY) {
            let k = ClassKey::from_bits(k);
            s.frame_size = s.frame_size.max(k.size());
            s.frame_align = s.frame_align.max(k.align());
        }
        let heap = self.largest_other.load(Relaxed);
        if heap != 0 {
            let k = ClassKey::from_bits(heap);
            s.frame_size = s.frame_size.max(k.size());
            s.frame_align = s.frame_align.max(k.align());
        }
        s.allocations = t.allocations;
        s.reused = t.reused;
        s.fresh = t.fresh;
        s.heap_fallbacks = t.heap_fallbacks;
        s.overflow = t.overflow;
        s.live = t.live();
        s.peak_live = reg.peak;
        s.idle = t.idle();
        s.reserved_bytes = t.bytes_in.saturating_sub(t.bytes_out);
        s.decayed = t.decayed;
        s.trimmed = t.trimmed;
        s
    }

    /// Takes a frame on a thread whose cache is already gone (a future built
    /// by another thread-local's destructor). Slow and rare: counted under
    /// the registry lock.
    fn take_orphan(&self, key: ClassKey, class: Option<usize>) -> Frame {
        let mut t = Totals { allocations: 1, ..Totals::default() };
        let frame = match class {
            None => {
                t.heap_fallbacks = 1;
                t.bytes_in = key.size() as u64;
                self.note_other(key);
                heap_alloc(key)
            }
            Some(class) => {
                let reused = self.depot_pop(class).and_then(|mut batch| {
                    let p = batch.pop();
                    self.depot_put_back(class, batch);
                    p
                });
                let ptr = match reused {
                    Some(p) => {
                        t.reused = 1;
                        p
                    }
                    None => {
                        let ckey = self.key(class);
                        t.fresh = 1;
                        t.bytes_in = ckey.size() as u64;
                        fresh_alloc(ckey)
                    }
                };
                Frame { ptr, class: class as u8 }
            }
        };
        lock(&self.registry).retired.add(&t);
        frame
    }

    /// Gives a frame back on a thread whose cache is already gone.
    ///
    /// # Safety
    /// As [`FramePool::give_frame`].
    unsafe fn give_back_orphan(&self, frame: Frame, key: ClassKey, max_idle: usize) {
        let mut t = Totals { frees: 1, ..Totals::default() };
        if frame.class == HEAP {
            t.heap_frees = 1;
            t.bytes_out = key.size() as u64;
            // SAFETY: a heap frame was allocated alone with `key`'s layout.
            unsafe { dealloc(frame.ptr.as_ptr(), key.layout()) };
        } else {
            let class = frame.class as usize;
            let mut one = List::new();
            // SAFETY: the caller gives us this free frame of `class`.
            unsafe { one.push(frame.ptr) };
            // No thread cache holds it: the depot may keep it up to the pool's
            // bound; past that it is freed.
            let limit = (self.idle_limit.load(Relaxed) as usize).min(max_idle);
            if let Err(mut one) = self.depot_push(class, one, limit) {
                let (frames, bytes) = free_list(&mut one, self.key(class));
                t.released = frames;
                t.bytes_out = bytes;
            }
        }
        lock(&self.registry).retired.add(&t);
    }
}

/// Frees every frame of `list` (of class `key`); returns frames and bytes.
fn free_list(list: &mut List, key: ClassKey) -> (u64, u64) {
    let mut frames = 0;
    while let Some(p) = list.pop() {
        // SAFETY: frames in a list of class `key` were allocated by
        // `fresh_alloc(key)` and are free.
        unsafe { dealloc(p.as_ptr(), key.layout()) };
        frames += 1;
    }
    (frames, frames * key.size() as u64)
}

fn fresh_alloc(key: ClassKey) -> NonNull<u8> {
    let layout = key.layout();
    // SAFETY: class layouts are never zero-sized (at least a cache line).
    let p = unsafe { alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout))
}

/// A thread's level for a pool: the frames it took minus the frames it gave
/// back, counting the frames in its hot slots as taken (they are, for the
/// counters: a hot-slot reuse is counted by the free that filled the slot).
/// `reused` is the magazine-reuse count, often already in a register. Its
/// live count when the hot slots are empty; negative on a thread that frees
/// more than it takes.
#[inline(always)]
fn level(c: &Counters, reused: u64) -> i64 {
    let taken =
        reused.wrapping_add(c.fresh.load(Relaxed)).wrapping_add(c.heap_fallbacks.load(Relaxed));
    taken.wrapping_sub(c.frees.load(Relaxed)) as i64
}

fn heap_alloc(key: ClassKey) -> Frame {
    Frame { ptr: fresh_alloc(key), class: HEAP }
}

/// One thread's caches for one pool.
///
/// Other threads read `counters` and `hot` (through the registry) while the
/// owner works, so the owner never borrows the whole struct mutably: only
/// `state`, through its `UnsafeCell`, for the span of one pool operation.
struct LocalPool {
    pool: &'static FramePool,
    /// This thread's counters. Inline (the `LocalPool` is boxed and never
    /// moves) to spare the fast path a pointer chase.
    counters: Counters,
    /// One hot frame per class, in front of the magazines. Read by `stats()`
    /// from other threads (the reuses of hot frames are counted from them).
    /// Slots past [`CLASSES`] stay closed, among them [`HEAP`]'s.
    hot: [HotSlot; HOT_SLOTS],
    state: UnsafeCell<LocalState>,
}

/// The frame a thread freed last, kept apart for the next allocation of its
/// class.
///
/// A call that completes before the next one of its pool starts (the common
/// case) hands its frame over through this slot: a load and a store each
/// way, no link written into the frame, no length, and no counter on the
/// allocation. The free that fills the slot counts down `hot_left` (whose
/// laps are the decay tick); the allocations it served are the frees into
/// hot slots minus the frames still in them.
///
/// Only the owning thread writes it, with relaxed loads and stores (plain
/// moves); other threads only read it, to count.
struct HotSlot(AtomicPtr<u8>);

/// Hot slots per thread and pool, indexed by class masked with
/// [`HOT_MASK`].
const HOT_SLOTS: usize = 2 * CLASSES;
const HOT_MASK: usize = HOT_SLOTS - 1;
const _: () = assert!(HEAP as usize & HOT_MASK >= CLASSES);

/// A slot holding this address is closed: a pool with no room for idle
/// frames (`max_idle` below 2) keeps none here either. Frames are at least
/// cache-line aligned, so no frame has it.
const CLOSED: usize = 1;

impl HotSlot {
    fn new(open: bool) -> HotSlot {
        let closed = core::ptr::without_provenance_mut(CLOSED);
        HotSlot(AtomicPtr::new(if open { core::ptr::null_mut() } else { closed }))
    }

    /// Takes the frame the slot holds.
    #[inline(always)]
    fn take(&self) -> Option<NonNull<u8>> {
        let p = self.0.load(Relaxed);
        if p.addr() <= CLOSED {
            return None;
        }
        self.0.store(core::ptr::null_mut(), Relaxed);
        // SAFETY: above `CLOSED`, so not null.
        Some(unsafe { NonNull::new_unchecked(p) })
    }

    /// Keeps `frame` if the slot is empty; `false` if it is full or closed.
    #[inline(always)]
    fn put(&self, frame: NonNull<u8>) -> bool {
        if !self.0.load(Relaxed).is_null() {
            return false;
        }
        self.0.store(frame.as_ptr(), Relaxed);
        true
    }

    fn holds_frame(&self) -> bool {
        self.0.load(Relaxed).addr() > CLOSED
    }
}

/// What only the owning thread touches.
struct LocalState {
    /// Keys this thread asked for, and the class serving each.
    seen: [(u64, u8); SEEN],
    /// Keys this pool has no class for, and the size-class pool serving each.
    redirects: [(u64, Option<&'static FramePool>); SEEN],
    mags: [Magazines; CLASSES],
    /// Calls between two looks at the clock: a power of two from
    /// [`decay::TICK`] to [`decay::MAX_TICK`], back to the least on every
    /// slow-path event. Also the length of a lap of hot-slot frees.
    tick_interval: u64,
    /// Magazine reuses since the last look, counted in steps of
    /// [`decay::TICK`].
    since_tick: u64,
    /// The highest [`level`] this thread reached with its hot slots empty,
    /// while it is the pool's only thread: a take that passes it may be a
    /// new peak of the pool (see [`FramePool::check_high`]). `i64::MAX`
    /// while other threads use the pool, `i64::MIN` to start watching.
    high: i64,
}

impl LocalState {
    #[inline(always)]
    fn lookup(&self, key: ClassKey) -> Option<usize> {
        self.seen.iter().find(|(k, _)| *k == key.bits()).map(|&(_, c)| c as usize)
    }

    fn redirect(&self, key: ClassKey) -> Option<&'static FramePool> {
        self.redirects.iter().find(|(k, _)| *k == key.bits()).and_then(|&(_, p)| p)
    }

    fn remember_redirect(&mut self, key: ClassKey, pool: &'static FramePool) {
        if self.redirect(key).is_some() {
            return;
        }
        if let Some(slot) = self.redirects.iter_mut().find(|(k, _)| *k == ClassKey::EMPTY) {
            *slot = (key.bits(), Some(pool));
        }
    }

    fn remember(&mut self, key: ClassKey, class: usize) {
        if self.lookup(key).is_some() {
            return;
        }
        if let Some(slot) = self.seen.iter_mut().find(|(k, _)| *k == ClassKey::EMPTY) {
            *slot = (key.bits(), class as u8);
        }
    }
}

impl LocalPool {
    /// A leaked, boxed cache, registered with the pool's stats.
    fn boxed(pool: &'static FramePool) -> NonNull<LocalPool> {
        let shared = pool.shared();
        let cap = shared.thread_cap.load(Relaxed);
        let open = pool.magazine() > 0;
        let lp = Box::new(LocalPool {
            pool,
            counters: Counters::default(),
            hot: core::array::from_fn(|slot| HotSlot::new(open && slot < CLASSES)),
            state: UnsafeCell::new(LocalState {
                seen: [(ClassKey::EMPTY, 0); SEEN],
                redirects: [(ClassKey::EMPTY, None); SEEN],
                tick_interval: decay::TICK,
                since_tick: 0,
                high: i64::MIN,
                mags: core::array::from_fn(|_| Magazines::new(cap)),
            }),
        });
        let lp = NonNull::from(Box::leak(lp));
        let mut reg = lock(&shared.registry);
        reg.threads.push(ThreadRef { lp, floor: Totals::default() });
        shared.threads.store(reg.threads.len(), Relaxed);
        lp
    }

    /// Looks at the clock again within [`decay::TICK`] calls, whichever path
    /// they take (owning thread only): traffic may be changing.
    fn watch_closely(&self, st: &mut LocalState) {
        st.tick_interval = decay::TICK;
        self.counters.shorten_hot_lap(decay::TICK);
    }

    /// Empties the hot slot of `class` (owning thread only), into a list.
    fn drain_hot(&self, class: usize) -> List {
        let mut list = List::new();
        if !self.hot[class].holds_frame() {
            return list;
        }
        // The frame leaves without a reuse: count its free as an ordinary
        // one, so that the frees into hot slots minus their frames stay the
        // reuses. Three words change: one step for readers.
        let frame = self.counters.write(|| {
            self.counters.unhot_one();
            bump(&self.counters.frees, 1);
            self.hot[class].take()
        });
        if let Some(frame) = frame {
            // SAFETY: a free frame of `class` that the slot owned.
            unsafe { list.push(frame) };
        }
        list
    }

    /// This thread's counters, as they stand.
    fn snapshot(&self) -> Totals {
        self.counters.snapshot(|| self.hot.iter().filter(|h| h.holds_frame()).count() as u64)
    }

    /// Sends a full magazine to the depot, or to the allocator past
    /// `max_idle`. Returns an empty container for the next spill.
    fn spill(&self, class: usize, batch: List) -> List {
        let shared = self.pool.shared();
        let limit = shared.idle_limit.load(Relaxed) as usize;
        match shared.depot_push(class, batch, limit) {
            Ok(empty) => empty,
            Err(mut batch) => {
                let (frames, bytes) = free_list(&mut batch, shared.key(class));
                self.counters.release(frames, bytes);
                batch
            }
        }
    }

    /// Thread exit: hands the cached frames to the depot and the counters to
    /// the pool's retired totals, then frees the cache.
    ///
    /// # Safety
    /// `lp` came from [`LocalPool::boxed`] and is used by no one else, now
    /// or later, but the registry.
    unsafe fn retire(lp: NonNull<LocalPool>) {
        {
            // SAFETY: alive until freed below; shared, as the registry may be
            // reading the counters.
            let shared_lp = unsafe { lp.as_ref() };
            // SAFETY: no one else touches the state any more.
            let st = unsafe { &mut *shared_lp.state.get() };
            for class in 0..CLASSES {
                let hot = shared_lp.drain_hot(class);
                for list in st.mags[class].drain().into_iter().chain([hot]) {
                    if !list.is_empty() {
                        drop(shared_lp.spill(class, list));
                    }
                }
            }
            let shared = shared_lp.pool.shared();
            let mut reg = lock(&shared.registry);
            let snapshot = shared_lp.snapshot();
            reg.retired.add(&snapshot);
            reg.threads.retain(|t| t.lp != lp);
            shared.threads.store(reg.threads.len(), Relaxed);
        }
        // SAFETY: unregistered, so this is the only pointer left to a box
        // leaked by `boxed`.
        drop(unsafe { Box::from_raw(lp.as_ptr()) });
    }
}

/// A registered thread's cache, for its counters, with the figures the
/// last snapshot of it showed (a snapshot of a running thread can read a
/// moment behind: the registry never reports less than it did).
struct ThreadRef {
    lp: NonNull<LocalPool>,
    floor: Totals,
}

// SAFETY: other threads only read the counters and hot slots, which are
// atomics, never the `UnsafeCell` state; and the pointer stays valid while it
// is in the registry: `retire` removes it under the registry lock before it
// frees the `LocalPool`.
unsafe impl Send for ThreadRef {}

impl ThreadRef {
    /// The thread's figures, never below the last snapshot's, and as read.
    fn snapshot(&mut self) -> (Totals, Totals) {
        // SAFETY: valid while registered (see the `Send` impl); only called
        // with the registry lock held. A shared reference: the owner only
        // ever borrows the `UnsafeCell` state mutably, never the whole.
        let read = unsafe { self.lp.as_ref() }.snapshot();
        self.floor = read.at_least(&self.floor);
        (self.floor, read)
    }
}

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

/// Owns this thread's caches; dropped at thread exit.
struct Owner {
    pools: UnsafeCell<Vec<*mut LocalPool>>,
}

thread_local! {
    static TABLE: Table = const {
        Table { ptr: Cell::new(core::ptr::null()), len: Cell::new(0), dead: Cell::new(false) }
    };
    static OWNER: Owner = const { Owner { pools: UnsafeCell::new(Vec::new()) } };
    /// The first pools' entries of `Table`, again, at fixed places: reaching
    /// one costs a single thread-local load, with no length to check.
    static NEAR_TABLE: [Cell<*mut LocalPool>; NEAR] =
        const { [const { Cell::new(core::ptr::null_mut()) }; NEAR] };
}

/// Pools registered below this index are in the near table.
const NEAR: usize = 64;
const _: () = assert!(NEAR.is_power_of_two());

/// This thread's cache for the pool whose `near` index is `near` (`0`: none):
/// [`local_pool`] in one load.
#[inline(always)]
fn near_pool(near: usize) -> Option<NonNull<LocalPool>> {
    // Entry 0 is never set: no pool has index 0.
    NEAR_TABLE.with(|t| NonNull::new(t[near & (NEAR - 1)].get()))
}

/// This thread's cache for the pool at registry index `idx` (`0`: none yet).
///
/// The caller may turn the pointer into a `&mut` for as long as it runs no
/// user code and does not call back into the pool: every use is such a short
/// borrow on the owning thread, so two never overlap.
#[inline(always)]
fn local_pool(idx: usize) -> Option<NonNull<LocalPool>> {
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

/// This thread's cache for `pool`, created on first use; `None` once the
/// thread is tearing down its thread-locals.
fn local_pool_or_insert(idx: usize, pool: &'static FramePool) -> Option<NonNull<LocalPool>> {
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
                pools[idx] = LocalPool::boxed(pool).as_ptr();
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

/// Shared pools, one per power-of-two size from 64 B to [`MAX_POOLED_SIZE`],
/// for the layouts of a pool whose own classes are all taken (a generic fn
/// with many instantiations). They show in [`report`] as
/// `flowcoro::size_class::N`.
static SIZE_CLASSES: [FramePool; 15] = [
    FramePool::new("flowcoro::size_class::64"),
    FramePool::new("flowcoro::size_class::128"),
    FramePool::new("flowcoro::size_class::256"),
    FramePool::new("flowcoro::size_class::512"),
    FramePool::new("flowcoro::size_class::1K"),
    FramePool::new("flowcoro::size_class::2K"),
    FramePool::new("flowcoro::size_class::4K"),
    FramePool::new("flowcoro::size_class::8K"),
    FramePool::new("flowcoro::size_class::16K"),
    FramePool::new("flowcoro::size_class::32K"),
    FramePool::new("flowcoro::size_class::64K"),
    FramePool::new("flowcoro::size_class::128K"),
    FramePool::new("flowcoro::size_class::256K"),
    FramePool::new("flowcoro::size_class::512K"),
    FramePool::new("flowcoro::size_class::1M"),
];
const _: () = assert!(64 << (SIZE_CLASSES.len() - 1) == MAX_POOLED_SIZE);

/// The size-class key for `key`: its size rounded up to a power of two.
fn sc_key(key: ClassKey) -> ClassKey {
    let size = key.size().next_power_of_two().max(64);
    let layout = core::alloc::Layout::from_size_align(size, key.align())
        .expect("a power-of-two size of a valid layout is valid");
    ClassKey::of(layout)
}

/// The size-class pool that serves `key`, if any.
fn size_class_pool(key: ClassKey) -> Option<&'static FramePool> {
    let size = sc_key(key).size();
    SIZE_CLASSES.get(size.trailing_zeros().checked_sub(6)? as usize)
}

/// Every pool used so far, sorted by name.
pub fn pools() -> Vec<PoolStats> {
    let all: Vec<&'static FramePool> = POOLS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut stats: Vec<PoolStats> = all.iter().map(|p| p.stats()).collect();
    stats.sort_by(|a, b| a.name.cmp(b.name));
    stats
}

/// Every pool's stats, as a value whose `Display` is a readable table.
pub fn report() -> Report {
    Report { pools: pools() }
}

/// [`FramePool::trim`] on every pool; returns the bytes released.
pub fn trim_all() -> usize {
    let all: Vec<&'static FramePool> = POOLS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    all.iter().map(|p| p.trim()).sum()
}

use crate::layout::KeyOf;
use crate::pooled::Pooled;
use crate::stats::Report;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    thread_local! {
        /// A place in the pool's code (see [`inject`]) where the next pass
        /// on this thread panics.
        static PANIC_AT: Cell<Option<&'static str>> = const { Cell::new(None) };
    }

    /// Panics here if a test asked for it (once).
    pub(super) fn inject(site: &'static str) {
        if PANIC_AT.with(|at| at.get() == Some(site)) {
            PANIC_AT.with(|at| at.set(None));
            panic!("injected panic at {site}");
        }
    }

    fn call_with_panic_at<R>(site: &'static str, f: impl FnOnce() -> R) -> std::thread::Result<R> {
        PANIC_AT.with(|at| at.set(Some(site)));
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        PANIC_AT.with(|at| at.set(None));
        out
    }

    #[test]
    fn a_panic_in_a_decay_look_while_a_frame_is_taken_gives_it_back() {
        static POOL: FramePool = FramePool::new("pool::tests::look_panic");
        // Fill the magazines, then take from them until a tick falls due
        // inside a take from the magazines.
        let warm: Vec<_> = (0..2 * MAGAZINE + 1).map(|i| POOL.alloc(async move { i })).collect();
        drop(warm);
        let mut held = Vec::new();
        let mut panicked = 0;
        for i in 0..2 * MAGAZINE {
            match call_with_panic_at("look", || POOL.alloc(async move { i })) {
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

    fn seen_keys(pool: &'static FramePool) -> Vec<u64> {
        let lp = local_pool(pool.index.load(StdOrdering::Acquire)).expect("this thread's cache");
        // SAFETY: a short shared borrow on this thread; no pool call runs
        // while it lives.
        let st = unsafe { &*lp.as_ref().state.get() };
        st.seen.iter().map(|&(k, _)| k).filter(|&k| k != ClassKey::EMPTY).collect()
    }

    #[test]
    fn slow_takes_remember_a_layout_once() {
        static POOL: FramePool = FramePool::new("pool::tests::remember");
        // Every one of these takes the slow path (new memory each time).
        let small: Vec<_> = (0..20).map(|i| POOL.alloc(async move { i })).collect();
        let large: Vec<_> = (0..20).map(|_| POOL.alloc(std::future::ready([0u8; 300]))).collect();
        let keys = seen_keys(&POOL);
        assert_eq!(keys.len(), 2, "one entry per layout, not per slow take: {keys:?}");
        drop((small, large));
    }

    #[test]
    fn a_layout_sharing_class_0_keeps_the_first_and_comes_back_to_it() {
        static POOL: FramePool = FramePool::new("pool::tests::share_first");
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
        assert_eq!(POOL.class_of(shared), 0);
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
        // SAFETY: as in `seen_keys`.
        let interval = unsafe { &*lp.state.get() }.tick_interval;
        (interval, lp.counters.hot_left.load(Relaxed))
    }

    #[test]
    fn busy_laps_grow_and_a_burst_shortens_them_without_losing_counts() {
        static POOL: FramePool = FramePool::new("pool::tests::laps");
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
