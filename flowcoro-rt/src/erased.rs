//! `PooledDyn` and `LocalPooledDyn`: a pooled future with its type erased,
//! two words like a `Pin<Box<dyn Future>>`: the frame, and a vtable made per
//! future type (the frame's pool is in a word after the future, written on
//! erasure).
//!
//! The vtable holds one function made for the future's type, its poll,
//! which is the future's own poll and returns its `Poll<T>` as a
//! `dyn Future`'s does: the output is written once, where the caller wants
//! it. The handle (generic over the output only) sees `Ready` and calls the
//! shared code that drops the future and gives the frame back, reading the
//! vtable's data: each erased future type adds one small function.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::size_of;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll};

use crate::give::way_back;
use crate::layout::{ClassKey, KeyOf};
use crate::local::LocalPool;
use crate::pool::FramePool;
use crate::pooled::{Pooled, polled_after_completion};

impl<F: Future> Pooled<F> {
    /// Erases the future's type: a [`PooledDyn`] can sit in one `Vec` beside
    /// handles of other futures with the same output. No allocation: the
    /// frame stays where it is.
    #[inline(always)]
    pub fn into_dyn<'a>(self) -> PooledDyn<'a, F::Output>
    where
        F: Send + 'a,
    {
        PooledDyn { raw: RawDyn::new(self), _marker: PhantomData }
    }

    /// [`into_dyn`](Pooled::into_dyn) for a future that is not `Send`.
    #[inline(always)]
    pub fn into_local_dyn<'a>(self) -> LocalPooledDyn<'a, F::Output>
    where
        F: 'a,
    {
        LocalPooledDyn { raw: RawDyn::new(self), _marker: PhantomData }
    }
}

