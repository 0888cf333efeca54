//! A frame's life: allocation, completion, drop, cancellation, panics.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use common::{Bomb, Probe, block_on, poll_once, yield_once};
use flowcoro_rt::{FramePool, Pooled};

#[test]
fn completes_and_returns_the_frame_on_completion() {
    static POOL: FramePool = FramePool::new("lifecycle::complete");
    let drops = Arc::new(AtomicUsize::new(0));
    let probe = Probe(drops.clone());
    let mut fut = POOL.alloc_with(move || async move {
        let _p = probe;
        yield_once().await;
        7
    });
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!(POOL.stats().live, 1);
    assert_eq!(poll_once(&mut fut), std::task::Poll::Ready(7));
    // Completion gives the frame back before the handle drops.
    assert!(fut.is_terminated());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let s = POOL.stats();
    assert_eq!((s.allocations, s.live, s.idle), (1, 0, 1));
    drop(fut);
    assert_eq!(POOL.stats().live, 0);
}

#[test]
fn nothing_runs_before_first_poll() {
    static POOL: FramePool = FramePool::new("lifecycle::lazy");
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let fut = POOL.alloc(async move { r.set(true) });
    assert!(!ran.get());
    block_on(fut);
    assert!(ran.get());
}

#[test]
fn cancel_before_first_poll_drops_captures_and_frees() {
    static POOL: FramePool = FramePool::new("lifecycle::cancel_early");
    let drops = Arc::new(AtomicUsize::new(0));
    let probe = Probe(drops.clone());
    let fut = POOL.alloc(async move {
        let _p = probe;
        unreachable!("never polled")
    });
    assert_eq!(POOL.stats().live, 1);
    drop(fut);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let s = POOL.stats();
    assert_eq!((s.live, s.idle), (0, 1));
}

#[test]
fn cancel_mid_way_drops_locals_and_frees() {
    static POOL: FramePool = FramePool::new("lifecycle::cancel_mid");
    let drops = Arc::new(AtomicUsize::new(0));
    let (a, b) = (Probe(drops.clone()), Probe(drops.clone()));
    let mut fut = POOL.alloc(async move {
        let _a = a;
        yield_once().await;
        let _b = b;
        yield_once().await;
    });
    assert!(poll_once(&mut fut).is_pending());
    assert!(poll_once(&mut fut).is_pending());
    drop(fut);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_eq!(POOL.stats().live, 0);
}

#[test]
fn panic_inside_poll_propagates_and_frees_on_unwind() {
    static POOL: FramePool = FramePool::new("lifecycle::panic_poll");
    let drops = Arc::new(AtomicUsize::new(0));
    let probe = Probe(drops.clone());
    let fut = POOL.alloc(async move {
        let _p = probe;
        yield_once().await;
        panic!("boom");
    });
    let err = catch_unwind(AssertUnwindSafe(|| block_on(fut))).expect_err("panic propagates");
    assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let s = POOL.stats();
    assert_eq!((s.allocations, s.live), (1, 0));
}

#[test]
fn panic_in_a_captured_drop_still_frees_the_frame() {
    static POOL: FramePool = FramePool::new("lifecycle::panic_drop");
    let bomb = Bomb;
    let fut = POOL.alloc(async move {
        let _b = bomb;
        std::future::pending::<()>().await;
    });
    let err = catch_unwind(AssertUnwindSafe(|| drop(fut))).expect_err("drop panics");
    assert_eq!(err.downcast_ref::<&str>(), Some(&"drop bomb"));
    assert_eq!(POOL.stats().live, 0);
    // The frame is reusable afterwards.
    assert_eq!(block_on(POOL.alloc(async { 1 })), 1);
    assert_eq!(POOL.stats().reused, 1);
}

/// Ready at once with a `Probe`, and panics when dropped.
struct ReadyThenPanicOnDrop(Option<Probe>);

impl Future for ReadyThenPanicOnDrop {
    type Output = Probe;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Probe> {
        Poll::Ready(self.0.take().expect("polled once"))
    }
}

impl Drop for ReadyThenPanicOnDrop {
    fn drop(&mut self) {
        panic!("drop of a completed future");
    }
}

