//! Races of `stats()`, `trim`, `trim_all` and `set_idle_budget` with threads
//! that allocate and free: the counters a busy pool reports never wrap or go
//! backwards, and after workers on many layouts and pools race all four for
//! a bounded time, every pool is back to no live frame and `trim_all` gives
//! all memory back. In a binary of its own, as the idle budget is global and
//! the checks read every pool of the process; its tests run one at a time.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::{block_on, burst, job, scaled, sized, sized_output};
use flowcoro_rt::{FramePool, PoolStats, PooledDyn};

/// Each test of this binary holds this while it runs: the last one reads
/// every pool, which another's frames would make live.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every counter of `now` is at least the one of `before`, and none is
/// anywhere near wrapping.
fn assert_monotone(before: &PoolStats, now: &PoolStats) {
    let pairs = [
        ("allocations", before.allocations, now.allocations),
        ("reused", before.reused, now.reused),
        ("fresh", before.fresh, now.fresh),
        ("heap_fallbacks", before.heap_fallbacks, now.heap_fallbacks),
        ("peak_live", before.peak_live, now.peak_live),
    ];
    for (name, was, is) in pairs {
        assert!(is >= was, "`{name}` went backwards: {was} then {is}\n{before:?}\n{now:?}");
        assert!(is < 1 << 40, "`{name}` wrapped: {is}\n{now:?}");
    }
    assert!(now.live < 1 << 40 && now.idle < 1 << 40, "{now:?}");
}

#[test]
#[cfg_attr(miri, ignore = "a timing-dependent race; the loom model covers it under cfg(loom)")]
fn stats_of_a_busy_pool_never_wrap_or_go_backwards() {
    let _serial = serial();
    static POOL: FramePool = FramePool::new("races::busy_stats");
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = stop.clone();
        thread::spawn(move || {
            // Rounds of 40 frames: every round ends with a burst of hot-slot
            // and magazine frees, and the laps of the hot slot grow.
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) || rounds < 200 {
                burst(&POOL, 40);
                for i in 0..40 {
                    block_on(job(&POOL, i));
                }
                rounds += 1;
            }
            rounds
        })
    };
    let mut last = POOL.stats();
    for _ in 0..scaled(20_000) {
        let now = POOL.stats();
        assert_monotone(&last, &now);
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = worker.join().unwrap();
    let s = POOL.stats();
    assert_monotone(&last, &s);
    assert_eq!(s.allocations, rounds * 80, "{s:?}");
    assert_eq!(s.live, 0);
}

static POOLS: [FramePool; 4] = [
    FramePool::new("race::a"),
    FramePool::new("race::b").with_max_idle(8),
    FramePool::new("race::c").with_prewarm(40),
    FramePool::new("race::d").with_max_idle(0),
];

/// An erased call, and what it must return.
type Call = (PooledDyn<'static, u64>, u64);

/// One call of one of fourteen layouts, erased: twelve of them overflow the
/// eight classes of a pool, some into the size-class pools. What it returns
/// sums its frame's bytes, so a frame handed to two calls at once shows.
fn call(pool: &'static FramePool, pick: u64) -> Call {
    fn one<const N: usize>(pool: &'static FramePool, seed: u8) -> Call {
        (sized::<N>(pool, seed).into_dyn(), sized_output::<N>(seed))
    }
    let seed = pick as u8;
    // Under Miri, which fills and sums a 70 KB buffer slowly, the largest are
    // left out.
    let kinds = if cfg!(miri) { 10 } else { 14 };
    match pick % kinds {
        0 => one::<16>(pool, seed),
        1 => one::<100>(pool, seed),
        2 => one::<300>(pool, seed),
        3 => one::<500>(pool, seed),
        4 => one::<900>(pool, seed),
        5 => one::<1500>(pool, seed),
        6 => one::<2500>(pool, seed),
        7 => one::<4000>(pool, seed),
        8 => one::<6000>(pool, seed),
        9 => one::<9000>(pool, seed),
        10 => one::<14000>(pool, seed),
        11 => one::<20000>(pool, seed),
        12 => one::<40000>(pool, seed),
        _ => one::<70000>(pool, seed),
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
    let _serial = serial();
    let run_for = Duration::from_millis(if cfg!(miri) { 1000 } else { 1500 });
    let until = Instant::now() + run_for;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::sync_channel::<Call>(64);

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
                            let (f, output) = call(pool, rng.next());
                            assert_eq!(block_on(f), output);
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
        for (i, (f, output)) in rx.into_iter().enumerate() {
            if i % 3 == 0 {
                drop(f);
            } else {
                assert_eq!(block_on(f), output);
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
