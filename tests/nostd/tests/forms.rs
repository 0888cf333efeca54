//! Each form of the attribute, built without std: results, reuse, and every
//! pool empty after each call, whether it finished, was dropped mid-way or
//! panicked. The tests run one at a time: each counts its pools' calls.

mod support;

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

use flowcoro_nostd::{
    Fixed, Gain, Sensor, checksum, countdown_dyn, depth_sum, doubled, faulty, filtered, job,
    read_all, scaled,
};
use futures_core::Stream;
use support::{block_on, block_on_with, join_all, stats, waker};

// The host's critical section, which the firmware gets from its HAL.
use critical_section as _;

#[global_allocator]
static ALLOC: support::Counting = support::Counting;

#[test]
fn a_free_fn_with_a_borrowed_argument_reuses_its_frame() {
    let _one = support::one_at_a_time();
    let data = [1u8, 2, 3, 4];
    for _ in 0..if cfg!(miri) { 30 } else { 100 } {
        assert_eq!(block_on(checksum(&data)), 10);
    }
    let s = stats("flowcoro_nostd::checksum");
    assert_eq!(s.live, 0);
    assert!(s.allocations >= 30);
    assert!(s.hit_ratio() > 0.95, "{s:?}");
}

#[test]
fn a_generic_fn_serves_each_instantiation() {
    let _one = support::one_at_a_time();
    assert_eq!(block_on(scaled(vec![1u8, 2, 3], 10)), 60);
    assert_eq!(block_on(scaled(vec![1u32, 2, 3, 4], 2)), 20);
    assert_eq!(block_on(scaled(vec![5u8], 1)), 5);
    let s = stats("flowcoro_nostd::scaled");
    assert_eq!((s.allocations, s.live), (3, 0));
}

#[test]
fn recursion_takes_a_frame_per_level_and_gives_all_back() {
    let _one = support::one_at_a_time();
    assert_eq!(block_on(depth_sum(40)), 820);
    let first = stats("flowcoro_nostd::depth_sum");
    assert_eq!(first.live, 0);
    assert_eq!(first.peak_live, 41);
    assert_eq!(block_on(depth_sum(40)), 820);
    let again = stats("flowcoro_nostd::depth_sum");
    assert_eq!(again.live, 0);
    assert_eq!(again.fresh, first.fresh, "the second descent reuses every frame");
}

#[test]
fn dyn_trait_calls_go_to_each_impls_pool() {
    let _one = support::one_at_a_time();
    const GAIN: &str = "<flowcoro_nostd::Gain as flowcoro_nostd::Sensor>::read";
    const FIXED: &str = "<flowcoro_nostd::Fixed as flowcoro_nostd::Sensor>::read";
    let sensors: Vec<Box<dyn Sensor>> = vec![Box::new(Gain(3)), Box::new(Fixed(100))];
    assert_eq!(block_on(read_all(&sensors, 2)), 6 + 102);
    let gain_before = stats(GAIN).allocations;
    assert_eq!(block_on(sensors[0].read(5)), 15);
    assert_eq!(block_on(sensors[0].read(6)), 18);
    let (gain, fixed) = (stats(GAIN), stats(FIXED));
    assert_eq!((gain.allocations - gain_before, gain.live), (2, 0));
    assert_eq!((fixed.allocations, fixed.live), (1, 0));
}

#[test]
fn pool_sites_run_as_static_erased_jobs() {
    let _one = support::one_at_a_time();
    static OUT: AtomicU32 = AtomicU32::new(0);
    let w = waker();
    let mut jobs: Vec<_> = (1..=8).map(|id| job(id, &OUT)).collect();
    let mut done = Vec::new();
    join_all(&w, &mut jobs, &mut done);
    assert_eq!(OUT.load(Ordering::Relaxed), 36);
    let mut typed: Vec<_> = (0..4).map(doubled).collect();
    let mut out = Vec::new();
    join_all(&w, &mut typed, &mut out);
    assert_eq!(out, [0, 2, 4, 6]);
    let (jobs, typed) = (stats("nostd::job"), stats("nostd::doubled"));
    assert_eq!((jobs.allocations, jobs.live), (8, 0));
    assert_eq!((typed.allocations, typed.live), (4, 0));
}

#[test]
fn a_call_dropped_mid_way_gives_its_frame_back() {
    let _one = support::one_at_a_time();
    let w = waker();
    let mut cx = Context::from_waker(&w);
    let mut call = Gain(1).read(1);
    assert!(Pin::new(&mut call).poll(&mut cx).is_pending());
    assert_eq!(stats("<flowcoro_nostd::Gain as flowcoro_nostd::Sensor>::read").live, 1);
    drop(call);
    assert_eq!(stats("<flowcoro_nostd::Gain as flowcoro_nostd::Sensor>::read").live, 0);
}