/// The poll of an erased future whose output is `T`, as the handle calls
/// it: the future's own `Future::poll` (or a stream's `poll_next`, with
/// `T = Option<Item>`), called directly as a `dyn Future`'s vtable calls
/// it, with no wrapper between. Its frame argument is the poll's
/// `Pin<&mut F>`: `Pin` is `repr(transparent)` over `&mut F`, and a thin
/// reference and a `NonNull<u8>` are ABI-compatible (as are `fn` and
/// `unsafe fn` of the same signature), so calling the poll through this
/// type is calling it as it is.
pub(crate) type PollFn<T> = unsafe fn(NonNull<u8>, &mut Context<'_>) -> Poll<T>;

/// What a type-erased handle needs to know of its future.
pub(crate) struct Vtable {
    /// `<F as Future>::poll`, called as a [`PollFn`]`<F::Output>`, with its
    /// type erased, so that a `'static` table serves futures whose output
    /// borrows: [`RawDyn::target`] and [`RawDyn::poll_early`] give it back
    /// as the `PollFn<T>` it was.
    poll: unsafe fn(),
    /// `ptr::drop_in_place::<F>`, which drops the `F` in a frame (pointer
    /// argument types are ABI-compatible, so it is called as it is); `None`
    /// for a type with nothing to drop, as a `dyn` vtable leaves it out.
    drop: Option<unsafe fn(NonNull<u8>)>,
    /// The class key the frame was taken for.
    key: ClassKey,
    /// Where the pool word sits in the frame.
    pool_at: usize,
}

struct VtableOf<F>(PhantomData<F>);

/// The future's own poll, as a `dyn Future`'s vtable holds it.
type FuturePoll<F> = fn(Pin<&mut F>, &mut Context<'_>) -> Poll<<F as Future>::Output>;

impl<F: Future> VtableOf<F> {
    const POLL: FuturePoll<F> = <F as Future>::poll;
    const VTABLE: Vtable = Vtable::of::<F>(
        // SAFETY: invariant 7: one fn pointer type for another, of the same size; only
        // `Vtable::poll_fn::<F::Output>` reads it, as a `PollFn` whose
        // argument and return types are ABI-compatible with the poll's (see
        // `PollFn`).
        unsafe { core::mem::transmute::<FuturePoll<F>, unsafe fn()>(Self::POLL) },
    );
}

impl Vtable {
    /// The table of a `T` in a frame, whose poll is `poll`.
    pub(crate) const fn of<T>(poll: unsafe fn()) -> Vtable {
        Vtable {
            poll,
            drop: if core::mem::needs_drop::<T>() {
                // SAFETY: invariant 7: a fn taking `*mut T` as one taking a `NonNull<u8>`:
                // thin pointers, which Rust's ABI passes alike; `destroy`
                // calls it with a frame holding a `T`.
                Some(unsafe {
                    core::mem::transmute::<unsafe fn(*mut T), unsafe fn(NonNull<u8>)>(
                        core::ptr::drop_in_place::<T>,
                    )
                })
            } else {
                None
            },
            key: KeyOf::<T>::KEY,
            pool_at: KeyOf::<T>::POOL_AT,
        }
    }
}

impl Vtable {
    /// The poll, as the [`PollFn`] it was made as.
    ///
    /// # Safety
    /// `T` is the output of the future type this vtable was made for.
    #[inline(always)]
    unsafe fn poll_fn<T>(&self) -> PollFn<T> {
        // SAFETY: invariant 7: the caller's contract: `VtableOf::<F>` stored
        // `F::poll`, which a `PollFn<F::Output>` calls as it is (see
        // `PollFn`), and `T` is `F::Output`.
        unsafe { core::mem::transmute::<unsafe fn(), PollFn<T>>(self.poll) }
    }

    /// The word of `frame` that [`RawDyn::adopt`] fills with its pool.
    ///
    /// # Safety
    /// `frame` is a frame taken for this vtable's future type, whose key
    /// counts the word.
    #[inline]
    unsafe fn pool_word(&self, frame: NonNull<u8>) -> *mut &'static FramePool {
        // SAFETY: invariant 4: the caller's contract: `pool_at` is inside the frame.
        unsafe { frame.as_ptr().add(self.pool_at) }.cast()
    }

    /// The pool of a frame holding this vtable's future.
    ///
    /// # Safety
    /// As [`Vtable::pool_word`], and the word is written.
    unsafe fn pool(&self, frame: NonNull<u8>) -> &'static FramePool {
        // SAFETY: invariant 4: the caller's contract.
        unsafe { self.pool_word(frame).read() }
    }

    /// Drops the future in `frame` and gives the frame back to its pool:
    /// one copy for every future type.
    ///
    /// # Safety
    /// `frame` holds this vtable's future, with its pool word written, and
    /// no one uses it again.
    unsafe fn destroy(&self, frame: NonNull<u8>) {
        // SAFETY: the caller's contract.
        let pool = unsafe { self.pool(frame) };
        // SAFETY: the frame was taken from `pool` for `key`, and `drop` drops
        // the future it holds.
        unsafe { pool.drop_and_give_back(frame, self.key, self.drop, || way_back(pool, self.key)) }
    }

    /// [`Vtable::destroy`] with the pool and its way back found before the
    /// value's last poll ([`EARLY_PAST`]).
    ///
    /// # Safety
    /// As [`Vtable::destroy`], and `early` came from [`Vtable::early`] for
    /// `frame`, on this thread.
    #[inline(never)]
    unsafe fn destroy_early(&self, frame: NonNull<u8>, early: Early) {
        let (pool, way) = early;
        // SAFETY: the frame was taken from `pool` for `key`, `drop` drops
        // the future it holds, and `way` is this thread's way back for
        // `key`.
        unsafe { pool.drop_and_give_back(frame, self.key, self.drop, || way) }
    }

    /// The pool of `frame` and its way back.
    ///
    /// # Safety
    /// As [`Vtable::pool`].
    #[inline(always)]
    unsafe fn early(&self, frame: NonNull<u8>) -> Early {
        // SAFETY: the caller's contract.
        let pool = unsafe { self.pool(frame) };
        (pool, way_back(pool, self.key))
    }
}

/// Where a frame goes back, found ahead of time: its pool and this thread's
/// cache for it.
type Early = (&'static FramePool, Option<NonNull<LocalPool>>);

/// Past this size, an output is written with enough stores that loads
/// right after them wait (measured at 1 KiB on the `dyn_trait` bench's
/// `out` rows; at 256 bytes and below, holding the lookup across the poll
/// costs more than it saves): an erased handle finds its frame's way back
/// before such a value's poll, not after.
const EARLY_PAST: usize = 512;

/// The table of an erased handle: an erased future's [`Vtable`], or one
/// that holds it first (a stream's, with its `size_hint`).
pub(crate) trait ErasedTable: 'static {
    fn base(&self) -> &Vtable;
}

