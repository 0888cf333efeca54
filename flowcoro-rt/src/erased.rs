//! `PooledDyn` and `LocalPooledDyn`: a pooled future with its type erased,
//! two words like a `Pin<Box<dyn Future>>`: the frame, and a vtable made per
//! future type that polls it, drops it and gives it back (the frame's pool
//! is in a word after the future, written on erasure).

use core::fmt;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll};

use crate::layout::KeyOf;
use crate::pool::FramePool;
use crate::pooled::{Pooled, destroy};

impl<F: Future> Pooled<F> {
    /// Erases the future's type: a [`PooledDyn`] can sit in one `Vec` beside
    /// handles of other futures with the same output. No allocation: the
    /// frame stays where it is.
    pub fn into_dyn<'a>(self) -> PooledDyn<'a, F::Output>
    where
        F: Send + 'a,
    {
        PooledDyn { raw: RawDyn::new(self), _marker: PhantomData }
    }

    /// [`into_dyn`](Pooled::into_dyn) for a future that is not `Send`.
    pub fn into_local_dyn<'a>(self) -> LocalPooledDyn<'a, F::Output>
    where
        F: 'a,
    {
        LocalPooledDyn { raw: RawDyn::new(self), _marker: PhantomData }
    }
}

/// What a type-erased handle needs to know of its future.
struct Vtable {
    /// Polls the `F` in the frame `slot` holds; on `Ready`, takes the frame
    /// out of `slot` and gives it back, then writes the output to `out`, and
    /// returns `true`: one indirect call per poll, completion included.
    poll: unsafe fn(&mut Option<NonNull<u8>>, &mut Context<'_>, *mut ()) -> bool,
    /// [`destroy`] for the `F` in the frame.
    destroy: unsafe fn(NonNull<u8>),
    /// The frame's pool, as `RawDyn::new` wrote it.
    pool: unsafe fn(NonNull<u8>) -> &'static FramePool,
}

struct VtableOf<F>(PhantomData<F>);

impl<F: Future> VtableOf<F> {
    const VTABLE: Vtable =
        Vtable { poll: poll_erased::<F>, destroy: destroy_erased::<F>, pool: pool_erased::<F> };
}

/// The word after the future in a frame of `F`, which [`RawDyn::new`] fills
/// with the frame's pool for the erased functions.
///
/// # Safety
/// `frame` is a frame taken for `F`'s class key, which counts the word.
#[inline(always)]
unsafe fn pool_word<F: Future>(frame: NonNull<u8>) -> NonNull<&'static FramePool> {
    // SAFETY: the caller's contract: `POOL_AT` is inside the frame.
    unsafe { frame.add(KeyOf::<F>::POOL_AT) }.cast()
}

/// The pool of a frame holding an `F`.
///
/// # Safety
/// `frame` holds an `F`, whose pool word `RawDyn::new` wrote.
#[inline(always)]
unsafe fn pool_erased<F: Future>(frame: NonNull<u8>) -> &'static FramePool {
    // SAFETY: the caller's contract: the word is written.
    unsafe { pool_word::<F>(frame).read() }
}

/// # Safety
/// `slot`, if set, holds a frame as [`pool_erased`] takes it, whose `F`
/// only the caller reaches and which never moves; `out` is valid for a write
/// of `F::Output`.
unsafe fn poll_erased<F: Future>(
    slot: &mut Option<NonNull<u8>>,
    cx: &mut Context<'_>,
    out: *mut (),
) -> bool {
    let Some(frame) = *slot else {
        panic!("`PooledDyn` future polled after completion");
    };
    // SAFETY: the caller's contract: a valid `F` that never moves.
    let fut = unsafe { Pin::new_unchecked(frame.cast::<F>().as_mut()) };
    match fut.poll(cx) {
        Poll::Ready(v) => {
            // Out of the handle first: if the drop below panics, the frame is
            // back already and the handle must not give it back again.
            *slot = None;
            // SAFETY: as the caller promised; the future completed and no
            // one reaches the frame again. If the future's drop unwinds, `v`
            // is still a local here and unwinding drops it.
            unsafe { destroy_erased::<F>(frame) };
            // SAFETY: the caller gives us room for an `F::Output`; written
            // only now, so that the caller never holds an output it can't
            // see (it reads `out` only when this returns `true`).
            unsafe { out.cast::<F::Output>().write(v) };
            true
        }
        Poll::Pending => false,
    }
}

