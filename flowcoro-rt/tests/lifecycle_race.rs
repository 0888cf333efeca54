//! `trim`, `trim_all`, `set_idle_budget` and `stats()` racing threads that
//! allocate and free across many layouts and pools, for a bounded time:
//! afterwards every pool is back to no live frame, and `trim_all` gives all
//! memory back. In a binary of its own, as the idle budget is global.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::{block_on, yield_once};
use flowcoro_rt::{FramePool, Pooled, PooledDyn};

static POOLS: [FramePool; 4] = [
    FramePool::new("race::a"),
    FramePool::new("race::b").with_max_idle(8),
    FramePool::new("race::c").with_prewarm(40),
    FramePool::new("race::d").with_max_idle(0),
];

fn sized<const N: usize>(
    pool: &'static FramePool,
    seed: u8,
) -> Pooled<impl Future<Output = u64> + Send> {
    pool.alloc_with(move || async move {
        let buf = [seed; N];
        yield_once().await;
        u64::from(buf[N - 1])
    })
}

/// One call of one of fourteen layouts, erased: twelve of them overflow the
/// eight classes of a pool, some into the size-class pools.
fn call(pool: &'static FramePool, pick: u64) -> PooledDyn<'static, u64> {
    let seed = pick as u8;
    // Under Miri, which fills a 70 KB buffer slowly, the largest are left out.
    let kinds = if cfg!(miri) { 10 } else { 14 };
    match pick % kinds {
        0 => sized::<16>(pool, seed).into_dyn(),
        1 => sized::<100>(pool, seed).into_dyn(),
        2 => sized::<300>(pool, seed).into_dyn(),
        3 => sized::<500>(pool, seed).into_dyn(),
        4 => sized::<900>(pool, seed).into_dyn(),
        5 => sized::<1500>(pool, seed).into_dyn(),
        6 => sized::<2500>(pool, seed).into_dyn(),
        7 => sized::<4000>(pool, seed).into_dyn(),
        8 => sized::<6000>(pool, seed).into_dyn(),
        9 => sized::<9000>(pool, seed).into_dyn(),
        10 => sized::<14000>(pool, seed).into_dyn(),
        11 => sized::<20000>(pool, seed).into_dyn(),
        12 => sized::<40000>(pool, seed).into_dyn(),
        _ => sized::<70000>(pool, seed).into_dyn(),
    }
}

/// A small xorshift, so that each thread's mix is its own and repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn trims_budgets_and_stats_racing_workers_leave_nothing_behind() {
    let run_for = Duration::from_millis(if cfg!(miri) { 1000 } else { 1500 });
    let until = Instant::now() + run_for;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::sync_channel::<PooledDyn<'static, u64>>(64);

    // Workers: bursts held and dropped, single calls, and futures handed to
    // another thread that completes or drops them.
    let workers: Vec<_> = (0..3u64)
        .map(|w| {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (w + 1));
                let mut calls = 0u64;
                while Instant::now() < until {
                    let pool = &POOLS[(rng.next() % 4) as usize];
                    match rng.next() % 4 {
                        0 => {
                            let n = rng.next() % 80;
                            let held: Vec<_> = (0..n).map(|_| call(pool, rng.next())).collect();
                            calls += n;
                            drop(held);
                        }
                        1 => {
                            let _ = tx.try_send(call(pool, rng.next()));
                            calls += 1;
                        }
                        _ => {
                            block_on(call(pool, rng.next()));
                            calls += 1;
                        }
                    }
                }
                calls
            })
        })
        .collect();
    drop(tx);
    let finisher = thread::spawn(move || {
        let mut n = 0u64;
        for (i, f) in rx.into_iter().enumerate() {
            if i % 3 == 0 {
                drop(f);
            } else {
                block_on(f);
            }
            n += 1;
        }
        n
    });
    // Meanwhile: trims, budgets and stats from a thread that owns no cache.
    let meddler = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut rng = Rng(42);
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                match rng.next() % 5 {
                    0 => drop(POOLS[(rng.next() % 4) as usize].trim()),
                    1 => drop(flowcoro_rt::trim_all()),
                    2 => flowcoro_rt::set_idle_budget(rng.next() % (256 << 10)),
                    3 => flowcoro_rt::set_idle_budget(u64::MAX),
                    _ => {
                        for s in flowcoro_rt::pools() {
                            assert!(s.live < 1 << 32 && s.idle < 1 << 32, "{s:?}");
                        }
                    }
                }
                rounds += 1;
            }
            rounds
        })
    };

    let calls: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let finished = finisher.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let rounds = meddler.join().unwrap();
    let least = if cfg!(miri) { 10 } else { 1000 };
    assert!(calls > least && rounds > 10, "{calls} calls, {finished} handed over, {rounds} rounds");

    flowcoro_rt::set_idle_budget(u64::MAX);
    let all = flowcoro_rt::pools();
    let ours = all.iter().filter(|s| s.name.starts_with("race::")).count();
    assert_eq!(ours, 4);
    for s in &all {
        assert_eq!(s.live, 0, "{s:?}");
    }
    let total: u64 =
        all.iter().filter(|s| s.name.starts_with("race::")).map(|s| s.allocations).sum();
    assert_eq!(total, calls, "every call counted by the pool it was made on");
    flowcoro_rt::trim_all();
    for s in flowcoro_rt::pools() {
        assert_eq!((s.live, s.idle, s.reserved_bytes), (0, 0, 0), "{s:?}");
    }
}
