//! Frames in static memory (`StaticFrames`): served first and with no
//! allocator, the heap past them, each frame back where it came from,
//! whoever frees it and however the call ends.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread;

use common::{block_on, poll_once, sized, sized_output, yield_once};
use flowcoro_rt::{FramePool, StaticFrames};

#[test]
fn calls_within_capacity_take_no_new_memory() {
    static FRAMES: StaticFrames<2, 256> = StaticFrames::new();
    static POOL: FramePool = FramePool::new("static::within").with_static_frames(&FRAMES);
    for seed in 0..20 {
        assert_eq!(block_on(sized::<100>(&POOL, seed)), sized_output::<100>(seed));
    }
    let mut a = sized::<100>(&POOL, 1);
    let mut b = sized::<100>(&POOL, 2);
    assert!(poll_once(&mut a).is_pending() && poll_once(&mut b).is_pending());
    let s = POOL.stats();
    assert_eq!((s.allocations, s.fresh, s.live, s.peak_live), (22, 0, 2, 2));
    assert_eq!(s.reused, 22, "a static frame counts as served from cache");
    assert_eq!(s.frame_size, 256);
    drop((a, b));
    assert_eq!(POOL.stats().live, 0);
    assert_eq!(POOL.trim(), 0, "static frames are never freed");
}

#[test]
fn past_capacity_calls_take_heap_frames_and_give_them_back_there() {
    static FRAMES: StaticFrames<2, 128> = StaticFrames::new();
    static POOL: FramePool = FramePool::new("static::past").with_static_frames(&FRAMES);
    let mut held: Vec<_> = (0..5).map(|i| sized::<64>(&POOL, i)).collect();
    for h in &mut held {
        assert!(poll_once(h).is_pending());
    }
    let s = POOL.stats();
    assert_eq!((s.live, s.fresh), (5, 3), "two static frames, three from the heap");
    for (i, mut h) in held.into_iter().enumerate() {
        assert_eq!(
            poll_once(&mut h),
            std::task::Poll::Ready(sized_output::<64>(i as u8)),
            "no two calls shared a frame"
        );
    }
    let s = POOL.stats();
    assert_eq!((s.live, s.idle), (0, 3), "the heap frames are cached, the static ones free");
    // The static frames serve again first; the cached heap frames after them.
    let held: Vec<_> = (0..4).map(|i| sized::<64>(&POOL, i)).collect();
    assert_eq!(POOL.stats().fresh, 3);
    drop(held);
    assert!(POOL.trim() > 0);
    assert_eq!(POOL.stats().live, 0);
}

#[test]
fn a_future_larger_than_the_frames_goes_to_the_heap() {
    static FRAMES: StaticFrames<4, 64> = StaticFrames::new();
    static POOL: FramePool = FramePool::new("static::large").with_static_frames(&FRAMES);
    assert_eq!(block_on(sized::<500>(&POOL, 3)), sized_output::<500>(3));
    assert_eq!(block_on(sized::<8>(&POOL, 3)), sized_output::<8>(3));
    let s = POOL.stats();
    assert_eq!((s.allocations, s.fresh, s.live), (2, 1, 0));
}

#[test]
fn frames_freed_on_other_threads_come_back() {
    static FRAMES: StaticFrames<3, 256> = StaticFrames::new();
    static POOL: FramePool = FramePool::new("static::threads").with_static_frames(&FRAMES);
    for round in 0..common::scaled(50) as u8 {
        let calls: Vec<_> = (0..3).map(|i| sized::<128>(&POOL, round ^ i)).collect();
        let outs = thread::spawn(move || calls.into_iter().map(block_on).collect::<Vec<_>>())
            .join()
            .expect("the thread finished");
        let want: Vec<_> = (0..3).map(|i| sized_output::<128>(round ^ i)).collect();
        assert_eq!(outs, want);
    }
    let s = POOL.stats();
    assert_eq!((s.fresh, s.live), (0, 0));
}

#[test]
fn a_panicking_constructor_or_body_gives_the_frame_back() {
    static FRAMES: StaticFrames<1, 256> = StaticFrames::new();
    static POOL: FramePool = FramePool::new("static::panics").with_static_frames(&FRAMES);
    let built =
        catch_unwind(|| POOL.alloc_with(|| -> std::future::Ready<u8> { panic!("constructor") }));
    assert!(built.is_err());
    let polled = catch_unwind(AssertUnwindSafe(|| {
        block_on(POOL.alloc(async {
            yield_once().await;
            panic!("body");
        }))
    }));
    assert!(polled.is_err());
    assert_eq!(block_on(POOL.alloc(async { 5 })), 5);
    let s = POOL.stats();
    assert_eq!((s.live, s.fresh), (0, 0), "the one static frame served all three");
}

#[test]
fn erased_handles_give_static_frames_back() {
    static FRAMES: StaticFrames<2, 256> = StaticFrames::new();
    static POOL: FramePool = FramePool::new("static::dyn").with_static_frames(&FRAMES);
    for i in 0..10u64 {
        let call = POOL.alloc(async move {
            yield_once().await;
            i * 2
        });
        assert_eq!(block_on(call.into_dyn()), i * 2);
    }
    let s = POOL.stats();
    assert_eq!((s.allocations, s.fresh, s.live), (10, 0, 0));
}
