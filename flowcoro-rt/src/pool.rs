//! `FramePool`: the per-function pool, its per-thread caches and its depot.
//!
//! Shape of the memory path:
//!
//! ```text
//!  alloc / free ──► thread cache (two magazines per class, no lock, no RMW)
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
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};

use crate::depot::Depot;
use crate::freelist::{List, Magazines};
use crate::layout::{ClassKey, MAX_POOLED_SIZE};
use crate::stats::{Counters, PoolStats, Totals};
use crate::sync::{AtomicU64, Mutex, Ordering::Relaxed, bump, lock};

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

/// Frames a pool's depot keeps when no `max_idle` is given.
pub const DEFAULT_MAX_IDLE: usize = if cfg!(miri) { 16 } else { 512 };

/// Keys a thread remembers per pool before it asks the shared class table.
const SEEN: usize = 8;

/// Marks a frame allocated alone, outside the pool's classes.
pub(crate) const HEAP: u8 = u8::MAX;

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
/// cache: no lock, no atomic read-modify-write, no shared cache line. Every
/// [`MAGAZINE`]-th free or allocation of a thread moves a whole batch to or from
/// the pool's depot under a lock. A frame freed on another thread than the one
/// that took it goes into the freeing thread's cache, as any other free.
///
/// # Memory
///
/// Frames come from the global allocator one at a time, the first time they
/// are needed, and are cached when they come back: the depot keeps up to
/// `max_idle` of them ([`DEFAULT_MAX_IDLE`] unless set), and each thread keeps
/// at most two magazines per class (fewer when `max_idle` is small) on top.
/// The rest go back to the allocator. A thread that exits hands its cached
/// frames to the depot. [`trim`](FramePool::trim) frees what the depot and the
/// calling thread's cache hold.
pub struct FramePool {
    name: &'static str,
    max_idle: usize,
    /// Position in the global registry plus one; `0` until first use.
    index: AtomicUsize,
    shared: OnceLock<Shared>,
}

/// The part of a pool all threads share, built on first use.
struct Shared {
    /// Class keys, set once each under the registry lock.
    classes: [AtomicU64; CLASSES],
    depots: [Depot; CLASSES],
    registry: Mutex<Registry>,
    /// The largest key served outside the classes, for `frame_size`.
    largest_heap: AtomicU64,
}

#[derive(Default)]
struct Registry {
    /// One block per thread that has used the pool and not exited.
    threads: Vec<CountersRef>,
    /// What exited threads, trims and orphan frees counted.
    retired: Totals,
    peak: u64,
}

/// A frame taken from the pool: its memory and the class that serves it.
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) ptr: NonNull<u8>,
    pub(crate) class: u8,
}

static POOLS: std::sync::Mutex<Vec<&'static FramePool>> = std::sync::Mutex::new(Vec::new());

impl FramePool {
    /// A pool named `name` (shown by [`stats`](FramePool::stats) and
    /// [`report`](crate::report)). Nothing is allocated until first use.
    pub const fn new(name: &'static str) -> FramePool {
        FramePool {
            name,
            max_idle: DEFAULT_MAX_IDLE,
            index: AtomicUsize::new(0),
            shared: OnceLock::new(),
        }
    }

    /// Sets how many frames the pool keeps cached when they come back; beyond
    /// that they are freed. Each thread may cache up to
    /// `min(2 × MAGAZINE, max_idle)` more per class.
    /// `0` frees every frame as soon as it comes back.
    pub const fn with_max_idle(mut self, max_idle: usize) -> FramePool {
        self.max_idle = max_idle;
        self
    }

    /// The pool's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The cap on frames cached in the depot.
    pub fn max_idle(&self) -> usize {
        self.max_idle
    }