#[test]
fn a_future_whose_drop_panics_after_ready_drops_its_output_and_frees_its_frame_once() {
    static POOL: FramePool = FramePool::new("lifecycle::panic_drop_after_ready");
    let drops = Arc::new(AtomicUsize::new(0));
    let make = || POOL.alloc(ReadyThenPanicOnDrop(Some(Probe(drops.clone()))));

    // The typed handle, the erased handle and its local twin all drop the
    // output they could not return, as the unwinding leaves them.
    let typed = catch_unwind(AssertUnwindSafe(|| block_on(make())));
    assert!(typed.is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let erased = catch_unwind(AssertUnwindSafe(|| block_on(make().into_dyn())));
    assert!(erased.is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 2, "the erased handle leaked its output");
    let local = catch_unwind(AssertUnwindSafe(|| block_on(make().into_local_dyn())));
    assert!(local.is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 3, "the local erased handle leaked its output");
    let s = POOL.stats();
    assert_eq!((s.allocations, s.live), (3, 0), "{s:?}");

    // An erased handle that outlives the panic of its poll, dropped after.
    let mut f = make().into_dyn();
    let r = catch_unwind(AssertUnwindSafe(|| poll_once(&mut f)));
    assert!(r.is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 4, "the erased handle leaked its output");
    drop(f); // must not give the frame back a second time
    let s = POOL.stats();
    assert_eq!((s.allocations, s.live, s.idle), (4, 0, 1), "{s:?}");
}

#[test]
fn panic_while_building_the_future_gives_the_frame_back() {
    static POOL: FramePool = FramePool::new("lifecycle::panic_make");
    let r = catch_unwind(|| {
        POOL.alloc_with(|| -> std::future::Ready<u8> { panic!("no future for you") })
    });
    assert!(r.is_err());
    let s = POOL.stats();
    assert_eq!((s.allocations, s.live, s.idle), (1, 0, 1));
}

#[test]
#[should_panic(expected = "polled after completion")]
fn polling_after_completion_panics() {
    static POOL: FramePool = FramePool::new("lifecycle::repoll");
    let mut fut = POOL.alloc(async { 1 });
    assert!(poll_once(&mut fut).is_ready());
    let _ = poll_once(&mut fut);
}

#[test]
fn frames_are_reused_lifo_and_never_move_while_alive() {
    static POOL: FramePool = FramePool::new("lifecycle::reuse");
    let n = common::scaled(1000);
    for i in 0..n {
        assert_eq!(block_on(POOL.alloc(async move { i * 2 })), i * 2);
    }
    let s = POOL.stats();
    assert_eq!(s.allocations, n as u64);
    assert_eq!(s.fresh, 1);
    assert_eq!(s.reused, n as u64 - 1);
    assert!(s.hit_ratio() > 0.99 || cfg!(miri));
    assert_eq!(s.peak_live, 1);

    // A frame that observes its own address across polls.
    let mut fut = POOL.alloc(async {
        let x = 5u64;
        let before = &x as *const u64 as usize;
        yield_once().await;
        let after = &x as *const u64 as usize;
        before == after
    });
    assert!(poll_once(&mut fut).is_pending());
    // Moving the handle does not move the frame.
    let mut moved = Box::new(fut);
    assert_eq!(poll_once(&mut *moved), std::task::Poll::Ready(true));
}

#[test]
fn peak_and_live_count_concurrent_frames() {
    static POOL: FramePool = FramePool::new("lifecycle::peak");
    let n = common::scaled(200);
    let handles: Vec<Pooled<_>> = (0..n).map(|i| POOL.alloc(async move { i })).collect();
    let s = POOL.stats();
    assert_eq!((s.live, s.peak_live, s.fresh), (n as u64, n as u64, n as u64));
    let total: usize = handles.into_iter().map(block_on).sum();
    assert_eq!(total, n * (n - 1) / 2);
    let s = POOL.stats();
    assert_eq!((s.live, s.peak_live), (0, n as u64));
    assert_eq!(s.reserved_bytes, s.idle * s.frame_size as u64);
    // Self-tuned: the depot keeps what the recent peak needs, the thread
    // cache up to two magazines.
    assert!(s.idle <= s.peak_live + 2 * flowcoro_rt::MAGAZINE as u64);
}

#[test]
fn max_idle_zero_frees_every_frame() {
    static POOL: FramePool = FramePool::new("lifecycle::no_cache").with_max_idle(0);
    for _ in 0..10 {
        block_on(POOL.alloc(async { 3 }));
    }
    let s = POOL.stats();
    assert_eq!((s.allocations, s.fresh, s.reused, s.idle, s.reserved_bytes), (10, 10, 0, 0, 0));
}

#[test]
fn handle_is_small_and_debug_names_the_pool() {
    static POOL: FramePool = FramePool::new("lifecycle::debug");
    let fut = POOL.alloc(async { [0u8; 4096] });
    // The frame and the pool, as `Pin<Box<dyn Future>>` is two words.
    assert_eq!(size_of_val(&fut), 2 * size_of::<usize>());
    let dbg = format!("{fut:?}");
    assert!(dbg.contains("lifecycle::debug") && dbg.contains("terminated: false"), "{dbg}");
    assert!(format!("{POOL:?}").contains("lifecycle::debug"));
    drop(fut);
}
