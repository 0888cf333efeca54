//! Frame sizes, alignments and the several layouts of one pool.

mod common;

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;

use common::{block_on, poll_once, sized, sized_output as expect, yield_once};
use flowcoro_rt::{FramePool, Pooled};

#[test]
fn large_frames_are_pooled() {
    static P16: FramePool = FramePool::new("layouts::16k");
    static P64: FramePool = FramePool::new("layouts::64k");
    for seed in 0..4 {
        assert_eq!(block_on(sized::<16384>(&P16, seed)), expect::<16384>(seed));
        assert_eq!(block_on(sized::<65536>(&P64, seed)), expect::<65536>(seed));
    }
    for (p, min) in [(&P16, 16384), (&P64, 65536)] {
        let s = p.stats();
        assert!(s.frame_size >= min && s.frame_size <= min + 64, "{s:?}");
        assert_eq!((s.fresh, s.reused, s.heap_fallbacks, s.live), (1, 3, 0, 0));
        assert_eq!(s.reserved_bytes, s.frame_size as u64);
    }
}

#[repr(align(256))]
struct Aligned([u8; 300]);

#[test]
fn alignment_above_a_cache_line_is_honoured() {
    static POOL: FramePool = FramePool::new("layouts::align");
    let mut futs: Vec<_> = (0..8u8)
        .map(|i| {
            POOL.alloc(async move {
                let a = Aligned([i; 300]);
                yield_once().await;
                (&a as *const Aligned as usize % 256, a.0[299])
            })
        })
        .collect();
    for f in &mut futs {
        assert!(poll_once(f).is_pending());
    }
    for (i, f) in futs.into_iter().enumerate() {
        assert_eq!(block_on(f), (0, i as u8));
    }
    let s = POOL.stats();
    assert!(s.frame_align >= 256, "{s:?}");
    assert_eq!(s.frame_size % 256, 0);
}

/// A future with no state at all.
struct Zst;

impl Future for Zst {
    type Output = &'static str;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<&'static str> {
        std::task::Poll::Ready("zst")
    }
}

#[test]
fn zero_sized_futures() {
    static POOL: FramePool = FramePool::new("layouts::zst");
    assert_eq!(size_of::<Zst>(), 0);
    for _ in 0..3 {
        assert_eq!(block_on(POOL.alloc(Zst)), "zst");
    }
    let s = POOL.stats();
    assert_eq!((s.allocations, s.reused, s.live), (3, 2, 0));
    assert!(s.frame_size > 0);
}

/// The tests whose layouts overflow into the shared size-class pools, whose
/// stats they read, run one at a time.
fn size_classes() -> MutexGuard<'static, ()> {
    static SIZE_CLASSES: Mutex<()> = Mutex::new(());
    SIZE_CLASSES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One pool, one generic fn, many layouts: as a `#[pooled]` generic fn's
/// `static` serves every instantiation.
fn generic<const N: usize>() -> Pooled<impl Future<Output = u64>> {
    static POOL: FramePool = FramePool::new("layouts::generic");
    sized::<N>(&POOL, 1)
}

#[test]
fn a_generic_fn_pools_all_its_layouts_without_heap_fallback() {
    fn round() -> u64 {
        block_on(generic::<8>())
            + block_on(generic::<100>())
            + block_on(generic::<1000>())
            + block_on(generic::<5000>())
            + block_on(generic::<20000>())
    }
    let expected = expect::<8>(1)
        + expect::<100>(1)
        + expect::<1000>(1)
        + expect::<5000>(1)
        + expect::<20000>(1);
    assert_eq!(round(), expected);
    let warm = flowcoro_rt::pools().into_iter().find(|p| p.name == "layouts::generic").unwrap();
    for _ in 0..common::scaled(100) {
        assert_eq!(round(), expected);
    }
    let s = flowcoro_rt::pools().into_iter().find(|p| p.name == "layouts::generic").unwrap();
    assert_eq!(s.heap_fallbacks, 0);
    // Steady state: no new memory after the first round.
    assert_eq!(s.fresh, warm.fresh);
    assert_eq!(s.fresh, 5);
    assert!(s.frame_size >= 20000);
    assert_eq!(s.live, 0);
}