    /// Frames per magazine for this pool.
    fn magazine(&self) -> usize {
        MAGAZINE.min(self.max_idle / 2)
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
        let (pool, frame) = self.take(key);
        let guard = Unwritten { pool, frame, key };
        let ptr = frame.ptr.cast::<F>();
        debug_assert!(ptr.as_ptr().is_aligned());
        // SAFETY: `take` returned memory of a class that fits `key`, the
        // layout of `F` rounded up, and that no one else uses.
        unsafe { ptr.as_ptr().write(make()) };
        core::mem::forget(guard);
        // SAFETY: `ptr` now holds an `F` that only the handle owns, taken from
        // `self` with `frame.class`.
        unsafe { Pooled::from_raw(ptr, pool, frame.class) }
    }

    fn shared(&self) -> &Shared {
        self.shared.get_or_init(Shared::new)
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
        idx
    }

    /// Takes a frame for `key`: the fast path. Returns the pool that serves
    /// it: `self`, or a shared size-class pool for a layout beyond this pool's
    /// classes.
    #[inline(always)]
    pub(crate) fn take(&'static self, key: ClassKey) -> (&'static FramePool, Frame) {
        let idx = self.index.load(StdOrdering::Relaxed);
        if let Some(lp) = local_pool(idx) {
            // SAFETY: see `local_pool`.
            let lp = unsafe { lp.as_ref() };
            // SAFETY: a short borrow of this thread's state, see `local_pool`.
            let st = unsafe { &mut *lp.state.get() };
            if let Some(class) = st.lookup(key) {
                if let Some(ptr) = st.mags[class & CLASS_MASK].pop() {
                    bump(&lp.counters.reused, 1);
                    return (self, Frame { ptr, class: class as u8 });
                }
            }
        }
        self.take_slow(key)
    }

    #[cold]
    #[inline(never)]
    fn take_slow(&'static self, key: ClassKey) -> (&'static FramePool, Frame) {
        let idx = self.register();
        let shared = self.shared();
        let redirected = local_pool(idx).and_then(|lp| {
            // SAFETY: see `local_pool`.
            let lp = unsafe { lp.as_ref() };
            // SAFETY: a short borrow of this thread's state, see `local_pool`.
            unsafe { &*lp.state.get() }.redirect(key)
        });
        if let Some(sc) = redirected {
            return sc.take(sc_key(key));
        }
        let class = shared.class_for(key);
        if class.is_none() {
            if let Some(sc) = size_class_pool(key).filter(|sc| !core::ptr::eq(*sc, self)) {
                if let Some(lp) = local_pool_or_insert(idx, self) {
                    // SAFETY: see `local_pool`.
                    let lp = unsafe { lp.as_ref() };
                    // SAFETY: a short borrow of this thread's state.
                    unsafe { &mut *lp.state.get() }.remember_redirect(key, sc);
                }
                return sc.take(sc_key(key));
            }
        }
        let local = local_pool_or_insert(idx, self).map(|lp| {
            // SAFETY: see `local_pool`.
            let lp = unsafe { lp.as_ref() };
            // SAFETY: a short borrow of this thread's state, see `local_pool`.
            let st = unsafe { &mut *lp.state.get() };
            let Some(class) = class else {
                let frame = heap_alloc(key);
                bump(&lp.counters.heap_fallbacks, 1);
                bump(&lp.counters.bytes_in, key.size() as u64);
                shared.note_heap(key);
                return frame;
            };
            st.remember(key, class);
            let c = &lp.counters;
            let mags = &mut st.mags[class];
            let ptr = match mags.pop() {
                Some(p) => Some(p),
                None => shared.depots[class].pop().and_then(|batch| {
                    mags.load(batch);
                    mags.pop()
                }),
            };
            if let Some(ptr) = ptr {
                bump(&c.reused, 1);
                return Frame { ptr, class: class as u8 };
            }
            let ckey = shared.key(class);
            let ptr = fresh_alloc(ckey);
            bump(&c.fresh, 1);
            bump(&c.bytes_in, ckey.size() as u64);
            shared.observe_peak();
            Frame { ptr, class: class as u8 }
        });
        match local {
            Some(frame) => (self, frame),
            None => (self, shared.take_orphan(key, class)),
        }
    }

