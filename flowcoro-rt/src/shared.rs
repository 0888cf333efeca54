//! The part of a pool every thread shares, built on first use: its layout
//! classes (`classes.rs`), a depot of free magazines per class, the registry of the
//! threads that cache its frames (for the stats) with what exited threads
//! left, the idle bounds (set from `decay.rs`'s policy, and the decay step
//! that applies them), prewarming, and the paths of frames taken or given
//! back on a thread whose cache is already gone.

use alloc::vec::Vec;
use core::ptr::NonNull;

use crate::budget;
use crate::classes::Classes;
use crate::decay::{Instant, RecentPeak, Settings};
use crate::depot::Depot;
use crate::frame::{CLASSES, Class, Frame, free_list, fresh_alloc, heap_alloc, heap_free};
use crate::freelist::List;
use crate::hot::Visible;
use crate::layout::ClassKey;
use crate::stats::{PoolStats, Totals};
use crate::sync::{AtomicU64, AtomicUsize, Mutex, Ordering::Relaxed, lock};

/// Frames per magazine, to start with: a thread exchanges this many with the
/// depot at once.
pub const MAGAZINE: usize = if cfg!(miri) { 4 } else { 32 };

/// Frames per magazine at most: the size magazines grow to, doubling, in a
/// pool whose frames stream from one thread to another (each thread then
/// goes to the depot every magazine, always the same way: Bonwick's
/// adaptive magazine size, which spares the depot's lock all but one visit
/// in [`MAGAZINE_MAX`] frames).
pub const MAGAZINE_MAX: usize = if cfg!(miri) { 16 } else { 256 };

/// The part of a pool all threads share.
///
/// Aligned apart from the pool's header: its locks are written on every
/// depot exchange, and the header (`near`, `first`) is read on every call of
/// every thread.
#[repr(align(128))]
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) classes: Classes,
    depots: [Depot; CLASSES],
    pub(crate) registry: Mutex<Registry>,
    /// Frames each depot may hold now: `max_idle`, or the self-tuned bound.
    pub(crate) idle_limit: AtomicU64,
    /// Frames per magazine in each thread's cache now, from the recent peak.
    pub(crate) thread_cap: AtomicUsize,
    /// Threads with a cache for this pool (registered, not exited): the
    /// peak is exact while there is one.
    pub(crate) threads: AtomicUsize,
    /// Frames per magazine at most, for now: [`MAGAZINE`], doubled at the
    /// request of a thread whose frames stream to or from another, up to
    /// [`MAGAZINE_MAX`]. Only grows, under the registry lock; the recent
    /// peak still sizes each thread's magazines below it.
    pub(crate) grown: AtomicUsize,
}

#[derive(Default)]
pub(crate) struct Registry {
    /// One entry per thread that has used the pool and not exited.
    threads: Vec<ThreadRef>,
    /// What exited threads, trims and orphan frees counted.
    pub(crate) retired: Totals,
    peak: u64,
    /// The recent peak the bounds follow, and the decay steps' timing.
    recent: RecentPeak,
    prewarmed: bool,
}

/// A registered thread's counters and hot slots, with the figures the last
/// snapshot of them showed (a snapshot of a running thread can read a
/// moment behind: the registry never reports less than it did).
struct ThreadRef {
    visible: NonNull<Visible>,
    floor: Totals,
}

// SAFETY: invariant 6: other threads only read the counters and hot slots, which are
// atomics; and the pointer stays valid while it is in the registry: a
// thread's cache leaves the registry (`Shared::unregister_thread`, under the
// registry lock) before it is freed.
unsafe impl Send for ThreadRef {}

impl ThreadRef {
    /// The thread's figures, never below the last snapshot's, and as read.
    fn snapshot(&mut self) -> (Totals, Totals) {
        // SAFETY: invariant 6: valid while registered (see the `Send` impl); only called
        // with the registry lock held; a shared reference to atomics the
        // owner writes through shared references too.
        let read = unsafe { self.visible.as_ref() }.snapshot();
        self.floor = read.at_least(&self.floor);
        (self.floor, read)
    }
}