#[test]
fn a_generic_fn_sees_all_its_calls_in_its_own_pool() {
    static POOL: FramePool = FramePool::new("layouts::generic_overflow");
    let _size_classes = size_classes();
    fn call<const N: usize>() {
        let f = sized::<N>(&POOL, 1);
        assert_eq!(f.pool().name(), "layouts::generic_overflow");
        assert_eq!(block_on(f), expect::<N>(1));
    }
    // Eight layouts take the pool's classes; four more (each over twice the
    // size of every class) are served by the shared size-class pools.
    for _ in 0..2 {
        call::<100>();
        call::<200>();
        call::<300>();
        call::<400>();
        call::<500>();
        call::<600>();
        call::<700>();
        call::<800>();
        call::<3000>();
        call::<7000>();
        call::<15000>();
        call::<30000>();
    }
    // Held at once, and freed on another thread.
    let held = (sized::<3000>(&POOL, 1), sized::<7000>(&POOL, 1));
    let s = POOL.stats();
    assert_eq!((s.allocations, s.live), (26, 2), "{s:?}");
    assert_eq!(s.reused + s.fresh + s.heap_fallbacks, s.allocations, "{s:?}");
    assert_eq!(s.overflow, 10, "{s:?}");
    assert_eq!(held.0.pool().name(), "layouts::generic_overflow");
    thread::spawn(move || {
        let (a, b) = held;
        assert_eq!(block_on(a) + block_on(b), expect::<3000>(1) + expect::<7000>(1));
    })
    .join()
    .unwrap();
    let s = POOL.stats();
    assert_eq!((s.allocations, s.live, s.heap_fallbacks), (26, 0, 0), "{s:?}");
    // Their second round came from the size-class pools' caches.
    assert!(s.reused >= 8 + 4, "{s:?}");
    assert!(s.frame_size >= 30000, "the largest layout it served: {s:?}");
    assert!(flowcoro_rt::report().to_string().contains("layouts::generic_overflow"));
}

#[test]
fn layouts_beyond_the_classes_share_a_class_or_a_size_class_pool() {
    static POOL: FramePool = FramePool::new("layouts::many");
    let _size_classes = size_classes();
    fn f<const N: usize>() -> u64 {
        block_on(sized::<N>(&POOL, 1))
    }
    // Eight distinct classes fill the table ...
    let total = f::<100>()
        + f::<200>()
        + f::<300>()
        + f::<400>()
        + f::<500>()
        + f::<600>()
        + f::<700>()
        + f::<800>();
    assert!(total > 0);
    // ... a ninth layout that fits a class at most twice its size shares it ...
    assert_eq!(f::<750>(), expect::<750>(1));
    let s = POOL.stats();
    assert_eq!((s.allocations, s.fresh, s.heap_fallbacks), (9, 8, 0));
    // ... and one that fits none goes to the shared size-class pool of its
    // power of two, where it is reused like any frame. The call is still
    // this pool's: counted here (and there, which holds the memory).
    let sc = |name: &str| flowcoro_rt::pools().into_iter().find(|p| p.name == name);
    let before = sc("flowcoro::size_class::4K").map_or(0, |p| p.allocations);
    for _ in 0..3 {
        assert_eq!(f::<4000>(), expect::<4000>(1));
    }
    let s = POOL.stats();
    assert_eq!((s.allocations, s.overflow, s.heap_fallbacks, s.live), (12, 3, 0, 0));
    assert_eq!(s.reused + s.fresh, s.allocations);
    let sc4k = sc("flowcoro::size_class::4K").expect("size-class pool used");
    assert_eq!(sc4k.allocations - before, 3);
    assert!(sc4k.frame_size == 4096 && sc4k.live == 0);
    assert!(POOL.trim() > 0);
    assert_eq!(POOL.stats().reserved_bytes, 0);
}

#[test]
fn frames_over_the_pooling_limit_are_never_cached() {
    static POOL: FramePool = FramePool::new("layouts::huge");
    if cfg!(miri) {
        return; // 2 MiB buffers are too slow to fill under Miri.
    }
    // A big stack: unoptimised builds keep copies of the future on it.
    let out = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let f = POOL.alloc_with(|| async {
                let buf = String::from("12345678");
                let big = [7u8; 2 << 20];
                yield_once().await;
                big[12345] as usize + buf.len()
            });
            block_on(f)
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(out, 15);
    let s = POOL.stats();
    assert_eq!((s.heap_fallbacks, s.idle, s.reserved_bytes, s.live), (1, 0, 0, 0));
}
