//! `PooledDyn` and `LocalPooledDyn`: type-erased handles, no allocation.

mod common;

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Bomb, Probe, block_on, poll_once, sized, sized_output, yield_once};
use flowcoro_rt::{FramePool, LocalPooledDyn, Pooled, PooledDyn};

static SMALL: FramePool = FramePool::new("dyn::small");
static LARGE: FramePool = FramePool::new("dyn::large");
/// For the tests that do not look at stats, so they don't race the one that does.
static OTHER: FramePool = FramePool::new("dyn::other");

fn small(x: u64) -> Pooled<impl Future<Output = u64> + Send> {
    small_in(&SMALL, x)
}

fn small_in(pool: &'static FramePool, x: u64) -> Pooled<impl Future<Output = u64> + Send> {
    pool.alloc(async move {
        yield_once().await;
        x + 1
    })
}

fn large(x: u64) -> Pooled<impl Future<Output = u64> + Send> {
    LARGE.alloc_with(move || async move {
        let buf = [x as u8; 4096];
        yield_once().await;
        buf.iter().map(|&b| b as u64).sum::<u64>()
    })
}

#[test]
fn heterogeneous_futures_in_one_vec() {
    let mut futs: Vec<PooledDyn<'static, u64>> = Vec::new();
    for i in 0..6 {
        futs.push(if i % 2 == 0 { small(i).into_dyn() } else { large(i).into() });
    }
    for f in &mut futs {
        assert!(poll_once(f).is_pending());
    }
    let out: Vec<u64> = futs.into_iter().map(block_on).collect();
    assert_eq!(out, vec![1, 4096, 3, 3 * 4096, 5, 5 * 4096]);
    assert_eq!(SMALL.stats().live, 0);
    assert_eq!(LARGE.stats().live, 0);
    // Two words, as `Pin<Box<dyn Future>>`: returned in registers.
    assert_eq!(size_of::<PooledDyn<'static, u64>>(), 2 * size_of::<usize>());
}

#[test]
fn erased_handles_drop_their_future_and_free_the_frame() {
    static POOL: FramePool = FramePool::new("dyn::drop");
    let drops = Arc::new(AtomicUsize::new(0));
    let p = Probe(drops.clone());
    let mut f = POOL
        .alloc(async move {
            let _p = p;
            yield_once().await;
        })
        .into_dyn();
    assert!(poll_once(&mut f).is_pending());
    assert_eq!(POOL.stats().live, 1);
    drop(f);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let s = POOL.stats();
    assert_eq!((s.live, s.idle), (0, 1));
}

#[test]
fn erased_handles_cross_threads() {
    let f: PooledDyn<'static, u64> = small_in(&OTHER, 2).into_dyn();
    let out = std::thread::spawn(move || block_on(f)).join().unwrap();
    assert_eq!(out, 3);
}

#[test]
fn erased_handles_of_every_layout_of_a_pool_come_back_to_their_class() {
    static POOL: FramePool = FramePool::new("dyn::layouts");
    fn erased<const N: usize>(seed: u8) -> PooledDyn<'static, u64> {
        sized::<N>(&POOL, seed).into_dyn()
    }
    /// What the six calls of a round return together.
    fn round_output(seed: u8) -> u64 {
        2 * (sized_output::<8>(seed) + sized_output::<200>(seed) + sized_output::<3000>(seed))
    }
    for round in 0..4u8 {
        // The pool's first layout and two others, in one `Vec`.
        let futs: Vec<PooledDyn<'static, u64>> =
            (0..6).map(|i| [erased::<8>, erased::<200>, erased::<3000>][i % 3](round)).collect();
        match round {
            // Completed here ...
            0 => assert_eq!(futs.into_iter().map(block_on).sum::<u64>(), round_output(0)),
            // ... on another thread ...
            1 => {
                let out = std::thread::spawn(move || futs.into_iter().map(block_on).sum::<u64>());
                assert_eq!(out.join().unwrap(), round_output(1));
            }
            // ... dropped after a first poll, and before any.
            _ => {
                let mut futs = futs;
                if round == 2 {
                    futs.iter_mut().for_each(|f| assert!(poll_once(f).is_pending()));
                }
                drop(futs);
            }
        }
    }
    let s = POOL.stats();
    assert_eq!((s.live, s.heap_fallbacks, s.allocations), (0, 0, 24), "{s:?}");
    // Only the first round took new memory: the frames round 1 freed on a
    // thread that then exited went to the depot, where the later rounds
    // found them, each layout in its own class.
    assert_eq!(s.fresh, 6, "{s:?}");
}

