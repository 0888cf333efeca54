//! Streams in frames: `Pooled<S>` as a `Stream`, and the erased
//! `PooledStream` / `LocalPooledStream`. Each frame goes back when the
//! stream ends, when the handle is dropped, and while a panic unwinds.

mod common;

use std::cell::Cell;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use common::{Probe, scaled};
use flowcoro_rt::{FramePool, LocalPooledStream, Pooled, PooledStream};
use futures_core::{FusedStream, Stream};

/// Yields `n - 1` down to `0`, each after one `Pending`; `!Unpin`, with
/// `N` bytes of state it reads.
struct Countdown<const N: usize> {
    n: u32,
    pending: bool,
    state: [u8; N],
    _probe: Option<Probe>,
    _pin: PhantomPinned,
}

fn countdown<const N: usize>(n: u32, probe: Option<Probe>) -> Countdown<N> {
    Countdown { n, pending: true, state: [1; N], _probe: probe, _pin: PhantomPinned }
}

impl<const N: usize> Stream for Countdown<N> {
    type Item = u32;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
        // SAFETY: no field is structurally pinned; nothing moves out.
        let this = unsafe { self.get_unchecked_mut() };
        if this.n == 0 {
            return Poll::Ready(None);
        }
        let pending = this.pending;
        this.pending = !pending;
        if pending {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.n -= 1;
        let weight: u32 = this.state.iter().map(|&b| u32::from(b)).sum();
        Poll::Ready(Some(this.n * weight / N as u32))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.n as usize, Some(self.n as usize))
    }
}

/// Drains `s` on this thread with a no-op waker.
fn drain<S: Stream + Unpin>(s: &mut S) -> Vec<S::Item> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    loop {
        match Pin::new(&mut *s).poll_next(&mut cx) {
            Poll::Ready(Some(item)) => out.push(item),
            Poll::Ready(None) => return out,
            Poll::Pending => {}
        }
    }
}

/// The first item of `s`.
fn first<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(item) = Pin::new(&mut *s).poll_next(&mut cx) {
            return item;
        }
    }
}

#[test]
fn a_drained_stream_gives_its_frame_back_and_stays_ended() {
    static POOL: FramePool = FramePool::new("streams::drained");
    let mut s = POOL.alloc_stream(countdown::<64>(3, None));
    assert_eq!(s.size_hint(), (3, Some(3)));
    assert_eq!(POOL.stats().live, 1);
    assert!(!s.is_terminated());
    assert_eq!(drain(&mut s), [2, 1, 0]);
    assert_eq!(POOL.stats().live, 0, "back with the `None`, before the handle drops");
    assert!(s.is_terminated());
    assert_eq!(s.size_hint(), (0, Some(0)));
    assert_eq!(drain(&mut s), [], "polled again: `None`, no panic");
}

