//! `Pooled<F>`: the handle to a future that lives in a pool's frame.

use core::fmt;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll};

use crate::layout::KeyOf;
use crate::pool::{Frame, FramePool};

/// A future placed in a [`FramePool`] frame: what a `#[pooled]` function
/// returns.
///
/// It is a small handle (three words) that owns the frame, so it is `Unpin`
/// and cheap to move, store, await or spawn, whatever the size of the state
/// machine behind it; the state machine itself never moves.
///
/// - The frame goes back to its pool as soon as the future completes, and when
///   the handle is dropped before that (cancellation), including while a panic
///   unwinds.
/// - `Send` exactly when `F` is, `Sync` exactly when `F` is.
/// - Polling it again after it returned `Ready` panics, as an `async fn`
///   future does.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Pooled<F: Future> {
    /// The frame holding the future; `None` once it completed.
    frame: Option<NonNull<F>>,
    pool: &'static FramePool,
    class: u8,
    /// The handle owns an `F` and drops it (for the drop checker).
    _owns: PhantomData<F>,
}

// SAFETY: the handle owns its `F` as a `Box<F>` would: sending the handle
// sends the `F` (which may then be dropped on the other thread), allowed
// exactly when `F: Send`. The pool is `Sync` and takes frames back from any
// thread.
unsafe impl<F: Future + Send> Send for Pooled<F> {}

// SAFETY: a shared `&Pooled<F>` gives no access to the `F`; requiring
// `F: Sync` anyway keeps the handle as conservative as `F` itself.
unsafe impl<F: Future + Sync> Sync for Pooled<F> {}

// The frame is pinned where it lives; the handle is only a pointer to it.
impl<F: Future> Unpin for Pooled<F> {}

impl<F: Future> Pooled<F> {
    /// # Safety
    /// `frame` must hold a valid `F` owned by no one else, in memory taken
    /// from `pool` for `F`'s class key and served by `class`.
    pub(crate) unsafe fn from_raw(frame: NonNull<F>, pool: &'static FramePool, class: u8) -> Self {
        Pooled { frame: Some(frame), pool, class, _owns: PhantomData }
    }

    /// Whether the future has completed (and its frame gone back to the pool).
    pub fn is_terminated(&self) -> bool {
        self.frame.is_none()
    }

    /// The pool the frame came from.
    pub fn pool(&self) -> &'static FramePool {
        self.pool
    }
}

/// Drops the `F` in a frame, then gives the frame back, even if the drop
/// panics.
///
/// # Safety
/// `frame` must hold a valid `F`, taken from `pool` with `class`, that no one
/// uses again.
#[inline(always)]
unsafe fn destroy<F: Future>(pool: &'static FramePool, frame: NonNull<F>, class: u8) {
    struct GiveBack {
        pool: &'static FramePool,
        frame: Frame,
        key: crate::layout::ClassKey,
    }
    impl Drop for GiveBack {
        #[inline(always)]
        fn drop(&mut self) {
            // SAFETY: the frame's value has been dropped (or its drop unwound,
            // after which it is gone as well); the memory is free.
            unsafe { self.pool.give_back(self.frame, self.key) };
        }
    }
    let _give_back =
        GiveBack { pool, frame: Frame { ptr: frame.cast(), class }, key: KeyOf::<F>::KEY };
    // SAFETY: the caller hands us the only reference to a valid `F`.
    unsafe { ptr::drop_in_place(frame.as_ptr()) };
}

impl<F: Future> Future for Pooled<F> {
    type Output = F::Output;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let Some(frame) = this.frame else {
            panic!("`Pooled` future polled after completion");
        };
        // SAFETY: the frame holds a valid `F` that only this handle reaches,
        // and it stays at this address until the handle gives it back, after
        // dropping it: the pinning guarantee holds.
        let fut = unsafe { Pin::new_unchecked(&mut *frame.as_ptr()) };
        let out = match fut.poll(cx) {
            Poll::Ready(out) => out,
            Poll::Pending => return Poll::Pending,
        };
        this.frame = None;
        // SAFETY: we just took the only pointer to the frame out of the handle.
        unsafe { destroy(this.pool, frame, this.class) };
        Poll::Ready(out)
    }
}

impl<F: Future> Drop for Pooled<F> {
    #[inline]
    fn drop(&mut self) {
        if let Some(frame) = self.frame.take() {
            // SAFETY: the handle owned the frame; taking it out makes this the
            // last use.
            unsafe { destroy(self.pool, frame, self.class) };
        }
    }
}

impl<F: Future> fmt::Debug for Pooled<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("pool", &self.pool.name())
            .field("terminated", &self.is_terminated())
            .finish()
    }
}