    /// Gives a frame back: the fast path.
    ///
    /// # Safety
    /// `frame` must have come from `take(key)` on this pool, and no longer
    /// hold a value.
    #[inline(always)]
    pub(crate) unsafe fn give_back(&'static self, frame: Frame, key: ClassKey) {
        if frame.class != HEAP {
            let idx = self.index.load(StdOrdering::Relaxed);
            if let Some(lp) = local_pool(idx) {
                // SAFETY: see `local_pool`.
                let lp = unsafe { lp.as_ref() };
                // SAFETY: a short borrow of this thread's state, see `local_pool`.
                let st = unsafe { &mut *lp.state.get() };
                bump(&lp.counters.frees, 1);
                let class = frame.class as usize & CLASS_MASK;
                // SAFETY: the caller gives us the frame, a free frame of
                // `class`, at least a `FreeNode` in size and alignment.
                if let Some(spill) = unsafe { st.mags[class].push(frame.ptr) } {
                    lp.spill(class, spill);
                }
                return;
            }
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.give_back_slow(frame, key) }
    }

    /// # Safety
    /// As [`FramePool::give_back`].
    #[cold]
    #[inline(never)]
    unsafe fn give_back_slow(&'static self, frame: Frame, key: ClassKey) {
        let idx = self.register();
        let shared = self.shared();
        let local = local_pool_or_insert(idx, self).map(|lp| {
            // SAFETY: see `local_pool`.
            let lp = unsafe { lp.as_ref() };
            bump(&lp.counters.frees, 1);
            if frame.class == HEAP {
                bump(&lp.counters.heap_frees, 1);
                bump(&lp.counters.bytes_out, key.size() as u64);
                // SAFETY: a heap frame was allocated alone with `key`'s layout.
                unsafe { dealloc(frame.ptr.as_ptr(), key.layout()) };
                return;
            }
            let class = frame.class as usize;
            // SAFETY: the caller gives us the free frame of `class`.
            // SAFETY: a short borrow of this thread's state, see `local_pool`.
            let st = unsafe { &mut *lp.state.get() };
            // SAFETY: the caller gives us the free frame of `class`.
            if let Some(spill) = unsafe { st.mags[class].push(frame.ptr) } {
                lp.spill(class, spill);
            }
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
            return PoolStats::empty(self.name);
        };
        shared.stats(self.name)
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
                lists.extend(mags.drain().into_iter().map(|l| (class, l)));
            }
        }
        for (class, depot) in shared.depots.iter().enumerate() {
            lists.extend(depot.take_all().into_iter().map(|l| (class, l)));
        }
        let mut freed = Totals::default();
        for (class, list) in lists.into_iter().filter(|(_, l)| !l.is_empty()) {
            let (frames, bytes) = free_list(list, shared.key(class));
            freed.released += frames;
            freed.bytes_out += bytes;
        }
        lock(&shared.registry).retired.add(&freed);
        freed.bytes_out as usize
    }
}

impl fmt::Debug for FramePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FramePool")
            .field("name", &self.name)
            .field("max_idle", &self.max_idle)
            .finish_non_exhaustive()
    }
}

/// Gives the frame back if the future's constructor unwinds.
struct Unwritten {
    pool: &'static FramePool,
    frame: Frame,
    key: ClassKey,
}

impl Drop for Unwritten {
    fn drop(&mut self) {
        // SAFETY: the frame came from `take(key)` and holds no value: the
        // constructor panicked before the write.
        unsafe { self.pool.give_back(self.frame, self.key) };
    }
}

