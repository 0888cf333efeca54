//! Idle memory over time: prewarming, decay after a burst, self-tuning for
//! bursty traffic, `max_idle` as a hard cap, and what the stats say of each,
//! the peak of frames served from the prewarmed reserve included.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{block_on, burst, job};
use flowcoro_rt::{FramePool, MAGAZINE};

#[test]
fn prewarm_reserves_frames_in_one_batch_on_first_use() {
    static POOL: FramePool = FramePool::new("memory::prewarm").with_prewarm(100);
    assert_eq!(POOL.prewarm(), 100);
    assert_eq!(POOL.stats().reserved_bytes, 0, "nothing before the first call");
    assert_eq!(block_on(job(&POOL, 1)), 2);
    let s = POOL.stats();
    // The first call was served from the reserve: no allocation of its own.
    assert_eq!((s.allocations, s.reused, s.fresh, s.live), (1, 1, 0, 0));
    assert_eq!(s.idle, 100);
    assert_eq!(s.reserved_bytes, 100 * s.frame_size as u64);
    // The first 100 concurrent calls need no new memory.
    let handles: Vec<_> = (0..100).map(|i| job(&POOL, i)).collect();
    assert_eq!(POOL.stats().fresh, 0);
    drop(handles);
}

#[test]
fn peak_live_counts_frames_served_from_the_prewarmed_depot() {
    static POOL: FramePool = FramePool::new("memory::prewarm_peak").with_prewarm(100);
    burst(&POOL, 50);
    let s = POOL.stats();
    assert_eq!((s.fresh, s.live), (0, 0), "all 50 from the reserve: {s:?}");
    assert_eq!(s.peak_live, 50, "{s:?}");
    // A lower level later does not lower the peak; a higher one raises it.
    burst(&POOL, 30);
    assert_eq!(POOL.stats().peak_live, 50);
    burst(&POOL, 70);
    let s = POOL.stats();
    assert_eq!((s.fresh, s.peak_live), (0, 70), "{s:?}");
}

#[test]
fn peak_live_is_exact_for_a_prewarmed_pool_used_from_one_other_thread() {
    static POOL: FramePool = FramePool::new("memory::prewarm_peak_thread").with_prewarm(64);
    thread::spawn(|| {
        for n in [10, 40, 25, 63, 5] {
            burst(&POOL, n);
        }
    })
    .join()
    .unwrap();
    assert_eq!(POOL.stats().peak_live, 63);
}

#[test]
fn prewarm_is_capped_by_max_idle() {
    static POOL: FramePool =
        FramePool::new("memory::prewarm_cap").with_prewarm(100).with_max_idle(10);
    block_on(job(&POOL, 1));
    let s = POOL.stats();
    assert_eq!(s.idle, 10, "{s:?}");
}

/// A thread that calls `pool` once every `gap` until `until`.
fn light_traffic(pool: &'static FramePool, gap: Duration, until: Instant) -> u64 {
    let mut calls = 0;
    while Instant::now() < until {
        assert_eq!(block_on(job(pool, 3)), 6);
        calls += 1;
        thread::sleep(gap);
    }
    calls
}

#[test]
#[cfg_attr(miri, ignore = "real time")]
fn after_a_burst_light_traffic_gives_back_90_percent_within_5_seconds() {
    static POOL: FramePool = FramePool::new("memory::decay");
    burst(&POOL, 5000);
    let after_burst = POOL.stats();
    assert_eq!(after_burst.live, 0);
    assert!(after_burst.idle >= 4000, "the burst's frames are cached: {after_burst:?}");

    // About 20 calls a second, all served from this thread's cache.
    let calls =
        light_traffic(&POOL, Duration::from_millis(50), Instant::now() + Duration::from_secs(5));
    let s = POOL.stats();
    assert!(calls >= 80, "{calls} calls");
    assert!(
        s.reserved_bytes * 10 <= after_burst.reserved_bytes,
        "kept {} of {} bytes: {s:?}",
        s.reserved_bytes,
        after_burst.reserved_bytes
    );
    assert!(s.decayed >= 4000, "{s:?}");
    assert_eq!(s.trimmed, 0);
    assert_eq!(s.fresh, after_burst.fresh, "light traffic never needed new memory");
}

#[test]
#[cfg_attr(miri, ignore = "real time")]
fn bursty_steady_traffic_keeps_its_hit_ratio_without_max_idle() {
    static POOL: FramePool = FramePool::new("memory::bursty");
    let start = Instant::now();
    let mut bursts = 0;
    // Bursts of 300 concurrent calls, 50 a second, for 3 seconds: longer
    // than the hold and several half-lives.
    while start.elapsed() < Duration::from_secs(3) {
        let burst: Vec<_> = (0..300).map(|i| job(&POOL, i)).collect();
        let sum: u64 = burst.into_iter().map(block_on).sum();
        assert_eq!(sum, (0..300).map(|i| i + (i as u8) as u64).sum::<u64>());
        bursts += 1;
        thread::sleep(Duration::from_millis(20));
    }
    let s = POOL.stats();
    assert!(bursts > 50, "{bursts} bursts");
    assert!(s.hit_ratio() > 0.99, "{s:?}");
}

#[test]
#[cfg_attr(miri, ignore = "real time")]
fn max_idle_is_a_hard_cap_and_decay_works_below_it() {
    static POOL: FramePool = FramePool::new("memory::capped").with_max_idle(200);
    burst(&POOL, 1000);
    let s = POOL.stats();
    assert!(s.idle <= 200 + 2 * MAGAZINE as u64, "{s:?}");
    light_traffic(&POOL, Duration::from_millis(20), Instant::now() + Duration::from_secs(5));
    let s = POOL.stats();
    // The depot decays below the cap; this thread's cache keeps at most two
    // magazines on top.
    assert!(s.idle < 150 && s.decayed > 0, "decayed below the cap: {s:?}");
}

#[test]
fn trim_and_decay_are_counted_apart() {
    static POOL: FramePool = FramePool::new("memory::trim_counted").with_max_idle(1000);
    burst(&POOL, 300);
    let before = POOL.stats();
    let bytes = POOL.trim();
    let s = POOL.stats();
    assert_eq!(bytes as u64, before.reserved_bytes);
    assert_eq!(s.trimmed, before.idle);
    assert_eq!((s.idle, s.reserved_bytes), (0, 0));
}