#[test]
fn a_panicking_body_gives_its_frame_back() {
    let _one = support::one_at_a_time();
    let w = waker();
    let unwound = std::panic::catch_unwind(|| block_on_with(&w, faulty(true)));
    assert!(unwound.is_err());
    assert_eq!(block_on_with(&w, faulty(false)), 1);
    let s = stats("flowcoro_nostd::faulty");
    assert_eq!((s.allocations, s.live), (2, 0));
    assert_eq!(s.fresh, 1, "the frame of the call that panicked served the next");
}

#[test]
fn a_pooled_stream_drains_and_goes_back() {
    let _one = support::one_at_a_time();
    let w = waker();
    let mut cx = Context::from_waker(&w);
    let mut s = countdown_dyn(3);
    let mut got = Vec::new();
    while let Poll::Ready(Some(v)) = Pin::new(&mut s).poll_next(&mut cx) {
        got.push(v);
    }
    assert_eq!(got, [3, 2, 1]);
    assert_eq!(stats("flowcoro_nostd::countdown").live, 0);
    drop(s);
    let half = countdown_dyn(5);
    drop(half);
    assert_eq!(stats("flowcoro_nostd::countdown").live, 0);
}

#[test]
fn steady_calls_make_no_allocator_call() {
    let _one = support::one_at_a_time();
    let w = waker();
    let data = [7u8; 16];
    let mut calls = Vec::with_capacity(16);
    let mut out = Vec::with_capacity(16);
    // Warm-up: sixteen calls live at once, twice.
    for _ in 0..2 {
        calls.extend((0..16).map(|_| checksum(&data)));
        join_all(&w, &mut calls, &mut out);
        out.clear();
    }
    let rounds = if cfg!(miri) { 10 } else { 200 };
    let before = support::allocs();
    for _ in 0..rounds {
        calls.extend((0..16).map(|_| checksum(&data)));
        join_all(&w, &mut calls, &mut out);
        out.clear();
    }
    // `join_all` allocates its own bookkeeping once per round: nothing else.
    assert_eq!(support::allocs() - before, rounds, "allocator calls beyond the executor's");
}

#[test]
fn calls_from_several_threads_share_the_pool() {
    let _one = support::one_at_a_time();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let w = waker();
                let data = [t as u8; 8];
                let sensor: Box<dyn Sensor + Send> = Box::new(Gain(t));
                for i in 0..if cfg!(miri) { 10u8 } else { 200 } {
                    assert_eq!(block_on_with(&w, checksum(&data)), u32::from(t as u8) * 8);
                    assert_eq!(block_on_with(&w, sensor.read(i)), t * u32::from(i));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panicked");
    }
    assert_eq!(stats("flowcoro_nostd::checksum").live, 0);
    assert_eq!(stats("<flowcoro_nostd::Gain as flowcoro_nostd::Sensor>::read").live, 0);
}

#[test]
fn the_report_writes_into_any_fmt_writer() {
    let _one = support::one_at_a_time();
    block_on(checksum(&[1]));
    let mut text = String::new();
    write!(text, "{}", flowcoro::report()).expect("a String takes any text");
    assert!(text.contains("flowcoro_nostd::checksum"), "{text}");
}

#[test]
fn futures_are_unpin_handles() {
    let _one = support::one_at_a_time();
    fn unpin<T: Unpin>(_: &T) {}
    let call = checksum(&[]);
    unpin(&call);
    let _: &dyn Future<Output = u32> = &call;
    drop(call);
}

#[test]
fn static_frames_serve_first_and_the_heap_past_them() {
    let _one = support::one_at_a_time();
    let w = waker();
    // The first call registers the pool (its shared part, the global list).
    assert_eq!(block_on_with(&w, filtered(2, 3)), 6);
    let mut calls = Vec::with_capacity(8);
    let mut out = Vec::with_capacity(8);
    let before = support::allocs();
    for _ in 0..if cfg!(miri) { 5 } else { 100 } {
        calls.extend((0..4).map(|i| filtered(i, 10)));
        join_all(&w, &mut calls, &mut out);
        assert_eq!(out, [0, 10, 20, 30]);
        out.clear();
    }
    // Only the executor's own bookkeeping: no frame from the allocator.
    let rounds = if cfg!(miri) { 5 } else { 100 };
    assert_eq!(support::allocs() - before, rounds);
    let s = stats("flowcoro_nostd::filtered");
    assert_eq!((s.fresh, s.live, s.frame_size), (0, 0, 128));
    // A fifth live call takes a frame from the heap, and gives it back there.
    calls.extend((0..5).map(|i| filtered(i, 1)));
    join_all(&w, &mut calls, &mut out);
    assert_eq!(out, [0, 1, 2, 3, 4]);
    let s = stats("flowcoro_nostd::filtered");
    assert_eq!((s.fresh, s.live, s.idle), (1, 0, 1));
}