impl Shared {
    pub(crate) fn new(settings: Settings) -> Shared {
        let shared = Shared {
            settings,
            classes: Classes::new(),
            depots: core::array::from_fn(|_| Depot::new()),
            registry: Mutex::new(Registry::default()),
            idle_limit: AtomicU64::new(settings.tuned_limit(0, MAGAZINE)),
            thread_cap: AtomicUsize::new(settings.thread_cap(0, MAGAZINE)),
            threads: AtomicUsize::new(0),
            grown: AtomicUsize::new(MAGAZINE),
        };
        debug_assert!(shared.settings.thread_cap(0, MAGAZINE) <= MAGAZINE);
        shared
    }

    /// The class that serves `key` (see [`Classes::class_for`]), assigned
    /// under the registry lock.
    pub(crate) fn class_for(&self, key: ClassKey) -> Option<usize> {
        self.classes.class_for(key, &self.registry)
    }

    #[cfg(feature = "std")]
    /// A thread's new cache joins the registry, and the count of threads
    /// that cache the pool is updated.
    pub(crate) fn register_thread(&self, visible: NonNull<Visible>) {
        let mut reg = lock(&self.registry);
        reg.threads.push(ThreadRef { visible, floor: Totals::default() });
        self.threads.store(reg.threads.len(), Relaxed);
    }

    #[cfg(feature = "std")]
    /// A thread's cache leaves the registry (its thread exits), its counters
    /// kept in the retired totals. After this, nothing reads `visible` again.
    pub(crate) fn unregister_thread(&self, visible: NonNull<Visible>) {
        let mut reg = lock(&self.registry);
        // SAFETY: invariant 6: still valid: the caller frees it after this returns.
        let last = unsafe { visible.as_ref() }.snapshot();
        reg.retired.add(&last);
        reg.threads.retain(|t| t.visible != visible);
        self.threads.store(reg.threads.len(), Relaxed);
    }

    /// Adds what a trim, an orphan path or prewarming counted.
    pub(crate) fn add_retired(&self, totals: &Totals) {
        lock(&self.registry).retired.add(totals);
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
    pub(crate) fn observe_peak(&self) {
        let mut reg = lock(&self.registry);
        let (_, live) = Self::totals(&mut reg);
        reg.peak = reg.peak.max(live);
        // A slow path already (it just called the allocator, or passed a
        // high), so reading the clock here costs little.
        reg.recent.remember(live, Instant::now());
        // A pool that grows keeps room for its new peak when the frames come
        // back; decay takes it down again once the peak is past. A maximum,
        // so that no other writer's bound is lost (decay lowers them under
        // the registry lock, which is held here too).
        let grown = self.grown.load(Relaxed);
        self.idle_limit.fetch_max(self.settings.tuned_limit(live, grown), Relaxed);
        self.thread_cap.fetch_max(self.settings.thread_cap(live, grown), Relaxed);
    }

    /// A thread's frames stream to or from another thread through the depot
    /// in magazines of `cap`: doubles the magazine size (up to
    /// [`MAGAZINE_MAX`]) and sizes the threads' magazines anew, as far as
    /// the recent peak allows. The lock is the depot's, once per magazine;
    /// larger magazines take it less often.
    #[cold]
    pub(crate) fn grow_magazines(&self, cap: usize) {
        let mut reg = lock(&self.registry);
        let grown = cap.saturating_mul(2).min(MAGAZINE_MAX);
        if grown <= self.grown.load(Relaxed) {
            return;
        }
        self.grown.store(grown, Relaxed);
        let (_, live) = Self::totals(&mut reg);
        let peak = reg.recent.remember(live, Instant::now());
        self.idle_limit.fetch_max(self.settings.tuned_limit(peak, grown), Relaxed);
        self.thread_cap.fetch_max(self.settings.thread_cap(peak, grown), Relaxed);
    }

    /// Sets the idle bounds from the recent peak and gives the depot's
    /// excess back to the allocator. At most one step every [`STEP`](crate::decay::STEP).
    pub(crate) fn decay_step(&self, now: Instant) {
        let mut reg = lock(&self.registry);
        if !reg.recent.step_due(now) {
            return;
        }
        let (_, live) = Self::totals(&mut reg);
        let peak = reg.recent.remember(live, now);
        let grown = self.grown.load(Relaxed);
        let limit = self.settings.tuned_limit(peak, grown);
        self.idle_limit.store(limit, Relaxed);
        self.thread_cap.store(self.settings.thread_cap(peak, grown), Relaxed);
        drop(reg);
        let freed = self.shrink_depots(limit);
        if freed.released > 0 {
            self.add_retired(&Totals { decayed: freed.released, ..freed });
        }
    }

    /// Reserves the `prewarm` frames of `class`, once.
    pub(crate) fn prewarm_once(&self, class: usize) {
        {
            let mut reg = lock(&self.registry);
            if reg.prewarmed {
                return;
            }
            reg.prewarmed = true;
        }
        let key = self.classes.key(class);
        let mut kept = Totals::default();
        let mut left = self.settings.idle_floor() as usize;
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
            self.depot_put_back(class, batch);
            left -= n;
        }
        self.add_retired(&kept);
    }