#[test]
fn erased_streams_of_different_types_in_one_vec() {
    static SMALL: FramePool = FramePool::new("streams::small");
    static LARGE: FramePool = FramePool::new("streams::large");
    let mut all: Vec<PooledStream<'static, u32>> = Vec::new();
    for i in 0..4 {
        all.push(if i % 2 == 0 {
            SMALL.alloc_stream(countdown::<16>(i + 1, None)).into_dyn_stream()
        } else {
            LARGE.alloc_stream_with(|| countdown::<4096>(i + 1, None)).into()
        });
    }
    assert_eq!(size_of::<PooledStream<'static, u32>>(), 2 * size_of::<usize>());
    assert_eq!(all[3].size_hint(), (4, Some(4)));
    assert_eq!((SMALL.stats().live, LARGE.stats().live), (2, 2));
    let out: Vec<Vec<u32>> = all.iter_mut().map(drain).collect();
    assert_eq!(out, [vec![0], vec![1, 0], vec![2, 1, 0], vec![3, 2, 1, 0]]);
    assert!(all.iter().all(FusedStream::is_terminated));
    assert_eq!(all[0].size_hint(), (0, Some(0)));
    assert_eq!((SMALL.stats().live, LARGE.stats().live), (0, 0));
    assert!(format!("{:?}", all[0]).contains("terminated: true"));
}

#[test]
fn dropped_midway_the_state_drops_and_the_frame_comes_back() {
    static POOL: FramePool = FramePool::new("streams::dropped");
    let drops = Arc::new(AtomicUsize::new(0));
    let mut typed = POOL.alloc_stream(countdown::<64>(5, Some(Probe(drops.clone()))));
    let mut erased =
        POOL.alloc_stream(countdown::<64>(5, Some(Probe(drops.clone())))).into_dyn_stream();
    assert_eq!((first(&mut typed), first(&mut erased)), (Some(4), Some(4)));
    assert_eq!(POOL.stats().live, 2);
    drop(typed);
    drop(erased);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_eq!(POOL.stats().live, 0);
}

/// Panics on its second `poll_next`.
struct PanicsOnSecondPoll(u32, #[allow(dead_code)] Probe);

impl Stream for PanicsOnSecondPoll {
    type Item = u32;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
        self.0 += 1;
        assert!(self.0 < 2, "inside poll_next");
        Poll::Ready(Some(self.0))
    }
}

#[test]
fn a_panic_inside_poll_next_drops_the_state_and_frees_the_frame() {
    static POOL: FramePool = FramePool::new("streams::panics");
    let drops = Arc::new(AtomicUsize::new(0));
    let typed = POOL.alloc_stream(PanicsOnSecondPoll(0, Probe(drops.clone())));
    let erased =
        POOL.alloc_stream(PanicsOnSecondPoll(0, Probe(drops.clone()))).into_local_dyn_stream();
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut typed = typed;
        drain(&mut typed)
    }));
    assert!(out.is_err());
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut erased = erased;
        drain(&mut erased)
    }));
    assert!(out.is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_eq!(POOL.stats().live, 0);
}

#[test]
fn local_streams_and_the_send_one_as_local() {
    static POOL: FramePool = FramePool::new("streams::local");
    struct Shared(Rc<Cell<u32>>, u32);
    impl Stream for Shared {
        type Item = u32;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
            self.0.set(self.0.get() + 1);
            self.1 = self.1.saturating_sub(1);
            Poll::Ready((self.1 > 0).then_some(self.1))
        }
    }
    let seen = Rc::new(Cell::new(0));
    let mut s: LocalPooledStream<'_, u32> = POOL.alloc_stream(Shared(seen.clone(), 3)).into();
    assert_eq!(drain(&mut s), [2, 1]);
    assert_eq!(seen.get(), 3);
    let mut s: LocalPooledStream<'static, u32> =
        POOL.alloc_stream(countdown::<8>(1, None)).into_dyn_stream().into();
    assert_eq!(drain(&mut s), [0]);
    assert_eq!(POOL.stats().live, 0);
}

#[test]
fn a_stream_that_borrows() {
    static POOL: FramePool = FramePool::new("streams::borrows");
    struct Words<'a>(std::str::SplitWhitespace<'a>);
    impl<'a> Stream for Words<'a> {
        type Item = &'a str;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<&'a str>> {
            Poll::Ready(self.0.next())
        }
    }
    let text = String::from("one two three");
    let mut s: PooledStream<'_, &str> =
        POOL.alloc_stream(Words(text.split_whitespace())).into_dyn_stream();
    assert_eq!(drain(&mut s), ["one", "two", "three"]);
}

#[test]
fn a_site_reused_many_times_hits_its_cache() {
    static POOL: FramePool = FramePool::new("streams::reused");
    let runs = scaled(10_000);
    let mut total = 0u64;
    for i in 0..runs {
        let mut s = POOL.alloc_stream(countdown::<256>(3, None)).into_dyn_stream();
        total += drain(&mut s).iter().map(|&x| u64::from(x)).sum::<u64>() + i as u64;
    }
    assert_eq!(total, (0..runs as u64).map(|i| i + 3).sum::<u64>());
    let stats = POOL.stats();
    assert_eq!((stats.allocations, stats.live), (runs as u64, 0));
    assert!(stats.hit_ratio() > 0.99 || cfg!(miri), "hit ratio {}", stats.hit_ratio());
}

#[test]
fn send_and_sync_follow_the_stream() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Sync>(_: &T) {}
    static POOL: FramePool = FramePool::new("streams::auto");
    let s: Pooled<Countdown<8>> = POOL.alloc_stream(countdown::<8>(0, None));
    send(&s);
    sync(&s);
    let s = s.into_dyn_stream();
    send(&s);
    drop(s);
    assert_eq!(POOL.stats().live, 0);
}
