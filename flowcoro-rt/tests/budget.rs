//! The global idle budget, in a test binary of its own: it applies to every
//! pool of the process.

mod common;

use std::thread;

use common::{block_on, scaled, sized, sized_output};
use flowcoro_rt::{FramePool, PoolStats};

static POOLS: [FramePool; 6] = [
    FramePool::new("budget::a"),
    FramePool::new("budget::b"),
    FramePool::new("budget::c"),
    FramePool::new("budget::d"),
    FramePool::new("budget::e"),
    FramePool::new("budget::f"),
];

fn ours() -> Vec<PoolStats> {
    flowcoro_rt::pools().into_iter().filter(|p| p.name.starts_with("budget::")).collect()
}

#[test]
fn the_idle_budget_holds_across_pools_under_thread_churn() {
    const BUDGET: u64 = if cfg!(miri) { 8 * 1024 } else { 256 * 1024 };
    assert_eq!(flowcoro_rt::idle_budget(), u64::MAX, "unlimited by default");
    flowcoro_rt::set_idle_budget(BUDGET);
    let rounds = scaled(40);
    for round in 0..rounds {
        // A short-lived thread bursts on two of the pools, then exits: its
        // cache goes to the depots, under the budget.
        thread::spawn(move || {
            let a = &POOLS[round % POOLS.len()];
            let b = &POOLS[(round + 1) % POOLS.len()];
            let burst: Vec<_> = (0..scaled(200)).map(|_| sized::<1000>(a, 1)).collect();
            let burst2: Vec<_> = (0..scaled(200)).map(|_| sized::<3000>(b, 1)).collect();
            let total: u64 = burst.into_iter().map(block_on).sum::<u64>()
                + burst2.into_iter().map(block_on).sum::<u64>();
            let each = sized_output::<1000>(1) + sized_output::<3000>(1);
            assert_eq!(total, scaled(200) as u64 * each);
        })
        .join()
        .unwrap();
        // Nothing is live, so what the pools hold is idle (of two layouts
        // each: `reserved_bytes` counts them exactly).
        let idle: u64 = ours().iter().map(|p| p.reserved_bytes).sum();
        assert!(idle <= BUDGET, "round {round}: {idle} idle bytes over {BUDGET}: {:#?}", ours());
        assert!(ours().iter().all(|p| p.live == 0));
    }
    // The budget was enforced by giving frames back, counted as decay.
    assert!(ours().iter().map(|p| p.decayed).sum::<u64>() > 0);
    // Giving back hits the holders over their share, not whoever comes last:
    // the pools used most recently still keep a cache.
    let last = &POOLS[(rounds - 1) % POOLS.len()];
    let kept = ours().into_iter().find(|p| p.name == last.name()).unwrap();
    assert!(kept.idle > 0, "{kept:?}");
    flowcoro_rt::set_idle_budget(u64::MAX);
}
