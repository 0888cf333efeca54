//! `Pooled<F>`: the handle to a future that lives in a pool's frame, and
//! the two ends of its life: built in a frame taken from the pool
//! (`alloc_with`), and dropped and given back when it completes or is
//! dropped (`destroy`).

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use crate::give::{Unwritten, give_back, give_back_by};
use crate::layout::{CACHE_LINE, ClassKey, KeyOf};
use crate::local::LocalPool;
use crate::pool::FramePool;
use crate::reserve::frame_bytes;
use crate::take::take_frame;

impl FramePool {
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
    #[inline(always)]
    pub fn alloc_with<F: Future, M: FnOnce() -> F>(&'static self, make: M) -> Pooled<F> {
        self.place_with(make)
    }

    /// Places `stream` in a frame of this pool: the `Box::pin(stream)` of a
    /// `BoxStream`, without the allocation. As for futures, prefer
    /// [`alloc_stream_with`](FramePool::alloc_stream_with) for large ones.
    #[inline]
    pub fn alloc_stream<S: Stream>(&'static self, stream: S) -> Pooled<S> {
        self.place_with(move || stream)
    }

    /// Builds the stream returned by `make` directly in a frame of this
    /// pool (what `#[pooled]` calls on a fn returning `impl Stream`). If
    /// `make` panics, the frame goes back.
    #[inline(always)]
    pub fn alloc_stream_with<S: Stream, M: FnOnce() -> S>(&'static self, make: M) -> Pooled<S> {
        self.place_with(make)
    }

    /// Builds the value returned by `make` in a frame of this pool, whatever
    /// it is: what `pool!` calls, which takes a future or a stream and can't
    /// tell which from its tokens. Not public API.
    // Always inlined: in a debug build too, a pooled fn then holds its
    // call's code itself instead of one more generic fn of its own.
    #[doc(hidden)]
    #[inline(always)]
    pub fn place_with<T, M: FnOnce() -> T>(&'static self, make: M) -> Pooled<T> {
        let key = KeyOf::<T>::KEY;
        let frame = take_frame(self, key);
        let guard = Unwritten { pool: self, frame, key };
        debug_assert!(frame.ptr.as_ptr() as usize % core::mem::align_of::<T>() == 0);
        // SAFETY: invariant 1: `take_frame` returned memory of a class that fits `key`,
        // the layout of `T` rounded up, and that no one else uses.
        unsafe { (frame.ptr.as_ptr() as *mut T).write(make()) };
        core::mem::forget(guard);
        // SAFETY: the frame now holds a `T` that only the handle owns, taken
        // from this pool for `T`'s class key.
        unsafe { Pooled::from_raw(frame.ptr, self) }
    }
}

/// A future (or a stream) placed in a [`FramePool`] frame: what a
/// `#[pooled]` function returns.
///
/// It is a small handle (two words, as `Pin<Box<F>>` with its allocator's
/// pool) that owns the frame, so it is `Unpin` and cheap to move, store,
/// await or spawn, whatever the size of the state machine behind it; the
/// state machine itself never moves.
///
/// - The frame goes back to its pool as soon as the future completes, and when
///   the handle is dropped before that (cancellation), including while a panic
///   unwinds.
/// - `Send` exactly when `F` is, `Sync` exactly when `F` is.
/// - Polling it again after it returned `Ready` panics, as an `async fn`
///   future does.
///
/// When `F` is a [`Stream`], the handle is a [`Stream`] of its items and a
/// [`FusedStream`]: `next().await` needs no pinning, even for a `!Unpin`
/// stream such as an `async-stream` one. The frame goes back when the
/// stream yields `Ready(None)`; after that, the handle yields `None` again.
#[must_use = "futures and streams do nothing unless you poll them"]
pub struct Pooled<F> {
    /// The frame holding the future; `None` once it completed. Untyped, so
    /// that no generic pointer fn is made per future type for it.
    frame: Option<NonNull<u8>>,
    pool: &'static FramePool,
    /// The handle owns an `F` and drops it (for the drop checker).
    _owns: PhantomData<F>,
}

// SAFETY: invariant 8: the handle owns its `F` as a `Box<F>` would: sending the handle
// sends the `F` (which may then be dropped on the other thread), allowed
// exactly when `F: Send`. The pool is `Sync` and takes frames back from any
// thread.
unsafe impl<F: Send> Send for Pooled<F> {}

