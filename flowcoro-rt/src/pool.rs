//! `FramePool`: the public face of a pool. A `static` per pooled function
//! (or `pool!` site) holds this header: its name and settings, where the
//! pool sits in the global list and in each thread's near table, the key of
//! its first layout, and its shared part, built on first use. What a pool
//! does lives beside it: `pooled.rs` (building a future in a frame, and
//! dropping it), `take.rs` and `give.rs` (a frame's way out and back),
//! `lifecycle.rs` (decay), `adaptive.rs` (magazines for frames that stream
//! between threads), `size_class.rs` (the layouts it has no class for),
//! `global.rs` (the list of every pool).

use core::fmt;

use crate::decay::{SELF_TUNED, Settings};
use crate::layout::{CACHE_LINE, ClassKey};
use crate::local::local_pool;
use crate::reserve::{Reserve, StaticFrames};
use crate::shared::Shared;
use crate::stats::{PoolStats, Totals};
use crate::sync::fixed::{AtomicU64, AtomicUsize};
use crate::sync::{OnceBox, Ordering};

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
/// lookup. Behind it, magazines are arrays of frame pointers: every
/// [`MAGAZINE`](crate::MAGAZINE)-th free or allocation of a thread moves a
/// whole one to or from the pool's depot under a lock, without touching the
/// frames. A frame freed on another thread than the one that took it goes
/// into the freeing thread's cache, as any other free; where frames stream
/// from one thread to another (a work-stealing executor's usual case),
/// magazines grow, doubling up to [`MAGAZINE_MAX`](crate::MAGAZINE_MAX), so
/// that the depot's lock is taken once per that many frames.
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
/// - across all pools, never more than [`set_idle_budget`](crate::set_idle_budget) bytes, the pools
///   over their share giving back first.
///
/// Each thread keeps, per class, a hot frame and at most two magazines of
/// `cap` frames on top: `2 × cap + 1` frames, where `cap` is half the recent
/// peak, at least 1 and at most [`MAGAZINE`](crate::MAGAZINE), or
/// [`MAGAZINE_MAX`](crate::MAGAZINE_MAX) once frames stream between threads
/// (and `max_idle / 2`, the prewarmed frames counting as a peak). As the peak decays, each thread
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
// The two fields every call reads come first, in 16 aligned bytes: never
// split across two cache lines, wherever the linker puts the `static`.
#[repr(C, align(16))]
pub struct FramePool {
    /// The key of the pool's class 0 (the first layout it served), or
    /// [`ClassKey::EMPTY`]: a frame of this layout needs no lookup for its
    /// class, and the handle no word for it.
    pub(crate) first: AtomicU64,
    /// `index` if below the near table's size, else `0`: where this thread's
    /// cache for the pool sits in the near table.
    pub(crate) near: AtomicUsize,
    /// Position in the global registry plus one; `0` until first use.
    pub(crate) index: AtomicUsize,
    name: Name,
    pub(crate) settings: Settings,
    /// Behind a pointer, so that the `static` of each pooled fn stays a
    /// few words: the shared part is a kilobyte, and only used pools need
    /// one.
    shared: OnceBox<Shared>,
    /// Frames in static memory, served first (`reserve.rs`); a pool with
    /// them never sets `first`, so its calls take the path that looks here.
    pub(crate) reserve: Option<&'static dyn Reserve>,
}

