//! `PooledStream` and `LocalPooledStream`: a pooled stream with its type
//! erased, the drop-in for `BoxStream` and `LocalBoxStream`. Two words, as
//! the erased futures: the frame, and a vtable made per stream type whose
//! poll is the stream's own `poll_next`, with its `size_hint` beside it.

use core::fmt;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use crate::erased::Vtable;
use crate::pool::FramePool;
use crate::pooled::Pooled;

impl<S: Stream> Pooled<S> {
    /// Erases the stream's type: the drop-in for `BoxStream<'a, S::Item>`
    /// (`stream.boxed()`), with no allocation of its own: the frame stays
    /// where it is.
    #[inline(always)]
    pub fn into_dyn_stream<'a>(self) -> PooledStream<'a, S::Item>
    where
        S: Send + 'a,
    {
        PooledStream { raw: RawStream::new(self), _marker: PhantomData }
    }

    /// [`into_dyn_stream`](Pooled::into_dyn_stream) for a stream that is not
    /// `Send`: the drop-in for `LocalBoxStream<'a, S::Item>`.
    #[inline(always)]
    pub fn into_local_dyn_stream<'a>(self) -> LocalPooledStream<'a, S::Item>
    where
        S: 'a,
    {
        LocalPooledStream { raw: RawStream::new(self), _marker: PhantomData }
    }
}

/// The `size_hint` of an erased stream.
type HintFn = unsafe fn(NonNull<u8>) -> (usize, Option<usize>);

/// What a type-erased stream handle needs to know of its stream: the table
/// of an erased future, whose poll is the stream's `poll_next` (called as a
/// [`PollFn`](crate::erased::PollFn)`<Option<S::Item>>`), and its `size_hint`.
struct StreamVtable {
    base: Vtable,
    size_hint: HintFn,
}

struct StreamVtableOf<S>(PhantomData<S>);

/// The stream's own `poll_next`, as a `dyn Stream`'s vtable holds it.
type StreamPoll<S> = fn(Pin<&mut S>, &mut Context<'_>) -> Poll<Option<<S as Stream>::Item>>;

impl<S: Stream> StreamVtableOf<S> {
    const POLL: StreamPoll<S> = <S as Stream>::poll_next;
    const VTABLE: StreamVtable = StreamVtable {
        base: Vtable::of::<S>(
            // SAFETY: one fn pointer type for another, of the same size;
            // only `Vtable::poll_fn::<Option<S::Item>>` reads it, as a
            // `PollFn` whose argument and return types are ABI-compatible
            // with `poll_next`'s (see `PollFn`).
            unsafe { core::mem::transmute::<StreamPoll<S>, unsafe fn()>(Self::POLL) },
        ),
        size_hint: size_hint_frame::<S>,
    };
}

/// # Safety
/// `frame` holds a valid `S`.
unsafe fn size_hint_frame<S: Stream>(frame: NonNull<u8>) -> (usize, Option<usize>) {
    // SAFETY: the caller's contract; a shared borrow, as `size_hint` takes.
    unsafe { &*(frame.as_ptr() as *const S) }.size_hint()
}

/// The type-erased core of [`PooledStream`] and [`LocalPooledStream`].
struct RawStream<T> {
    /// The frame; `None` once the stream ended.
    frame: Option<NonNull<u8>>,
    vtable: &'static StreamVtable,
    _item: PhantomData<fn() -> T>,
}

impl<T> RawStream<T> {
    #[inline(always)]
    fn new<S: Stream<Item = T>>(handle: Pooled<S>) -> Self {
        let vtable = &StreamVtableOf::<S>::VTABLE;
        RawStream { frame: vtable.base.adopt(handle), vtable, _item: PhantomData }
    }

    #[inline]
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Some(frame) = self.frame else { return Poll::Ready(None) };
        // SAFETY: `new` made the vtable for an `S` whose item is `T`; the
        // frame holds that stream, only this handle reaches it and it never
        // moves.
        let poll = unsafe { self.vtable.base.poll_fn::<Option<T>>()(frame, cx) };
        if let Poll::Ready(None) = poll {
            // Out of the handle first: if the drop below panics, the frame
            // is back already and the handle must not give it back again.
            self.frame = None;
            // SAFETY: the stream ended and no one reaches the frame again;
            // its pool word is written.
            unsafe { self.vtable.base.destroy(frame) };
        }
        poll
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.frame {
            // SAFETY: the frame holds the vtable's stream.
            Some(frame) => unsafe { (self.vtable.size_hint)(frame) },
            None => (0, Some(0)),
        }
    }

    fn pool(&self) -> Option<&'static FramePool> {
        // SAFETY: a frame this handle holds, made by `new`.
        self.frame.map(|frame| unsafe { self.vtable.base.pool(frame) })
    }
}