// SAFETY: invariant 8: a shared `&Pooled<F>` gives no access to the `F`; requiring
// `F: Sync` anyway keeps the handle as conservative as `F` itself.
unsafe impl<F: Sync> Sync for Pooled<F> {}

// The frame is pinned where it lives; the handle is only a pointer to it.
impl<F> Unpin for Pooled<F> {}

impl<F> Pooled<F> {
    /// # Safety
    /// `frame` must hold a valid `F` owned by no one else, in memory taken
    /// from `pool` for `F`'s class key.
    #[inline(always)]
    unsafe fn from_raw(frame: NonNull<u8>, pool: &'static FramePool) -> Self {
        Pooled { frame: Some(frame), pool, _owns: PhantomData }
    }

    /// The future in its frame, pinned there; panics once it completed.
    /// (Out of line in a debug build, as [`complete`](Self::complete) is,
    /// so the poll that calls the future's poll holds none of their locals
    /// on the stack while it runs: a level of recursion costs less.)
    #[inline]
    fn future(&mut self) -> Pin<&mut F> {
        match self.pinned() {
            Some(future) => future,
            None => polled_after_completion("Pooled"),
        }
    }

    /// The value in the frame, pinned there, while the handle has one.
    #[inline]
    fn pinned(&mut self) -> Option<Pin<&mut F>> {
        let frame = self.frame?;
        // SAFETY: invariant 2: the frame holds a valid `F` that only this
        // handle reaches, and it stays at this address until the handle
        // gives it back, after dropping it: the pinning guarantee holds.
        Some(unsafe { Pin::new_unchecked(&mut *(frame.as_ptr() as *mut F)) })
    }

    /// `poll`, after completing the value if `ends` says the poll ended
    /// it. (The poll's output is built where the caller returns it; in an
    /// optimised build this inlines to no move of it.)
    #[inline]
    fn settle<T>(poll: Poll<T>, handle: &mut Self, ends: fn(&Poll<T>) -> bool) -> Poll<T> {
        if ends(&poll) {
            handle.complete();
        }
        poll
    }

    /// Drops the future and gives its frame back, if the handle still has
    /// one: when the future completes, or the handle drops.
    #[inline]
    fn complete(&mut self) {
        if let Some(frame) = self.frame.take() {
            // SAFETY: we just took the only pointer to the frame out of
            // the handle; it held a valid `F`.
            unsafe { destroy::<F>(self.pool, frame) };
        }
    }

    /// Whether the future has completed (and its frame gone back to the pool).
    pub fn is_terminated(&self) -> bool {
        self.frame.is_none()
    }

    /// The pool that serves this call: the function's. (For a layout past
    /// that pool's classes, the frame's memory is a shared size-class
    /// pool's; the call is still counted by this one.)
    pub fn pool(&self) -> &'static FramePool {
        self.pool
    }
}

/// Drops the `F` in a frame, then gives the frame back, even if the drop
/// panics. The pool finds the frame's class by `F`'s layout, as the
/// allocation did.
///
/// Inlined where it pays, in optimised builds; out of line in debug
/// builds, where the stack frame of the poll that calls it would otherwise
/// hold its locals at every level of a recursion.
///
/// # Safety
/// `frame` must hold a valid `F`, taken from `pool`, that no one uses again.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn destroy<F>(pool: &'static FramePool, frame: NonNull<u8>) {
    let key = KeyOf::<F>::KEY;
    // Gives the frame back if dropping the `F` panics; the normal path does
    // it below. (Not `drop_and_give_back` with `F`'s drop as a fn pointer:
    // constant as it is, that costs the typed call a third of a nanosecond
    // in `call_overhead`.)
    let on_unwind = GiveBack { pool, ptr: frame, key };
    // SAFETY: the caller hands us the only reference to a valid `F`.
    unsafe { ptr::drop_in_place(frame.as_ptr() as *mut F) };
    core::mem::forget(on_unwind);
    // SAFETY: the frame's value has been dropped; the memory is free. (Its
    // fast path is inlined here in optimised builds only.)
    unsafe { give_back(pool, frame, key) };
}

/// Gives a frame back when it is dropped: while the drop of the value it
/// held unwinds.
struct GiveBack {
    pool: &'static FramePool,
    ptr: NonNull<u8>,
    key: ClassKey,
}

impl Drop for GiveBack {
    fn drop(&mut self) {
        // SAFETY: the frame's value is gone: its drop unwound.
        unsafe { give_back(self.pool, self.ptr, self.key) };
    }
}