#[test]
fn outputs_may_borrow() {
    static POOL: FramePool = FramePool::new("dyn::borrow");
    let text = String::from("borrowed output");
    let s: &str = &text;
    let f: PooledDyn<'_, &str> = POOL.alloc(async move { &s[..8] }).into_dyn();
    assert_eq!(block_on(f), "borrowed");
}

#[test]
fn local_handles_hold_non_send_futures() {
    static POOL: FramePool = FramePool::new("dyn::local");
    let rc = Rc::new(20);
    let r = rc.clone();
    let f: LocalPooledDyn<'_, i32> = POOL.alloc(async move { *r + 1 }).into_local_dyn();
    assert_eq!(block_on(f), 21);
    assert_eq!(Rc::strong_count(&rc), 1);
    let g: LocalPooledDyn<'_, u64> = small_in(&OTHER, 1).into_dyn().into();
    assert_eq!(block_on(g), 2);
}

#[test]
#[should_panic(expected = "polled after completion")]
fn polling_an_erased_handle_after_completion_panics() {
    let mut f = small_in(&OTHER, 0).into_dyn();
    let _ = block_on(&mut f);
    let _ = poll_once(&mut f);
}

#[test]
fn auto_traits() {
    fn send<T: Send>() {}
    fn unpin<T: Unpin>() {}
    send::<PooledDyn<'static, Rc<u8>>>(); // the output is produced, not held
    unpin::<PooledDyn<'static, u8>>();
    unpin::<LocalPooledDyn<'static, u8>>();
    let dbg = format!("{:?}", small_in(&OTHER, 3).into_dyn());
    assert!(dbg.contains("dyn::other"), "{dbg}");
}

#[test]
fn a_panic_in_a_drop_as_the_body_completes_frees_the_frame_once() {
    static POOL: FramePool = FramePool::new("dyn::drop_panic");
    // Dropped as the body ends, inside the poll that would return `Ready`.
    let bomb = Bomb;
    let f = POOL
        .alloc(async move {
            let _b = bomb;
            yield_once().await;
            7
        })
        .into_dyn();
    let mut f = f;
    assert!(poll_once(&mut f).is_pending());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut f)));
    assert!(r.is_err());
    drop(f); // must not destroy the frame a second time
    let s = POOL.stats();
    assert_eq!((s.allocations, s.live, s.idle), (1, 0, 1));
}

/// An output large enough that the handle finds the frame's way back
/// before the last poll (past 512 bytes): the frame still goes back to this
/// thread's cache, the future is dropped, and a panic in that drop still
/// gives the frame back once.
#[test]
fn large_outputs_give_the_frame_back_as_small_ones_do() {
    static POOL: FramePool = FramePool::new("dyn::large_output");
    let drops = Arc::new(AtomicUsize::new(0));
    for i in 0..100u8 {
        let probe = Probe(drops.clone());
        let f: PooledDyn<'static, [u8; 2048]> = POOL
            .alloc(async move {
                let _probe = probe;
                yield_once().await;
                [i; 2048]
            })
            .into_dyn();
        let out = block_on(f);
        assert!(out.iter().all(|&b| b == i));
    }
    assert_eq!(drops.load(Ordering::SeqCst), 100);
    let s = POOL.stats();
    assert_eq!((s.fresh, s.reused, s.live), (1, 99, 0));

    let bomb = Bomb;
    let mut f = POOL
        .alloc(async move {
            let _b = bomb;
            yield_once().await;
            [1u8; 2048]
        })
        .into_local_dyn();
    assert!(poll_once(&mut f).is_pending());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut f)));
    assert!(r.is_err());
    drop(f);
    let s = POOL.stats();
    assert_eq!((s.fresh, s.reused, s.live), (1, 100, 0));
}