impl ErasedTable for Vtable {
    fn base(&self) -> &Vtable {
        self
    }
}

/// The type-erased core of [`PooledDyn`] and [`LocalPooledDyn`] (and, with
/// a stream's table and `T = Option<Item>`, of the erased streams): two
/// words, so that a function returns it in registers. Polled until the
/// poll that ends the value, when the frame goes back.
pub(crate) struct RawDyn<T, V: ErasedTable = Vtable> {
    /// The frame; `None` once its value ended.
    pub(crate) frame: Option<NonNull<u8>>,
    pub(crate) vtable: &'static V,
    _output: PhantomData<fn() -> T>,
}

impl<T> RawDyn<T> {
    #[inline(always)]
    fn new<F: Future<Output = T>>(handle: Pooled<F>) -> Self {
        // SAFETY: invariant 7: the table of `F`, whose poll returns `Poll<T>`.
        unsafe { RawDyn::adopt(handle, &VtableOf::<F>::VTABLE) }
    }
}

impl<T, V: ErasedTable> RawDyn<T, V> {
    /// Takes the frame out of `handle` and writes its pool in its pool
    /// word.
    ///
    /// # Safety
    /// `vtable` was made for `F`, and its poll returns `Poll<T>`.
    #[inline(always)]
    pub(crate) unsafe fn adopt<F>(handle: Pooled<F>, vtable: &'static V) -> Self {
        let (frame, pool) = handle.into_raw_parts();
        if let Some(frame) = frame {
            // SAFETY: invariant 4: a frame taken for `F`, the table's type, whose pool
            // word nothing else uses.
            unsafe { vtable.base().pool_word(frame).write(pool) };
        }
        RawDyn { frame, vtable, _output: PhantomData }
    }

    /// Polls a value whose output is past [`EARLY_PAST`]: finds the
    /// frame's way back before the poll, and on the poll `ends` says ends
    /// the value, gives the frame back that way. `None` once it has.
    #[inline]
    pub(crate) fn poll_early(
        &mut self,
        cx: &mut Context<'_>,
        ends: fn(&Poll<T>) -> bool,
    ) -> Option<Poll<T>> {
        let frame = self.frame?;
        let table = self.vtable.base();
        // SAFETY: a frame this handle holds, made by `adopt`.
        let early = unsafe { table.early(frame) };
        // SAFETY: invariant 7: `adopt` was given the table of the value in the frame,
        // whose poll returns `Poll<T>`; only this handle reaches the frame
        // and it never moves.
        let poll = unsafe { table.poll_fn::<T>()(frame, cx) };
        if ends(&poll) {
            // Out of the handle first: if the drop below panics, the frame
            // is back already and the handle must not give it back again.
            self.frame = None;
            // SAFETY: the value ended and no one reaches the frame again;
            // `early` came from `table.early(frame)` on this thread. If the
            // value's drop unwinds, `poll` is still a local here and
            // unwinding drops it.
            unsafe { table.destroy_early(frame, early) };
        }
        Some(poll)
    }

    /// The frame and the poll to call on it, while the value lives: what
    /// a future handle's poll calls itself, so that in a debug build no
    /// other frame of ours sits between the caller's poll and the
    /// future's, as none does for a box.
    #[inline]
    pub(crate) fn target(&self) -> Option<(NonNull<u8>, PollFn<T>)> {
        let frame = self.frame?;
        // SAFETY: invariant 7: `adopt` was given the table of the value in
        // the frame, whose poll returns `Poll<T>`.
        Some((frame, unsafe { self.vtable.base().poll_fn::<T>() }))
    }

    /// Whether a `T` is past [`EARLY_PAST`]: then the handle polls with
    /// [`poll_early`](RawDyn::poll_early), not through
    /// [`target`](RawDyn::target).
    pub(crate) const EARLY: bool = size_of::<T>() > EARLY_PAST;

    /// `poll`, a poll through [`target`](RawDyn::target), after giving the
    /// frame back if `ends` says it ended the value.
    #[inline]
    pub(crate) fn settle(&mut self, poll: Poll<T>, ends: fn(&Poll<T>) -> bool) -> Poll<T> {
        if ends(&poll) {
            // Out of the handle first: if the drop below panics, the frame
            // is back already and the handle must not give it back again.
            if let Some(frame) = self.frame.take() {
                // SAFETY: the value ended and no one reaches the frame
                // again; its pool word is written. If the value's drop
                // unwinds, `poll` is still a local here and unwinding
                // drops it.
                unsafe { self.vtable.base().destroy(frame) };
            }
        }
        poll
    }