impl FramePool {
    /// [`destroy`] with the value's type erased: drops the value at `ptr`
    /// with `drop`, then gives the frame back to this pool under `key`, the
    /// way [`way_back`](crate::give::way_back) finds (`way` runs after the
    /// drop, or returns what the caller found before), also if `drop`
    /// panics. One copy serves every erased type (`Vtable::destroy` and
    /// `Vtable::destroy_early`).
    ///
    /// # Safety
    /// `ptr` holds a valid value, taken from this pool with `key`, that no
    /// one uses again; `drop` drops a value of its type (`None`: a type
    /// with nothing to drop); `way` gives this thread's way back for `key`.
    // Inlined into its two callers, the erased handles' shared destroys.
    #[inline(always)]
    pub(crate) unsafe fn drop_and_give_back(
        &'static self,
        ptr: NonNull<u8>,
        key: ClassKey,
        drop: Option<unsafe fn(NonNull<u8>)>,
        way: impl FnOnce() -> Option<NonNull<LocalPool>>,
    ) {
        if let Some(drop) = drop {
            let on_unwind = GiveBack { pool: self, ptr, key };
            // SAFETY: the caller's contract.
            unsafe { drop(ptr) };
            core::mem::forget(on_unwind);
        }
        // SAFETY: the frame's value has been dropped; the memory is free.
        unsafe { give_back_by(self, way(), ptr, key) };
    }
}

/// Whether a stream's poll ends it.
pub(crate) fn ended<T>(poll: &Poll<Option<T>>) -> bool {
    matches!(poll, Poll::Ready(None))
}

/// The panic of a handle polled again after it returned `Ready`, out of
/// each future's own code.
#[cold]
#[inline(never)]
pub(crate) fn polled_after_completion(handle: &str) -> ! {
    panic!("`{handle}` future polled after completion")
}

impl<F: Future> Future for Pooled<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // The future's poll is the only call here: what the handle does
        // before and after it is out of line in a debug build, so a level
        // of recursion holds this frame no bigger than a box's poll.
        Self::settle(this.future().poll(cx), this, Poll::is_ready)
    }
}

impl<S: Stream> Stream for Pooled<S> {
    type Item = S::Item;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        // Fused: a stream that ended stays ended.
        let Some(stream) = this.pinned() else { return Poll::Ready(None) };
        // As `Future::poll` above: the stream's poll is the only call here.
        Self::settle(stream.poll_next(cx), this, ended)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.frame {
            // SAFETY: the frame holds a valid `S`; `size_hint` takes it by
            // shared reference, as `Pin<&S>` would allow.
            Some(frame) => unsafe { &*(frame.as_ptr() as *const S) }.size_hint(),
            None => (0, Some(0)),
        }
    }
}

impl<S: Stream> FusedStream for Pooled<S> {
    fn is_terminated(&self) -> bool {
        self.frame.is_none()
    }
}

impl<F> Drop for Pooled<F> {
    #[inline]
    fn drop(&mut self) {
        self.complete();
    }
}

impl<F> fmt::Debug for Pooled<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("pool", &self.pool.name())
            .field("terminated", &self.is_terminated())
            .finish()
    }
}

impl<F> Pooled<F> {
    /// Takes the frame out of the handle without dropping it.
    #[inline(always)]
    pub(crate) fn into_raw_parts(self) -> (Option<NonNull<u8>>, &'static FramePool) {
        let this = core::mem::ManuallyDrop::new(self);
        (this.frame, this.pool)
    }
}

/// Checks, when `T`'s code is generated, that `T`'s frame fits frames of
/// `B` bytes: `#[pooled(capacity = .., frame_size = B)]` wraps its handle
/// in this. Not meant to be called by hand.
#[doc(hidden)]
#[inline(always)]
pub fn fits<const B: usize, T>(handle: Pooled<T>) -> Pooled<T> {
    #[allow(clippy::let_unit_value)]
    let () = Fits::<T, B>::OK;
    handle
}

struct Fits<T, const B: usize>(core::marker::PhantomData<T>);

impl<T, const B: usize> Fits<T, B> {
    const OK: () = assert!(
        KeyOf::<T>::KEY.size() <= frame_bytes::<B>() && KeyOf::<T>::KEY.align() <= CACHE_LINE,
        "this future is larger than the pool's static frames: raise `frame_size` \
         (the pool's `frame_size` in `flowcoro::report()`, on the target, without \
         `capacity`, is the size it needs)",
    );
}
