//! Frames that cross threads, threads that come and go.

mod common;

use std::sync::mpsc;
use std::thread;

use common::{block_on, burst, job, poll_once, scaled};
use flowcoro_rt::{FramePool, MAGAZINE, Pooled};

#[test]
fn frames_allocated_here_complete_and_drop_there() {
    static POOL: FramePool = FramePool::new("threads::handoff");
    let n = scaled(5000) as u64;
    let (tx, rx) = mpsc::sync_channel(16);
    let consumer = thread::spawn(move || {
        let mut sum = 0;
        let mut dropped = 0;
        for (i, mut f) in rx {
            if i % 3 == 0 {
                drop(f); // cancelled on the other thread
                dropped += 1;
            } else {
                sum += match poll_once(&mut f) {
                    std::task::Poll::Ready(v) => v,
                    std::task::Poll::Pending => block_on(f),
                };
            }
        }
        (sum, dropped)
    });
    for i in 0..n {
        let mut f = job(&POOL, i);
        if i % 2 == 0 {
            assert!(poll_once(&mut f).is_pending()); // started here, finished there
        }
        tx.send((i, f)).unwrap();
    }
    drop(tx);
    let (sum, dropped) = consumer.join().unwrap();
    let expected: u64 = (0..n).filter(|i| i % 3 != 0).map(|i| i + (i as u8) as u64).sum();
    assert_eq!(sum, expected);
    assert_eq!(dropped, n.div_ceil(3));
    let s = POOL.stats();
    assert_eq!((s.allocations, s.live), (n, 0));
    // Frames flowed back through the depot: most allocations reused memory.
    assert!(s.fresh < n / 2 || cfg!(miri), "{s:?}");
}

#[test]
fn short_lived_threads_leak_nothing_and_stay_bounded() {
    static POOL: FramePool = FramePool::new("threads::churn").with_max_idle(64);
    let rounds = scaled(200);
    let per = scaled(100);
    for r in 0..rounds {
        thread::spawn(move || {
            let futs: Vec<_> = (0..per).map(|i| job(&POOL, (r * per + i) as u64)).collect();
            for (i, f) in futs.into_iter().enumerate() {
                assert_eq!(block_on(f), (r * per + i) as u64 + ((r * per + i) as u8) as u64);
            }
        })
        .join()
        .unwrap();
        let s = POOL.stats();
        assert_eq!(s.live, 0);
        // Exited threads handed their caches to the depot, which keeps max_idle.
        assert!(s.idle <= 64, "{s:?}");
    }
    let s = POOL.stats();
    assert_eq!(s.allocations, (rounds * per) as u64);
    assert_eq!(s.reserved_bytes, s.idle * s.frame_size as u64);
    // Threads reuse what earlier threads left behind.
    assert!(s.reused > s.fresh, "{s:?}");
    // Keep some frames live across the trim: it frees only what is cached.
    let held: Vec<_> = (0..3).map(|i| job(&POOL, i)).collect();
    let released = POOL.trim();
    let after = POOL.stats();
    assert!(released > 0);
    assert_eq!(after.live, 3);
    assert_eq!(after.idle, 0);
    assert_eq!(after.reserved_bytes, 3 * after.frame_size as u64);
    drop(held);
    POOL.trim();
    assert_eq!(POOL.stats().reserved_bytes, 0);
}

