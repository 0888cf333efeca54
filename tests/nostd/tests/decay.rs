//! Idle memory without a clock: bounded by the recent peak, given back as
//! `flowcoro::tick` tells the pools time has passed, or by `trim_all`.
//! Its own binary: a tick decays every pool of the process.

mod support;

use std::time::Duration;

use flowcoro_nostd::{checksum, doubled};
use support::{join_all, stats, waker};

use critical_section as _;

#[test]
fn idle_frames_stay_for_the_peak_and_go_as_time_passes() {
    let _one = support::one_at_a_time();
    let w = waker();
    let mut calls: Vec<_> = (0..64).map(doubled).collect();
    let mut out = Vec::new();
    join_all(&w, &mut calls, &mut out);
    let name = "nostd::doubled";
    let burst = stats(name);
    assert_eq!((burst.live, burst.peak_live), (0, 64));
    assert_eq!(burst.idle, 64, "the peak's frames stay for the next burst");

    // A second burst is served from them.
    calls.extend((0..64).map(doubled));
    join_all(&w, &mut calls, &mut out);
    assert_eq!(stats(name).fresh, burst.fresh);

    // Within the hold, nothing goes.
    flowcoro::tick(Duration::from_millis(100));
    assert_eq!(stats(name).idle, 64);
    // Time passes: the remembered peak halves every half-life, and the
    // idle frames above what it still justifies go back.
    flowcoro::tick(flowcoro::DECAY_HOLD + flowcoro::DECAY_HALF_LIFE * 2);
    let halved = stats(name);
    assert!(halved.idle < 64 && halved.idle >= 16, "{halved:?}");
    flowcoro::tick(Duration::from_secs(60));
    let gone = stats(name);
    assert!(gone.idle <= 1, "{gone:?}");
    assert_eq!(gone.decayed + gone.idle, 64);
    assert_eq!(gone.live, 0);
}

#[test]
fn trim_all_frees_what_the_pools_keep() {
    let _one = support::one_at_a_time();
    let w = waker();
    let data = [1u8; 4];
    let mut calls: Vec<_> = (0..8).map(|_| checksum(&data)).collect();
    let mut out = Vec::new();
    join_all(&w, &mut calls, &mut out);
    assert_eq!(out, [4; 8]);
    assert!(stats("flowcoro_nostd::checksum").idle > 0);
    assert!(flowcoro::trim_all() > 0);
    let s = stats("flowcoro_nostd::checksum");
    assert_eq!((s.idle, s.live, s.reserved_bytes), (0, 0, 0));
}