    /// Hands a batch to the depot of `class` if it stays within `limit`
    /// frames and the idle budget; otherwise gives it back. Over budget, a
    /// pool past its fair share gives back at once; one under it keeps the
    /// batch and the largest holders make room.
    pub(crate) fn depot_push(&self, class: usize, batch: List, limit: usize) -> Result<List, List> {
        if batch.is_empty() {
            return Ok(batch);
        }
        let bytes = (batch.len() * self.classes.key(class).size()) as u64;
        if limit != usize::MAX && budget::would_pass(bytes) {
            if self.depot_bytes() + bytes > budget::fair_share() {
                return Err(batch);
            }
            let empty = self.depots[class].push(batch, limit)?;
            budget::added(bytes);
            budget::enforce();
            return Ok(empty);
        }
        let empty = self.depots[class].push(batch, limit)?;
        budget::added(bytes);
        Ok(empty)
    }

    /// [`depot_push`](Shared::depot_push) of one frame, within the same
    /// bounds.
    fn depot_push_one(
        &self,
        class: usize,
        frame: NonNull<u8>,
        limit: usize,
    ) -> Result<(), NonNull<u8>> {
        let bytes = self.classes.key(class).size() as u64;
        let over = budget::would_pass(bytes);
        if over && self.depot_bytes() + bytes > budget::fair_share() {
            return Err(frame);
        }
        self.depots[class].push_one(frame, limit)?;
        budget::added(bytes);
        if over {
            budget::enforce();
        }
        Ok(())
    }

    /// Puts a batch in the depot whatever its limit: frames taken from it a
    /// moment ago (they fitted), or reserved by prewarming (the floor).
    pub(crate) fn depot_put_back(&self, class: usize, batch: List) {
        if let Ok(empty) = self.depot_push(class, batch, usize::MAX) {
            self.depots[class].put_empty(empty);
        }
    }

    /// [`depot_pop`](Shared::depot_pop) for a thread's empty cache, which
    /// hands over its surplus container in the same lock.
    pub(crate) fn depot_refill(&self, class: usize, surplus: List) -> Option<List> {
        let batch = self.depots[class].exchange(surplus)?;
        self.took(class, &batch);
        Some(batch)
    }

    /// Takes a batch from the depot of `class`.
    pub(crate) fn depot_pop(&self, class: usize) -> Option<List> {
        let batch = self.depots[class].pop()?;
        self.took(class, &batch);
        Some(batch)
    }

    /// Accounts for `batch`, just taken from the depot.
    fn took(&self, class: usize, batch: &List) {
        self.took_bytes(class, batch.len());
    }

    /// Accounts for `frames` frames of `class`, just taken from the depot.
    fn took_bytes(&self, class: usize, frames: usize) {
        if budget::limited() {
            budget::taken((frames * self.classes.key(class).size()) as u64);
        }
    }

    /// Bytes held in this pool's depots.
    fn depot_bytes(&self) -> u64 {
        self.classes.assigned().map(|(c, key)| (self.depots[c].frames() * key.size()) as u64).sum()
    }