#[test]
fn idle_stays_bounded_with_many_threads_at_once() {
    static POOL: FramePool = FramePool::new("threads::bounded").with_max_idle(100);
    let threads = 4;
    let per = scaled(500);
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            thread::spawn(move || {
                for _ in 0..3 {
                    burst(&POOL, per as u64);
                }
                // While this thread lives, its own cache is bounded too.
                POOL.stats().idle
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let s = POOL.stats();
    assert_eq!(s.live, 0);
    assert!(s.idle <= 100, "{s:?}");
    assert!(s.peak_live >= per as u64, "{s:?}");
    assert_eq!(s.allocations, (threads * per * 3) as u64);
}

#[test]
fn producer_consumer_exchanges_through_the_depot() {
    static POOL: FramePool = FramePool::new("threads::exchange");
    // The producer only allocates and the consumer only frees: frames must
    // flow back in magazines, so the producer's fresh allocations stop growing.
    let n = scaled(20_000);
    let (tx, rx) = mpsc::sync_channel::<Pooled<_>>(MAGAZINE);
    let consumer = thread::spawn(move || rx.into_iter().map(block_on).sum::<u64>());
    for i in 0..n as u64 {
        tx.send(job(&POOL, i)).unwrap();
    }
    drop(tx);
    let sum = consumer.join().unwrap();
    assert_eq!(sum, (0..n as u64).map(|i| i + (i as u8) as u64).sum::<u64>());
    let s = POOL.stats();
    assert_eq!(s.live, 0);
    assert!(s.fresh <= (8 * MAGAZINE) as u64 || cfg!(miri), "{s:?}");
}

#[test]
#[cfg_attr(miri, ignore = "many rounds across threads")]
fn frames_passed_between_two_threads_keep_idle_near_the_peak() {
    // A client pool on two workers: at most 4 calls in flight, each started
    // on one thread and finished on the other.
    static POOL: FramePool = FramePool::new("threads::ping_pong");
    let (to_b, from_a) = mpsc::sync_channel::<Pooled<_>>(4);
    let (to_a, from_b) = mpsc::sync_channel::<u64>(4);
    let b = thread::spawn(move || {
        for f in from_a {
            to_a.send(block_on(f)).unwrap();
        }
    });
    let rounds = 20_000;
    for _ in 0..4 {
        to_b.send(job(&POOL, 1)).unwrap();
    }
    for i in 0..rounds {
        assert_eq!(from_b.recv().unwrap(), 2);
        if i + 4 < rounds {
            to_b.send(job(&POOL, 1)).unwrap();
        }
    }
    drop(to_b);
    b.join().unwrap();
    let s = POOL.stats();
    assert_eq!(s.live, 0);
    assert!(s.peak_live <= 5, "{s:?}");
    // Each thread keeps at most two magazines and a hot frame, sized by the
    // recent peak; the depot holds the peak and a magazine in transit.
    let cap = (s.peak_live as usize).div_ceil(2);
    let bound = 2 * (2 * cap + 1) + s.peak_live as usize + cap;
    assert!(s.idle as usize <= bound, "idle {} above {bound}: {s:?}", s.idle);
    assert!(bound < MAGAZINE, "the bound is about the peak, not the magazine");
    assert!(s.hit_ratio() > 0.99, "{s:?}");
}

#[test]
fn stats_are_exact_after_threads_join() {
    static POOL: FramePool = FramePool::new("threads::exact");
    let per = scaled(1000);
    let hs: Vec<_> = (0..3)
        .map(|_| {
            thread::spawn(move || (0..per as u64).map(|i| block_on(job(&POOL, i))).sum::<u64>())
        })
        .collect();
    let sums: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(sums.windows(2).all(|w| w[0] == w[1]));
    let s = POOL.stats();
    assert_eq!(s.allocations, 3 * per as u64);
    assert_eq!(s.reused + s.fresh + s.heap_fallbacks, s.allocations);
    assert_eq!(s.live, 0);
    assert!(s.fresh <= 3, "{s:?}");
    let listed = flowcoro_rt::pools();
    assert!(listed.windows(2).all(|w| w[0].name <= w[1].name));
    let me = listed.iter().find(|p| p.name == "threads::exact").unwrap();
    assert_eq!(me.allocations, s.allocations);
    let table = flowcoro_rt::report().to_string();
    assert!(table.contains("threads::exact"));
}

#[test]
fn a_future_dropped_by_a_thread_local_destructor_is_freed() {
    static POOL: FramePool = FramePool::new("threads::tls_dtor");
    struct Holder(std::cell::RefCell<Option<Pooled<std::future::Ready<u32>>>>);
    impl Drop for Holder {
        fn drop(&mut self) {
            // Runs during thread teardown, possibly after the pool's own
            // thread cache is gone; must still free and count.
            drop(self.0.borrow_mut().take());
        }
    }
    thread_local! {
        static HOLD: Holder = const { Holder(std::cell::RefCell::new(None)) };
    }
    thread::spawn(|| {
        // Touch the pool first so its thread cache is created before HOLD
        // (destructors run in reverse order of registration on most platforms;
        // either order must be handled).
        block_on(POOL.alloc(std::future::ready(1)));
        HOLD.with(|h| *h.0.borrow_mut() = Some(POOL.alloc(std::future::ready(2))));
    })
    .join()
    .unwrap();
    let s = POOL.stats();
    assert_eq!((s.allocations, s.live), (2, 0));
    POOL.trim();
    assert_eq!(POOL.stats().reserved_bytes, 0);
}

#[test]
fn pools_past_the_first_few_dozen_cache_like_the_first() {
    // More pools than the near table holds: the later ones take the second
    // lookup step, and must reuse, count and hand back exactly the same.
    static MANY: [FramePool; 80] = [const { FramePool::new("threads::many") }; 80];
    let rounds = scaled(40) as u64;
    for pool in &MANY {
        for i in 0..rounds {
            // Two frames live at once: one goes through the hot slot, the
            // other through the magazines.
            let (a, b) = (job(pool, i), job(pool, i + 1));
            assert_eq!(block_on(a) + block_on(b), 4 * i + 2);
        }
        let s = pool.stats();
        assert_eq!((s.allocations, s.fresh, s.live), (2 * rounds, 2, 0));
        assert_eq!(s.reused, 2 * rounds - 2);
    }
    // A frame of every pool dropped on another thread, which then exits.
    let frames: Vec<_> = MANY.iter().map(|p| job(p, 0)).collect();
    thread::spawn(move || drop(frames)).join().unwrap();
    for pool in &MANY {
        let s = pool.stats();
        assert_eq!((s.live, s.allocations), (0, 2 * rounds + 1));
        pool.trim();
        assert_eq!(pool.stats().reserved_bytes, 0);
    }
}