/// # Safety
/// `frame` is a frame as [`pool_erased`] takes it, whose `F` no one uses
/// again.
unsafe fn destroy_erased<F: Future>(frame: NonNull<u8>) {
    // SAFETY: forwarded from the caller.
    let pool = unsafe { pool_erased::<F>(frame) };
    // SAFETY: forwarded from the caller; the pool finds the class by `F`'s
    // key.
    unsafe { destroy::<F>(pool, frame.cast()) }
}

/// The type-erased core of [`PooledDyn`] and [`LocalPooledDyn`]: two words,
/// so that a function returns it in registers.
struct RawDyn<T> {
    /// The frame; `None` once the future completed.
    frame: Option<NonNull<u8>>,
    vtable: &'static Vtable,
    _output: PhantomData<fn() -> T>,
}

impl<T> RawDyn<T> {
    fn new<F: Future<Output = T>>(handle: Pooled<F>) -> Self {
        let (frame, pool) = handle.into_raw_parts();
        let frame = frame.map(|f| {
            let frame = f.cast::<u8>();
            // SAFETY: a frame taken for `F`, whose pool word nothing else
            // uses.
            unsafe { pool_word::<F>(frame).write(pool) };
            frame
        });
        RawDyn { frame, vtable: &VtableOf::<F>::VTABLE, _output: PhantomData }
    }

    fn is_terminated(&self) -> bool {
        self.frame.is_none()
    }

    #[inline]
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<T> {
        let mut out = core::mem::MaybeUninit::<T>::uninit();
        // SAFETY: the frame holds the future the vtable was made for, with
        // its pool word written by `new`; only this handle reaches it and it
        // never moves; `out` has room for its output.
        if !unsafe { (self.vtable.poll)(&mut self.frame, cx, out.as_mut_ptr().cast()) } {
            return Poll::Pending;
        }
        // SAFETY: `poll` returned `true`, so it wrote the output.
        Poll::Ready(unsafe { out.assume_init() })
    }

    /// The pool of the frame, while the handle holds one.
    fn pool(&self) -> Option<&'static FramePool> {
        // SAFETY: a frame this handle holds, made by `new`.
        self.frame.map(|frame| unsafe { (self.vtable.pool)(frame) })
    }
}

impl<T> Drop for RawDyn<T> {
    fn drop(&mut self) {
        if let Some(frame) = self.frame {
            // SAFETY: the handle owned the frame, and is gone after this: the
            // last use.
            unsafe { (self.vtable.destroy)(frame) };
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

// SAFETY: a `PooledDyn` is only made from a `Pooled<F>` with `F: Send`
// (`into_dyn`), so sending it sends an `F` that may be sent.
unsafe impl<T> Send for PooledDyn<'_, T> {}

// The frames are pinned where they live; the handles are pointers to them.
impl<T> Unpin for PooledDyn<'_, T> {}
impl<T> Unpin for LocalPooledDyn<'_, T> {}

impl<T> Future for PooledDyn<'_, T> {
    type Output = T;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.raw.poll(cx)
    }
}

impl<T> Future for LocalPooledDyn<'_, T> {
    type Output = T;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.raw.poll(cx)
    }
}

impl<T> PooledDyn<'_, T> {
    /// Whether the future has completed (and its frame gone back).
    pub fn is_terminated(&self) -> bool {
        self.raw.is_terminated()
    }
}

impl<T> LocalPooledDyn<'_, T> {
    /// Whether the future has completed (and its frame gone back).
    pub fn is_terminated(&self) -> bool {
        self.raw.is_terminated()
    }
}

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

impl<T> fmt::Debug for PooledDyn<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledDyn")
            .field("pool", &self.raw.pool().map(FramePool::name))
            .field("terminated", &self.is_terminated())
            .finish()
    }
}

impl<T> fmt::Debug for LocalPooledDyn<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalPooledDyn")
            .field("pool", &self.raw.pool().map(FramePool::name))
            .field("terminated", &self.is_terminated())
            .finish()
    }
}
