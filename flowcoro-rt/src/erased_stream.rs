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

use crate::erased::{ErasedTable, RawDyn, Vtable};
use crate::pool::FramePool;
use crate::pooled::{Pooled, ended};

impl<S: Stream> Pooled<S> {
    /// Erases the stream's type: the drop-in for `BoxStream<'a, S::Item>`
    /// (`stream.boxed()`), with no allocation of its own: the frame stays
    /// where it is.
    #[inline(always)]
    pub fn into_dyn_stream<'a>(self) -> PooledStream<'a, S::Item>
    where
        S: Send + 'a,
    {
        PooledStream { raw: raw_stream(self), _marker: PhantomData }
    }

    /// [`into_dyn_stream`](Pooled::into_dyn_stream) for a stream that is not
    /// `Send`: the drop-in for `LocalBoxStream<'a, S::Item>`.
    #[inline(always)]
    pub fn into_local_dyn_stream<'a>(self) -> LocalPooledStream<'a, S::Item>
    where
        S: 'a,
    {
        LocalPooledStream { raw: raw_stream(self), _marker: PhantomData }
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
            // SAFETY: invariant 7: one fn pointer type for another, of the same size;
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

/// The erased core of a [`PooledStream`] or [`LocalPooledStream`]: the
/// erased futures' core, with the stream's table, polled until `None`.
type RawStream<T> = RawDyn<Option<T>, StreamVtable>;

impl ErasedTable for StreamVtable {
    fn base(&self) -> &Vtable {
        &self.base
    }
}

/// Erases a stream: [`RawDyn::adopt`] with the stream's table.
#[inline(always)]
fn raw_stream<S: Stream>(handle: Pooled<S>) -> RawStream<S::Item> {
    // SAFETY: invariant 7: the table of `S`, whose poll returns `Poll<Option<S::Item>>`.
    unsafe { RawDyn::adopt(handle, &StreamVtableOf::<S>::VTABLE) }
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

// SAFETY: invariant 8: a `PooledStream` is only made from a `Pooled<S>` with `S: Send`
// (`into_dyn_stream`), so sending it sends an `S` that may be sent.
unsafe impl<T> Send for PooledStream<'_, T> {}

// The frames are pinned where they live; the handles are pointers to them.
impl<T> Unpin for PooledStream<'_, T> {}
impl<T> Unpin for LocalPooledStream<'_, T> {}

/// A stream handle's poll of a large item: its way back found before the
/// poll that ends it.
#[inline]
fn poll_next_large<T>(raw: &mut RawStream<T>, cx: &mut Context<'_>) -> Poll<Option<T>> {
    // Fused: a stream that ended stays ended.
    raw.poll_early(cx, ended).unwrap_or(Poll::Ready(None))
}

macro_rules! stream_handle {
    ($handle:ident) => {
        impl<T> Stream for $handle<'_, T> {
            type Item = T;

            #[inline]
            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
                // As a future handle's poll: the stream's poll is the one
                // call here.
                let raw = &mut self.get_mut().raw;
                if RawStream::<T>::EARLY {
                    return poll_next_large(raw, cx);
                }
                // Fused: a stream that ended stays ended.
                let Some((frame, poll)) = raw.target() else { return Poll::Ready(None) };
                // SAFETY: invariant 7: the frame's own `poll_next`, on the
                // frame that only this handle reaches and that never moves.
                raw.settle(unsafe { poll(frame, cx) }, ended)
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                match self.raw.frame {
                    // SAFETY: the frame holds the table's stream.
                    Some(frame) => unsafe { (self.raw.vtable.size_hint)(frame) },
                    None => (0, Some(0)),
                }
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
