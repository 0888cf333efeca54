//! Helpers shared by the runtime's integration tests: a no-op-waker
//! executor, a suspension point, the calls the tests allocate, and values
//! that count or panic in their drop.
#![allow(dead_code)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use flowcoro_rt::{FramePool, Pooled};

/// Polls `f` to completion on this thread with a no-op waker.
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Polls `f` once.
pub(crate) fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(f).poll(&mut cx)
}

/// Returns `Pending` once, then `Ready`.
#[derive(Debug, Default)]
pub(crate) struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

pub(crate) fn yield_once() -> YieldOnce {
    YieldOnce(false)
}

/// Iteration counts shrink under Miri, which runs code thousands of times slower.
pub(crate) const fn scaled(n: usize) -> usize {
    if cfg!(miri) { if n / 50 > 4 { n / 50 } else { 4 } } else { n }
}

/// A call of `pool` with 200 bytes of `i` held across one suspension:
/// returns `i` plus one of those bytes.
pub(crate) fn job(pool: &'static FramePool, i: u64) -> Pooled<impl Future<Output = u64> + Send> {
    pool.alloc_with(move || async move {
        let pad = [i as u8; 200];
        yield_once().await;
        i + u64::from(pad[199])
    })
}

/// Holds `n` calls of [`job`] on `pool` at once, then drops them all before
/// their first poll: a burst of `n` live frames, all freed on this thread.
pub(crate) fn burst(pool: &'static FramePool, n: u64) {
    let held: Vec<_> = (0..n).map(|i| job(pool, i)).collect();
    drop(held);
}

/// A call of `pool` whose frame holds `N` bytes of `seed` across one
/// suspension, one layout per `N`: after it resumes it sets its last byte
/// to `seed + 1`, and returns the sum of all `N` bytes, so a byte of the
/// frame written by anyone else shows in the output.
pub(crate) fn sized<const N: usize>(
    pool: &'static FramePool,
    seed: u8,
) -> Pooled<impl Future<Output = u64> + Send> {
    pool.alloc_with(move || async move {
        let mut buf = [seed; N];
        yield_once().await;
        buf[N - 1] = buf[0].wrapping_add(1);
        buf.iter().map(|&b| u64::from(b)).sum::<u64>()
    })
}

/// What [`sized`]`::<N>(pool, seed)` returns.
pub(crate) const fn sized_output<const N: usize>(seed: u8) -> u64 {
    seed as u64 * (N as u64 - 1) + seed.wrapping_add(1) as u64
}

/// Counts its drops.
#[derive(Debug)]
pub(crate) struct Probe(pub(crate) Arc<AtomicUsize>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Panics with "drop bomb" when dropped.
#[derive(Debug)]
pub(crate) struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("drop bomb");
    }
}