impl Shared {
    fn new() -> Shared {
        Shared {
            classes: core::array::from_fn(|_| AtomicU64::new(ClassKey::EMPTY)),
            depots: core::array::from_fn(|_| Depot::new()),
            registry: Mutex::new(Registry::default()),
            largest_heap: AtomicU64::new(0),
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

    fn note_heap(&self, key: ClassKey) {
        if self.largest_heap.load(Relaxed) < key.bits() {
            self.largest_heap.fetch_max(key.bits(), Relaxed);
        }
    }

    fn totals(reg: &Registry) -> Totals {
        let mut t = reg.retired;
        for c in &reg.threads {
            t.add(&c.snapshot());
        }
        t
    }

    /// Records the live count as a candidate peak. Runs when the pool grows,
    /// which is the only way `live` can pass a peak already seen on one thread.
    fn observe_peak(&self) {
        let mut reg = lock(&self.registry);
        let live = Self::totals(&reg).live();
        reg.peak = reg.peak.max(live);
    }

    fn stats(&self, name: &'static str) -> PoolStats {
        let mut reg = lock(&self.registry);
        let t = Self::totals(&reg);
        reg.peak = reg.peak.max(t.live());
        let mut s = PoolStats::empty(name);
        for k in self.classes.iter().map(|k| k.load(Relaxed)).filter(|&b| b != ClassKey::EMPTY) {
            let k = ClassKey::from_bits(k);
            s.frame_size = s.frame_size.max(k.size());
            s.frame_align = s.frame_align.max(k.align());
        }
        let heap = self.largest_heap.load(Relaxed);
        if heap != 0 {
            let k = ClassKey::from_bits(heap);
            s.frame_size = s.frame_size.max(k.size());
            s.frame_align = s.frame_align.max(k.align());
        }
        s.allocations = t.allocations;
        s.reused = t.reused;
        s.fresh = t.fresh;
        s.heap_fallbacks = t.heap_fallbacks;
        s.live = t.live();
        s.peak_live = reg.peak;
        s.idle = t.idle();
        s.reserved_bytes = t.bytes_in.wrapping_sub(t.bytes_out);
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
                self.note_heap(key);
                heap_alloc(key)
            }
            Some(class) => {
                let depot = &self.depots[class];
                let reused = depot.pop().and_then(|mut batch| {
                    let p = batch.pop();
                    // The rest goes straight back: it came from the depot, so
                    // it fits under any limit the depot had.
                    let _ = depot.push(batch, usize::MAX);
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
    /// As [`FramePool::give_back`].
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
            if let Err(one) = self.depots[class].push(one, max_idle) {
                let (frames, bytes) = free_list(one, self.key(class));
                t.released = frames;
                t.bytes_out = bytes;
            }
        }
        lock(&self.registry).retired.add(&t);
    }
}

/// Frees every frame of `list` (of class `key`); returns frames and bytes.
fn free_list(mut list: List, key: ClassKey) -> (u64, u64) {
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
    // SAFETY: class layouts are never zero-sized (at least a `FreeNode`).
    let p = unsafe { alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout))
}

fn heap_alloc(key: ClassKey) -> Frame {
    Frame { ptr: fresh_alloc(key), class: HEAP }
}

/// One thread's caches for one pool.
///
/// Other threads read `counters` (through the registry) while the owner
/// works, so the owner never borrows the whole struct mutably: only `state`,
/// through its `UnsafeCell`, for the span of one pool operation.
struct LocalPool {
    pool: &'static FramePool,
    /// This thread's counters. Inline (the `LocalPool` is boxed and never
    /// moves) to spare the fast path a pointer chase.
    counters: Counters,
    state: UnsafeCell<LocalState>,
}

/// What only the owning thread touches.
struct LocalState {
    /// Keys this thread asked for, and the class serving each.
    seen: [(u64, u8); SEEN],
    /// Keys this pool has no class for, and the size-class pool serving each.
    redirects: [(u64, Option<&'static FramePool>); SEEN],
    mags: [Magazines; CLASSES],
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
        if let Some(slot) = self.redirects.iter_mut().find(|(k, _)| *k == ClassKey::EMPTY) {
            *slot = (key.bits(), Some(pool));
        }
    }

    fn remember(&mut self, key: ClassKey, class: usize) {
        if let Some(slot) = self.seen.iter_mut().find(|(k, _)| *k == ClassKey::EMPTY) {
            *slot = (key.bits(), class as u8);
        }
    }
}

impl LocalPool {
    /// A leaked, boxed cache, registered with the pool's stats.
    fn boxed(pool: &'static FramePool) -> NonNull<LocalPool> {
        let cap = pool.magazine();
        let lp = Box::new(LocalPool {
            pool,
            counters: Counters::default(),
            state: UnsafeCell::new(LocalState {
                seen: [(ClassKey::EMPTY, 0); SEEN],
                redirects: [(ClassKey::EMPTY, None); SEEN],
                mags: core::array::from_fn(|_| Magazines::new(cap)),
            }),
        });
        let lp = NonNull::from(Box::leak(lp));
        // SAFETY: just leaked: valid until `retire` unregisters and frees it.
        // Only shared references are made from here on, until then.
        let counters = CountersRef(NonNull::from(unsafe { &lp.as_ref().counters }));
        lock(&pool.shared().registry).threads.push(counters);
        lp
    }

    /// Sends a full magazine to the depot, or to the allocator past
    /// `max_idle`.
    fn spill(&self, class: usize, batch: List) {
        let shared = self.pool.shared();
        if let Err(batch) = shared.depots[class].push(batch, self.pool.max_idle) {
            let (frames, bytes) = free_list(batch, shared.key(class));
            self.counters.release(frames, bytes);
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
                for list in st.mags[class].drain() {
                    shared_lp.spill(class, list);
                }
            }
            let mut reg = lock(&shared_lp.pool.shared().registry);
            let snapshot = shared_lp.counters.snapshot();
            reg.retired.add(&snapshot);
            let me: *const Counters = &shared_lp.counters;
            reg.threads.retain(|c| !core::ptr::eq(c.0.as_ptr(), me));
        }
        // SAFETY: unregistered, so this is the only pointer left to a box
        // leaked by `boxed`.
        drop(unsafe { Box::from_raw(lp.as_ptr()) });
    }
}

/// A registered thread's counters.
struct CountersRef(NonNull<Counters>);

// SAFETY: the counters are atomics, and the pointer stays valid while it is
// in the registry: `retire` removes it under the registry lock before the
// `LocalPool` that holds the counters is freed.
unsafe impl Send for CountersRef {}

impl CountersRef {
    fn snapshot(&self) -> Totals {
        // SAFETY: valid while registered (see the `Send` impl); only called
        // with the registry lock held.
        unsafe { self.0.as_ref() }.snapshot()
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
}

/// This thread's cache for the pool at registry index `idx` (`0`: none yet).
///
/// The caller may turn the pointer into a `&mut` for as long as it runs no
/// user code and does not call back into the pool: every use is such a short
/// borrow on the owning thread, so two never overlap.
#[inline(always)]
fn local_pool(idx: usize) -> Option<NonNull<LocalPool>> {
    TABLE.with(|t| {
        let i = idx.wrapping_sub(1);
        if i < t.len.get() {
            // SAFETY: `ptr` and `len` describe `Owner`'s vector, which only
            // `local_pool_or_insert` changes, and it updates both.
            NonNull::new(unsafe { *t.ptr.get().add(i) })
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
            if pools.len() < idx {
                pools.resize(idx, core::ptr::null_mut());
            }
            if pools[idx - 1].is_null() {
                pools[idx - 1] = LocalPool::boxed(pool).as_ptr();
            }
            TABLE.with(|t| {
                t.ptr.set(pools.as_ptr());
                t.len.set(pools.len());
            });
            NonNull::new(pools[idx - 1])
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