/// Where a pool's name comes from.
#[derive(Clone, Copy)]
enum Name {
    Given(&'static str),
    /// The type name of a function nested in the pooled function.
    Site(fn() -> &'static str),
}

impl FramePool {
    /// A pool named `name` (shown by [`stats`](FramePool::stats) and
    /// [`report`](crate::report())). Nothing is allocated until first use.
    pub const fn new(name: &'static str) -> FramePool {
        FramePool {
            name: Name::Given(name),
            settings: Settings { max_idle: SELF_TUNED, prewarm: 0 },
            index: AtomicUsize::new(0),
            near: AtomicUsize::new(0),
            first: AtomicU64::new(ClassKey::EMPTY),
            shared: OnceBox::new(),
            reserve: None,
        }
    }

    /// Caps the frames the pool's depot keeps, per layout class, when they
    /// come back; beyond that they are freed. Each thread may cache up to
    /// `2 × min(MAGAZINE_MAX, max_idle / 2) + 1` more per class (two
    /// magazines and a hot frame; `MAGAZINE` instead of `MAGAZINE_MAX`
    /// unless frames stream between threads, and fewer while the recent
    /// peak is low). `0` and `1`
    /// free every frame as soon as it comes back. Without it, the bound
    /// follows the pool's recent peak (see [Memory](FramePool#memory)).
    #[must_use]
    pub const fn with_max_idle(mut self, max_idle: usize) -> FramePool {
        self.settings.max_idle = max_idle;
        self
    }

    /// Reserves `frames` frames in one batch on the pool's first use, so the
    /// first burst of calls does not pay the allocator. They count as idle
    /// (not as allocations), stay cached through decay as a floor of the
    /// self-tuned bound, and are capped by `max_idle` when that is set.
    #[must_use]
    pub const fn with_prewarm(mut self, frames: usize) -> FramePool {
        self.settings.prewarm = frames;
        self
    }

    /// Serves the pool's calls from `frames`, in static memory, first: with
    /// no allocator while at most `N` are live, and a future up to `B`
    /// bytes (its frame, rounded up to 64-byte lines with a word after the
    /// future). Past that, calls take ordinary frames from the heap.
    /// `#[pooled(capacity = N, frame_size = B)]` declares both.
    ///
    /// ```
    /// use flowcoro_rt::{FramePool, StaticFrames};
    ///
    /// static FRAMES: StaticFrames<4, 128> = StaticFrames::new();
    /// static POOL: FramePool = FramePool::new("app::tick").with_static_frames(&FRAMES);
    ///
    /// let call = POOL.alloc(async { 1 + 1 });
    /// # drop(call);
    /// assert_eq!(POOL.stats().fresh, 0);
    /// ```
    #[must_use]
    pub const fn with_static_frames<const N: usize, const B: usize>(
        mut self,
        frames: &'static StaticFrames<N, B>,
    ) -> FramePool {
        self.reserve = Some(frames);
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
        (self.settings.max_idle != SELF_TUNED).then_some(self.settings.max_idle)
    }

    /// Frames reserved on first use.
    pub fn prewarm(&self) -> usize {
        self.settings.prewarm
    }

    /// The part of the pool all threads share, built on first use.
    pub(crate) fn shared(&self) -> &Shared {
        self.shared.get_or_init(|| Shared::new(self.settings))
    }

    /// [`shared`](FramePool::shared), if built yet.
    pub(crate) fn shared_if_used(&self) -> Option<&Shared> {
        self.shared.get()
    }

    /// What the pool has done so far. Takes the pool's registry lock and sums
    /// each thread's counters; see [`PoolStats`] for how exact that is.
    pub fn stats(&self) -> PoolStats {
        let mut stats = match self.shared.get() {
            Some(shared) => shared.stats(self.name()),
            None => PoolStats::empty(self.name()),
        };
        if let Some(reserve) = self.reserve {
            if stats.frame_size < reserve.frame_size() {
                (stats.frame_size, stats.frame_align) = (reserve.frame_size(), CACHE_LINE);
            }
        }
        stats
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
        let mut freed = Totals::default();
        if let Some(lp) = local_pool(self.index.load(Ordering::Acquire)) {
            // SAFETY: invariant 6: this thread's live cache (`local_pool`).
            let (frames, bytes) = unsafe { lp.as_ref() }.free_cached();
            freed.released = frames;
            freed.trimmed = frames;
            freed.bytes_out = bytes;
        }
        let depots = shared.empty_depots();
        freed.add(&depots);
        shared.add_retired(&freed);
        freed.bytes_out as usize
    }
}

impl fmt::Debug for FramePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FramePool")
            .field("name", &self.name())
            .field("max_idle", &self.max_idle())
            .field("prewarm", &self.settings.prewarm)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::FramePool;

    /// What each pooled fn's `static` costs: a few words, its shared part
    /// behind a pointer.
    #[test]
    fn a_pool_header_is_a_few_words() {
        let size = core::mem::size_of::<FramePool>();
        assert!(size <= 12 * core::mem::size_of::<usize>(), "{size}");
    }
}