    /// The pool of the frame, while the handle holds one.
    pub(crate) fn pool(&self) -> Option<&'static FramePool> {
        // SAFETY: a frame this handle holds, made by `adopt`.
        self.frame.map(|frame| unsafe { self.vtable.base().pool(frame) })
    }
}

impl<T, V: ErasedTable> Drop for RawDyn<T, V> {
    fn drop(&mut self) {
        if let Some(frame) = self.frame {
            // SAFETY: the handle owned the frame, and is gone after this: the
            // last use.
            unsafe { self.vtable.base().destroy(frame) };
        }
    }
}

/// A pooled future with its type erased: `Future<Output = T> + Send + 'a`,
/// `Unpin`, and no allocation of its own. What `#[pooled]` methods of a
/// `dyn`-compatible trait return, and what [`Pooled::into_dyn`] makes.
///
/// Like `Pin<Box<dyn Future<Output = T> + Send + 'a>>`, but the state machine
/// lives in a pool frame, and the handle is two words.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct PooledDyn<'a, T> {
    raw: RawDyn<T>,
    _marker: PhantomData<dyn Future<Output = T> + Send + 'a>,
}

/// [`PooledDyn`] for futures that are not `Send`: like
/// `Pin<Box<dyn Future<Output = T> + 'a>>`.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct LocalPooledDyn<'a, T> {
    raw: RawDyn<T>,
    _marker: PhantomData<dyn Future<Output = T> + 'a>,
}

// SAFETY: invariant 8: a `PooledDyn` is only made from a `Pooled<F>` with `F: Send`
// (`into_dyn`), so sending it sends an `F` that may be sent.
unsafe impl<T> Send for PooledDyn<'_, T> {}

// The frames are pinned where they live; the handles are pointers to them.
impl<T> Unpin for PooledDyn<'_, T> {}
impl<T> Unpin for LocalPooledDyn<'_, T> {}

macro_rules! future_handle {
    ($handle:ident) => {
        impl<T> Future for $handle<'_, T> {
            type Output = T;

            #[inline]
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
                let raw = &mut self.get_mut().raw;
                if RawDyn::<T>::EARLY {
                    return poll_large(raw, cx, stringify!($handle));
                }
                let Some((frame, poll)) = raw.target() else {
                    polled_after_completion(stringify!($handle))
                };
                // SAFETY: invariant 7: the frame's own poll, on the frame
                // that only this handle reaches and that never moves.
                raw.settle(unsafe { poll(frame, cx) }, Poll::is_ready)
            }
        }

        impl<T> $handle<'_, T> {
            /// Whether the future has completed (and its frame gone back).
            pub fn is_terminated(&self) -> bool {
                self.raw.frame.is_none()
            }
        }

        impl<T> fmt::Debug for $handle<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($handle))
                    .field("pool", &self.raw.pool().map(FramePool::name))
                    .field("terminated", &self.is_terminated())
                    .finish()
            }
        }
    };
}

/// A future handle's poll of a large output: its way back found before
/// the poll ([`EARLY_PAST`]).
#[inline]
fn poll_large<T>(raw: &mut RawDyn<T>, cx: &mut Context<'_>, handle: &str) -> Poll<T> {
    match raw.poll_early(cx, Poll::is_ready) {
        Some(poll) => poll,
        None => polled_after_completion(handle),
    }
}

future_handle!(PooledDyn);
future_handle!(LocalPooledDyn);

impl<'a, F: Future + Send + 'a> From<Pooled<F>> for PooledDyn<'a, F::Output> {
    fn from(handle: Pooled<F>) -> Self {
        handle.into_dyn()
    }
}

impl<'a, F: Future + 'a> From<Pooled<F>> for LocalPooledDyn<'a, F::Output> {
    fn from(handle: Pooled<F>) -> Self {
        handle.into_local_dyn()
    }
}

impl<'a, T> From<PooledDyn<'a, T>> for LocalPooledDyn<'a, T> {
    fn from(handle: PooledDyn<'a, T>) -> Self {
        LocalPooledDyn { raw: handle.raw, _marker: PhantomData }
    }
}