impl<T> Drop for RawStream<T> {
    fn drop(&mut self) {
        if let Some(frame) = self.frame {
            // SAFETY: the handle owned the frame, and is gone after this: the
            // last use.
            unsafe { self.vtable.base.destroy(frame) };
        }
    }
}

/// A pooled stream with its type erased: `Stream<Item = T> + Send + 'a`,
/// `Unpin`, fused, and no allocation of its own. The drop-in for
/// `BoxStream<'a, T>`: what a `#[pooled]` trait's `fn .. -> impl Stream`
/// methods return, and what [`Pooled::into_dyn_stream`] makes.
///
/// The frame goes back to its pool when the stream yields `None` (and the
/// handle yields `None` after that), when the handle is dropped, and while
/// a panic unwinds.
#[must_use = "streams do nothing unless you poll them"]
pub struct PooledStream<'a, T> {
    raw: RawStream<T>,
    _marker: PhantomData<dyn Stream<Item = T> + Send + 'a>,
}

/// [`PooledStream`] for streams that are not `Send`: the drop-in for
/// `LocalBoxStream<'a, T>`.
#[must_use = "streams do nothing unless you poll them"]
pub struct LocalPooledStream<'a, T> {
    raw: RawStream<T>,
    _marker: PhantomData<dyn Stream<Item = T> + 'a>,
}

// SAFETY: a `PooledStream` is only made from a `Pooled<S>` with `S: Send`
// (`into_dyn_stream`), so sending it sends an `S` that may be sent.
unsafe impl<T> Send for PooledStream<'_, T> {}

// The frames are pinned where they live; the handles are pointers to them.
impl<T> Unpin for PooledStream<'_, T> {}
impl<T> Unpin for LocalPooledStream<'_, T> {}

macro_rules! stream_handle {
    ($handle:ident) => {
        impl<T> Stream for $handle<'_, T> {
            type Item = T;

            #[inline]
            fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
                self.raw.poll_next(cx)
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.raw.size_hint()
            }
        }

        impl<T> FusedStream for $handle<'_, T> {
            fn is_terminated(&self) -> bool {
                self.raw.frame.is_none()
            }
        }

        impl<T> fmt::Debug for $handle<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($handle))
                    .field("pool", &self.raw.pool().map(FramePool::name))
                    .field("terminated", &self.raw.frame.is_none())
                    .finish()
            }
        }
    };
}

stream_handle!(PooledStream);
stream_handle!(LocalPooledStream);

impl<'a, S: Stream + Send + 'a> From<Pooled<S>> for PooledStream<'a, S::Item> {
    fn from(handle: Pooled<S>) -> Self {
        handle.into_dyn_stream()
    }
}

impl<'a, S: Stream + 'a> From<Pooled<S>> for LocalPooledStream<'a, S::Item> {
    fn from(handle: Pooled<S>) -> Self {
        handle.into_local_dyn_stream()
    }
}

impl<'a, T> From<PooledStream<'a, T>> for LocalPooledStream<'a, T> {
    fn from(handle: PooledStream<'a, T>) -> Self {
        LocalPooledStream { raw: handle.raw, _marker: PhantomData }
    }
}