    /// Frees depot frames until each class holds at most `limit`; returns
    /// what was freed (see [`Depot::shrink`]).
    pub(crate) fn shrink_depots(&self, limit: u64) -> Totals {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut freed = Totals::default();
        for (class, key) in self.classes.assigned() {
            self.depots[class].shrink(limit, |mut doomed| {
                self.took(class, &doomed);
                let (frames, bytes) = free_list(&mut doomed, key);
                freed.released += frames;
                freed.bytes_out += bytes;
            });
        }
        freed
    }

    /// Frees the depots' frames, class by class: `trim`.
    pub(crate) fn empty_depots(&self) -> Totals {
        let mut freed = self.shrink_depots(0);
        freed.trimmed = freed.released;
        freed
    }

    pub(crate) fn stats(&self, name: &'static str) -> PoolStats {
        let mut reg = lock(&self.registry);
        let (t, live) = Self::totals(&mut reg);
        reg.peak = reg.peak.max(live);
        let mut s = PoolStats::empty(name);
        (s.frame_size, s.frame_align) = self.classes.largest();
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
    pub(crate) fn take_orphan(&self, key: ClassKey, class: Option<usize>) -> Frame {
        let mut t = Totals { allocations: 1, ..Totals::default() };
        let frame = match class {
            None => {
                t.heap_fallbacks = 1;
                t.bytes_in = key.size() as u64;
                self.classes.note_other(key);
                heap_alloc(key)
            }
            Some(class) => {
                let reused = self.depots[class].pop_one();
                if reused.is_some() {
                    self.took_bytes(class, 1);
                }
                let ptr = match reused {
                    Some(p) => {
                        t.reused = 1;
                        p
                    }
                    None => {
                        let ckey = self.classes.key(class);
                        t.fresh = 1;
                        t.bytes_in = ckey.size() as u64;
                        fresh_alloc(ckey)
                    }
                };
                Frame { ptr, class: Class::own(class) }
            }
        };
        self.add_retired(&t);
        if t.reused == 0 {
            // The pool grew: its idle bound follows, so the frames come back
            // to the depot, not the allocator.
            self.observe_peak();
        }
        frame
    }

    /// Gives a frame back on a thread whose cache is already gone.
    ///
    /// # Safety
    /// `frame` came from a take of `key` on this pool, class included, and
    /// no longer holds a value.
    pub(crate) unsafe fn give_back_orphan(&self, frame: Frame, key: ClassKey) {
        let mut t = Totals { frees: 1, ..Totals::default() };
        if frame.class == Class::HEAP {
            t.heap_frees = 1;
            t.bytes_out = key.size() as u64;
            // SAFETY: a heap frame was allocated alone with `key`'s layout.
            unsafe { heap_free(frame.ptr, key) };
        } else {
            // Size-class and static frames go back to their own homes first.
            debug_assert!(frame.class.bits() < CLASSES, "{:?} in a depot", frame.class);
            let class = frame.class.index();
            // No thread cache holds it: the depot may keep it up to the pool's
            // bound; past that it is freed.
            let limit = (self.idle_limit.load(Relaxed) as usize).min(self.settings.max_idle);
            if let Err(ptr) = self.depot_push_one(class, frame.ptr, limit) {
                let mut one = List::new();
                // SAFETY: the caller gives us this free frame of `class`.
                unsafe { one.push(ptr) };
                let (frames, bytes) = free_list(&mut one, self.classes.key(class));
                t.released = frames;
                t.bytes_out = bytes;
            }
        }
        self.add_retired(&t);
    }
}

impl budget::Holder for Shared {
    fn depot_bytes(&self) -> u64 {
        Shared::depot_bytes(self)
    }

    fn release_down_to(&self, target: u64) {
        let mut freed = Totals::default();
        for (class, key) in self.classes.assigned() {
            while Shared::depot_bytes(self) > target {
                let Some(mut batch) = self.depot_pop(class) else { break };
                let (frames, bytes) = free_list(&mut batch, key);
                freed.released += frames;
                freed.bytes_out += bytes;
            }
        }
        if freed.released > 0 {
            self.add_retired(&Totals { decayed: freed.released, ..freed });
        }
    }
}
