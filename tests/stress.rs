//! Stress: pooled call trees on real executors, with cancellation, panics
//! and threads that come and go, checked against the same tree written as
//! plain `async fn`s, and the pools checked for leaks and bounds afterwards.
//!
//! Sizes come from `FLOWCORO_STRESS` (`short` by default, `soak`, or a
//! scale factor such as `0.1`), inputs from `FLOWCORO_SEED` (printed when
//! not given). The soak:
//!
//! ```sh
//! FLOWCORO_STRESS=soak cargo test --release --test stress -- --nocapture soak
//! ```
//!
//! Each scenario has its own copy of the tree, so its own pools; scenarios
//! run one at a time (they share the size-class pools and read every pool).
//! Each runs its executors on threads it waits for, so when it checks, no
//! thread but its own (which ran no pooled code) caches a frame.

#[macro_use]
#[path = "stress/tree.rs"]
mod tree;
#[path = "stress/support.rs"]
mod support;

use std::cell::RefCell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use futures::task::SpawnExt;
use futures::{FutureExt, StreamExt};

use support::{
    Bomb, Outcome, Rng, Tallies, check_quiescent, is_injected, on_own_thread, scenario_seed,
    serial, size, sized, totals,
};
use tree::Job;

/// The reference: the same tree as plain `async fn`s.
mod plain {
    call_tree!(plain, std::sync::Arc<std::sync::atomic::AtomicU64>);
}

mod tokio_mt {
    call_tree!(pooled, std::sync::Arc<std::sync::atomic::AtomicU64>);
}

mod tokio_local {
    call_tree!(pooled, std::rc::Rc<std::cell::Cell<u64>>);
}

mod thread_pool {
    call_tree!(pooled, std::sync::Arc<std::sync::atomic::AtomicU64>);
}

mod smol {
    call_tree!(pooled, std::sync::Arc<std::sync::atomic::AtomicU64>);
}

mod churn {
    call_tree!(pooled, std::sync::Arc<std::sync::atomic::AtomicU64>);
}

mod soak_tree {
    call_tree!(pooled, std::sync::Arc<std::sync::atomic::AtomicU64>);
}

/// Random inputs: small trees, some with faults.
fn job(rng: &mut Rng) -> Job {
    let faulty = rng.chance(25);
    Job {
        seed: rng.next_u64(),
        depth: rng.below(3) as u32,
        fanout: 1 + rng.below(4) as u32,
        poll_panics: if faulty && rng.chance(50) { 80 } else { 0 },
        drop_panics: if faulty && rng.chance(50) { 80 } else { 0 },
    }
}

/// A call that completes: no fault.
fn clean_job(rng: &mut Rng) -> Job {
    Job { poll_panics: 0, drop_panics: 0, ..job(rng) }
}

/// A call that panics for sure: every leaf panics in `poll`, and every call
/// reaches a leaf.
fn panicking_job(rng: &mut Rng) -> Job {
    Job { poll_panics: 1000, ..job(rng) }
}

/// `n` random calls, led by one that completes and one that panics, both
/// awaited as they are, so even a tiny run sees both outcomes.
fn jobs<H>(rng: &mut Rng, n: usize, plain: H, mut how: impl FnMut(&mut Rng) -> H) -> Vec<(Job, H)>
where
    H: Copy,
{
    let mut jobs = vec![(clean_job(rng), plain), (panicking_job(rng), plain)];
    jobs.extend((2..n.max(2)).map(|_| (job(rng), how(rng))));
    jobs
}

/// What the plain tree gives for `job` (its root's argument armed to panic
/// when dropped, if `armed`).
fn reference(job: Job, armed: bool) -> Outcome {
    let bomb = if armed { Bomb::armed() } else { Bomb::quiet() };
    let run = panic::catch_unwind(AssertUnwindSafe(|| {
        futures::executor::block_on(plain::root(job, bomb))
    }));
    match run {
        Ok(v) => Outcome::Value(v),
        Err(payload) => {
            assert!(is_injected(&*payload), "the reference tree panicked by itself");
            Outcome::Panicked
        }
    }
}

fn bomb(armed: bool) -> Bomb {
    if armed { Bomb::armed() } else { Bomb::quiet() }
}

/// How a top-level call is cut short, if it is.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// Awaited through its join handle.
    None,
    /// Started (polled once) by the spawning task, finished by whichever
    /// worker runs it.
    StartedHere,
    /// `select!` against a timer of this many microseconds.
    Select(u64),
    /// `timeout` of this many microseconds.
    Timeout(u64),
    /// `abort()` after the spawner yields this many times.
    Abort(u32),
}

impl Cut {
    fn pick(rng: &mut Rng) -> Cut {
        match rng.below(5) {
            0 => Cut::None,
            1 => Cut::StartedHere,
            2 => Cut::Select(rng.below(1500)),
            3 => Cut::Timeout(rng.below(1500)),
            _ => Cut::Abort(rng.below(8) as u32),
        }
    }

    fn may_cancel(self) -> bool {
        matches!(self, Cut::Select(_) | Cut::Timeout(_) | Cut::Abort(_))
    }
}

/// One top-level call of a batch: inputs, how it is cut, whether its root's
/// argument panics when dropped (then also when cancelled), and the
/// reference outcome.
#[derive(Clone, Copy, Debug)]
struct Call {
    job: Job,
    cut: Cut,
    armed: bool,
    want: Outcome,
}

fn batch(rng: &mut Rng, n: usize) -> Vec<Call> {
    jobs(rng, n, (Cut::None, false), |rng| {
        let cut = Cut::pick(rng);
        (cut, cut.may_cancel() && rng.chance(15))
    })
    .into_iter()
    .map(|(job, (cut, armed))| Call { job, cut, armed, want: reference(job, armed) })
    .collect()
}

fn join_outcome<T>(r: Result<T, tokio::task::JoinError>, f: impl FnOnce(T) -> Outcome) -> Outcome {
    match r {
        Ok(v) => f(v),
        Err(e) if e.is_cancelled() => Outcome::Cancelled,
        Err(e) => {
            assert!(is_injected(&*e.into_panic()), "a task panicked by itself");
            Outcome::Panicked
        }
    }
}

/// Drives a call under `cut` on the current tokio runtime (a `LocalSet`
/// when `spawn` is `spawn_local`); the call is built by `make`.
macro_rules! drive_tokio {
    ($spawn:path, $make:expr, $call:expr) => {{
        let call: Call = $call;
        let make = $make;
        match call.cut {
            Cut::None => {
                join_outcome($spawn(make(call.job, bomb(call.armed))).await, Outcome::Value)
            }
            Cut::StartedHere => {
                let mut fut = make(call.job, bomb(call.armed));
                let first = futures::poll!(&mut fut);
                match first {
                    // Done in one poll: the frame is back already.
                    Poll::Ready(v) => Outcome::Value(v),
                    Poll::Pending => join_outcome($spawn(fut).await, Outcome::Value),
                }
            }
            Cut::Select(us) => {
                let task = $spawn(async move {
                    let mut fut = make(call.job, bomb(call.armed));
                    tokio::select! {
                        v = &mut fut => Some(v),
                        _ = tokio::time::sleep(Duration::from_micros(us)) => None,
                    }
                });
                join_outcome(task.await, |v| v.map_or(Outcome::Cancelled, Outcome::Value))
            }
            Cut::Timeout(us) => {
                let fut = make(call.job, bomb(call.armed));
                let task = $spawn(tokio::time::timeout(Duration::from_micros(us), fut));
                join_outcome(task.await, |v| v.map_or(Outcome::Cancelled, Outcome::Value))
            }
            Cut::Abort(yields) => {
                let task = $spawn(make(call.job, bomb(call.armed)));
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
                task.abort();
                join_outcome(task.await, Outcome::Value)
            }
        }
    }};
}

/// Records each outcome against the reference.
fn record_all(tallies: &mut Tallies, calls: &[Call], outcomes: Vec<Outcome>) {
    assert_eq!(calls.len(), outcomes.len());
    for (call, got) in calls.iter().zip(outcomes) {
        tallies.record(call, got, call.want, call.cut.may_cancel());
    }
}

fn report(name: &str, tallies: &Tallies, module: &str) {
    let t = totals(module);
    eprintln!(
        "stress: {name}: {} values, {} panics, {} cancelled; {} pooled calls, hit ratio {:.3}",
        tallies.values,
        tallies.panics,
        tallies.cancels,
        t.allocations,
        t.hit_ratio()
    );
}

/// Tokio's work-stealing runtime: calls started on one worker, stolen,
/// finished or cancelled on another; tasks still running when the runtime
/// shuts down.
#[test]
fn tokio_multi_thread() {
    let _serial = serial();
    let seed = scenario_seed("tokio_multi_thread");
    let tallies = on_own_thread("tokio-mt", move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(3)
            .enable_time()
            .build()
            .expect("a tokio runtime");
        let mut rng = Rng::new(seed);
        let mut tallies = Tallies::default();
        for _ in 0..sized(24) {
            let calls = batch(&mut rng, sized(200));
            let outcomes = rt.block_on(async {
                // Each call is driven by a task of its own, so the spawns,
                // selects and aborts run on the workers too.
                let drivers: Vec<_> = calls
                    .iter()
                    .map(|&call| {
                        tokio::spawn(
                            async move { drive_tokio!(tokio::spawn, tokio_mt::root, call) },
                        )
                    })
                    .collect();
                let mut outcomes = Vec::new();
                for d in drivers {
                    outcomes.push(d.await.expect("a driver task"));
                }
                outcomes
            });
            record_all(&mut tallies, &calls, outcomes);
            // Every call is done: its frame is back, in a depot or in the
            // cache of one of the three workers that ran the drivers.
            support::check_between_batches(
                concat!(module_path!(), "::tokio_mt"),
                tokio_mt::POOLS,
                3,
            );
        }
        // Left running at shutdown: dropped by the runtime as it stops.
        rt.block_on(async {
            for i in 0..sized(20) {
                let job = job(&mut rng);
                tokio::spawn(async move {
                    let mut fut = tokio_mt::root(job, Bomb::quiet());
                    if i % 2 == 0 {
                        let _ = futures::poll!(&mut fut);
                    }
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    drop(fut);
                });
            }
            tokio::task::yield_now().await;
        });
        drop(rt);
        tallies
    });
    report("tokio multi-thread", &tallies, concat!(module_path!(), "::tokio_mt"));
    assert!(tallies.values > 0 && tallies.panics > 0, "{tallies:?}");
    check_quiescent(concat!(module_path!(), "::tokio_mt"), tokio_mt::POOLS);
}

/// Tokio's current-thread runtime with a `LocalSet`: frames of `!Send`
/// futures (they hold an `Rc` across awaits); the runtime built and dropped
/// again and again, on two threads at once.
#[test]
fn tokio_local_set() {
    let _serial = serial();
    let seed = scenario_seed("tokio_local_set");
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            thread::spawn(move || {
                let mut rng = Rng::new(seed ^ t);
                let mut tallies = Tallies::default();
                for _ in 0..sized(24) {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build()
                        .expect("a tokio runtime");
                    let local = tokio::task::LocalSet::new();
                    let calls = batch(&mut rng, sized(100));
                    let outcomes = local.block_on(&rt, async {
                        let drivers: Vec<_> = calls
                            .iter()
                            .map(|&call| {
                                tokio::task::spawn_local(async move {
                                    drive_tokio!(tokio::task::spawn_local, tokio_local::root, call)
                                })
                            })
                            .collect();
                        let mut outcomes = Vec::new();
                        for d in drivers {
                            outcomes.push(d.await.expect("a driver task"));
                        }
                        // Left pending: dropped with the `LocalSet`.
                        for _ in 0..3 {
                            let job = job(&mut rng);
                            tokio::task::spawn_local(async move {
                                let mut fut = tokio_local::root(job, Bomb::quiet());
                                let _ = futures::poll!(&mut fut);
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                drop(fut);
                            });
                        }
                        tokio::task::yield_now().await;
                        outcomes
                    });
                    record_all(&mut tallies, &calls, outcomes);
                    drop(local);
                    drop(rt);
                }
                tallies
            })
        })
        .collect();
    let mut tallies = Tallies::default();
    for t in threads {
        let part = t.join().unwrap_or_else(|p| panic::resume_unwind(p));
        tallies.values += part.values;
        tallies.panics += part.panics;
        tallies.cancels += part.cancels;
    }
    report("tokio LocalSet", &tallies, concat!(module_path!(), "::tokio_local"));
    assert!(tallies.values > 0 && tallies.panics > 0, "{tallies:?}");
    check_quiescent(concat!(module_path!(), "::tokio_local"), tokio_local::POOLS);
}

/// Counts the live threads of an executor that does not join its threads on
/// drop: each thread registers this guard first, so it is dropped after
/// every thread-local registered later (destructors run in reverse order of
/// registration), the pools' thread caches included.
struct ThreadGone(Arc<AtomicUsize>);

impl Drop for ThreadGone {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

thread_local! {
    static GONE: RefCell<Option<ThreadGone>> = const { RefCell::new(None) };
}

fn register_thread(alive: &Arc<AtomicUsize>) {
    alive.fetch_add(1, Ordering::SeqCst);
    GONE.with(|g| *g.borrow_mut() = Some(ThreadGone(alive.clone())));
}

fn wait_all_gone(alive: &AtomicUsize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive.load(Ordering::SeqCst) != 0 {
        assert!(Instant::now() < deadline, "executor threads did not exit");
        thread::sleep(Duration::from_millis(1));
    }
}

/// How a call is driven on the executors without timers.
#[derive(Clone, Copy, Debug)]
enum Plain {
    /// Awaited through its handle.
    Await,
    /// Started here, finished by the executor.
    StartedHere,
    /// The handle dropped at once: cancelled wherever the call is.
    Drop,
    /// The handle dropped after this many suspensions of the awaiting
    /// task, if not done by then.
    Within(u32),
}

impl Plain {
    fn pick(rng: &mut Rng) -> Plain {
        match rng.below(4) {
            0 => Plain::Await,
            1 => Plain::StartedHere,
            2 => Plain::Drop,
            _ => Plain::Within(rng.below(12) as u32),
        }
    }
}

fn caught<T>(r: std::thread::Result<T>, f: impl FnOnce(T) -> Outcome) -> Outcome {
    match r {
        Ok(v) => f(v),
        Err(payload) => {
            assert!(is_injected(&*payload), "a call panicked by itself");
            Outcome::Panicked
        }
    }
}

/// `futures::executor::ThreadPool`: calls spawned with remote handles,
/// cancelled by dropping them; panics caught by the handle.
#[test]
fn futures_thread_pool() {
    let _serial = serial();
    let seed = scenario_seed("futures_thread_pool");
    let alive = Arc::new(AtomicUsize::new(0));
    let alive2 = alive.clone();
    let tallies = on_own_thread("thread-pool", move || {
        let registered = alive2.clone();
        let pool = futures::executor::ThreadPool::builder()
            .pool_size(3)
            .after_start(move |_| register_thread(&registered))
            .create()
            .expect("a thread pool");
        let mut rng = Rng::new(seed);
        let mut tallies = Tallies::default();
        for _ in 0..sized(24) {
            let jobs = jobs(&mut rng, sized(200), Plain::Await, Plain::pick);
            let handles: Vec<_> = jobs
                .iter()
                .map(|&(job, how)| {
                    let mut fut = thread_pool::root(job, Bomb::quiet());
                    if let Plain::StartedHere = how {
                        if let Poll::Ready(v) = poll_once(&mut fut) {
                            return Err(Outcome::Value(v));
                        }
                    }
                    Ok(pool.spawn_with_handle(fut).expect("spawn"))
                })
                .collect();
            let outcomes: Vec<Outcome> = futures::executor::block_on(async {
                let mut outcomes = Vec::new();
                for (h, &(_, how)) in handles.into_iter().zip(&jobs) {
                    let h = match h {
                        Ok(h) => h,
                        Err(done) => {
                            outcomes.push(done);
                            continue;
                        }
                    };
                    let got = match how {
                        Plain::Await | Plain::StartedHere => {
                            caught(AssertUnwindSafe(h).catch_unwind().await, Outcome::Value)
                        }
                        Plain::Drop => {
                            drop(h);
                            Outcome::Cancelled
                        }
                        Plain::Within(n) => {
                            let r = AssertUnwindSafe(support::within(h, n)).catch_unwind().await;
                            caught(r, |v| v.map_or(Outcome::Cancelled, Outcome::Value))
                        }
                    };
                    outcomes.push(got);
                }
                outcomes
            });
            for ((job, how), got) in jobs.iter().zip(outcomes) {
                let may_cancel = matches!(how, Plain::Drop | Plain::Within(_));
                tallies.record(&(job, how), got, reference(*job, false), may_cancel);
            }
        }
        drop(pool);
        tallies
    });
    wait_all_gone(&alive);
    report("futures ThreadPool", &tallies, concat!(module_path!(), "::thread_pool"));
    assert!(tallies.values > 0 && tallies.panics > 0, "{tallies:?}");
    check_quiescent(concat!(module_path!(), "::thread_pool"), thread_pool::POOLS);
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    std::pin::Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

/// `async-executor` (smol's executor) run by three threads: tasks awaited,
/// cancelled (`cancel().await`, or dropped), detached; tasks left in the
/// executor when it is dropped.
#[test]
fn async_executor() {
    let _serial = serial();
    let seed = scenario_seed("async_executor");
    let tallies = on_own_thread("smol", move || {
        let ex = Arc::new(async_executor::Executor::new());
        let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
        let stop = stop_rx.shared();
        let runners: Vec<_> = (0..3)
            .map(|_| {
                let (ex, stop) = (ex.clone(), stop.clone());
                thread::spawn(move || {
                    let _ = futures::executor::block_on(ex.run(stop));
                })
            })
            .collect();
        let mut rng = Rng::new(seed);
        let mut tallies = Tallies::default();
        for _ in 0..sized(24) {
            let jobs: Vec<(Job, Plain, bool)> =
                jobs(&mut rng, sized(200), (Plain::Await, false), |rng| {
                    (Plain::pick(rng), rng.chance(20))
                })
                .into_iter()
                .map(|(job, (how, detach))| (job, how, detach))
                .collect();
            let outcomes: Vec<Outcome> = futures::executor::block_on(async {
                let mut tasks = Vec::new();
                for &(job, how, _) in &jobs {
                    let mut fut = smol::root(job, Bomb::quiet());
                    if let Plain::StartedHere = how {
                        if let Poll::Ready(v) = poll_once(&mut fut) {
                            tasks.push(Err(Outcome::Value(v)));
                            continue;
                        }
                    }
                    tasks.push(Ok(ex.spawn(fut)));
                }
                let mut outcomes = Vec::new();
                for (task, &(_, how, detach)) in tasks.into_iter().zip(&jobs) {
                    let task = match task {
                        Ok(t) => t,
                        Err(done) => {
                            outcomes.push(done);
                            continue;
                        }
                    };
                    let got = match how {
                        Plain::Await | Plain::StartedHere => {
                            caught(AssertUnwindSafe(task).catch_unwind().await, Outcome::Value)
                        }
                        Plain::Drop if detach => {
                            task.detach();
                            Outcome::Cancelled
                        }
                        Plain::Drop => {
                            drop(task);
                            Outcome::Cancelled
                        }
                        Plain::Within(n) => {
                            let mut task = task;
                            let r = AssertUnwindSafe(support::within(&mut task, n))
                                .catch_unwind()
                                .await;
                            let r = caught(r, |v| v.map_or(Outcome::Cancelled, Outcome::Value));
                            if r == Outcome::Cancelled {
                                let r = AssertUnwindSafe(task.cancel()).catch_unwind().await;
                                caught(r, |v| v.map_or(Outcome::Cancelled, Outcome::Value))
                            } else {
                                r
                            }
                        }
                    };
                    outcomes.push(got);
                }
                outcomes
            });
            for ((job, how, _), got) in jobs.iter().zip(outcomes) {
                let may_cancel = matches!(how, Plain::Drop | Plain::Within(_));
                tallies.record(&(job, how), got, reference(*job, false), may_cancel);
            }
        }
        // Some calls are still in the executor when it goes.
        for _ in 0..sized(10) {
            ex.spawn(smol::root(job(&mut rng), Bomb::quiet())).detach();
        }
        let _ = stop_tx.send(());
        for r in runners {
            r.join().unwrap_or_else(|p| panic::resume_unwind(p));
        }
        drop(ex);
        tallies
    });
    report("async-executor", &tallies, concat!(module_path!(), "::smol"));
    assert!(tallies.values > 0 && tallies.panics > 0, "{tallies:?}");
    check_quiescent(concat!(module_path!(), "::smol"), smol::POOLS);
}

/// Threads that live for a few calls: each finishes or drops calls that the
/// previous generation started (whose threads are gone), starts calls for
/// the next, runs a few to completion and exits. Then tokio runtimes built
/// and dropped over and over with calls in flight.
#[test]
fn thread_churn() {
    let _serial = serial();
    let seed = scenario_seed("thread_churn");
    let tallies = on_own_thread("churn", move || {
        let mut rng = Rng::new(seed);
        let mut tallies = Tallies::default();
        let mut handed: Vec<Vec<_>> = (0..3).map(|_| Vec::new()).collect();
        for _generation in 0..sized(150) {
            let seeds: Vec<u64> = (0..handed.len()).map(|_| rng.next_u64()).collect();
            let threads: Vec<_> = std::mem::take(&mut handed)
                .into_iter()
                .zip(seeds)
                .map(|(inbox, s)| {
                    thread::spawn(move || {
                        let mut rng = Rng::new(s);
                        let mut results = Vec::new();
                        for (job, h) in inbox {
                            if rng.chance(30) {
                                drop(h);
                            } else {
                                let r = panic::catch_unwind(AssertUnwindSafe(|| {
                                    futures::executor::block_on(h)
                                }));
                                results.push((job, caught(r, Outcome::Value)));
                            }
                        }
                        for _ in 0..3 {
                            let job = job(&mut rng);
                            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                                futures::executor::block_on(churn::root(job, Bomb::quiet()))
                            }));
                            results.push((job, caught(r, Outcome::Value)));
                        }
                        let outbox: Vec<_> = (0..4)
                            .map(|_| {
                                let job = job(&mut rng);
                                let mut h = churn::root(job, Bomb::quiet());
                                if rng.chance(50) {
                                    // Started here (a root always suspends).
                                    assert!(poll_once(&mut h).is_pending());
                                }
                                (job, h)
                            })
                            .collect();
                        (results, outbox)
                    })
                })
                .collect();
            for t in threads {
                let (results, outbox) = t.join().unwrap_or_else(|p| panic::resume_unwind(p));
                for (job, got) in results {
                    tallies.record(&job, got, reference(job, false), false);
                }
                // The next generation's threads get another thread's calls.
                handed.push(outbox);
            }
            handed.rotate_left(1);
        }
        drop(handed);
        // Runtimes that come and go, with calls in flight at shutdown.
        for _ in 0..sized(20) {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build()
                .expect("a tokio runtime");
            let jobs: Vec<Job> = (0..8).map(|_| job(&mut rng)).collect();
            let outcomes = rt.block_on(async {
                let tasks: Vec<_> =
                    jobs.iter().map(|&j| tokio::spawn(churn::root(j, Bomb::quiet()))).collect();
                for _ in 0..4 {
                    let j = job(&mut rng);
                    tokio::spawn(async move {
                        let mut fut = churn::root(j, Bomb::quiet());
                        let _ = futures::poll!(&mut fut);
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        drop(fut);
                    });
                }
                let mut outcomes = Vec::new();
                for t in tasks {
                    outcomes.push(join_outcome(t.await, Outcome::Value));
                }
                outcomes
            });
            for (job, got) in jobs.into_iter().zip(outcomes) {
                tallies.record(&job, got, reference(job, false), false);
            }
            drop(rt);
        }
        tallies
    });
    report("thread churn", &tallies, concat!(module_path!(), "::churn"));
    assert!(tallies.values > 0, "{tallies:?}");
    check_quiescent(concat!(module_path!(), "::churn"), churn::POOLS);
}

/// Sums the stats of the size-class pools.
fn size_class_totals() -> (u64, u64, u64) {
    flowcoro::pools()
        .into_iter()
        .filter(|s| s.name.starts_with(support::SIZE_CLASS_PREFIX))
        .fold((0, 0, 0), |(a, r, b), s| (a + s.allocations, r + s.reused, b + s.reserved_bytes))
}

/// Ten million pooled calls (with `FLOWCORO_STRESS=soak`, or as many as
/// `FLOWCORO_SOAK_CALLS` says; a short run otherwise) on tokio's
/// multi-thread runtime, in rounds. At the end of each round the pools are
/// quiescent: no frame is live and `reserved_bytes` is within the bound of
/// the depots and the thread caches; after the warm-up it stays flat (it
/// moves with the decay of idle frames, but does not grow).
#[test]
fn soak() {
    let _serial = serial();
    let target: u64 = match std::env::var("FLOWCORO_SOAK_CALLS") {
        Ok(n) => n.trim().parse().expect("FLOWCORO_SOAK_CALLS must be a number"),
        Err(_) if size().soak => 10_000_000,
        Err(_) => sized(300_000) as u64,
    };
    let seed = scenario_seed("soak");
    let module = concat!(module_path!(), "::soak_tree");
    let (sc_alloc0, sc_reused0, _) = size_class_totals();
    let workers = 3;
    const IN_FLIGHT: usize = 64;
    let rows = on_own_thread("soak", move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_time()
            .build()
            .expect("a tokio runtime");
        let mut rng = Rng::new(seed);
        let start = Instant::now();
        let mut rows: Vec<(u64, Duration, u64, f64)> = Vec::new();
        let mut calls = 0;
        while calls < target {
            let jobs: Vec<Job> = (0..2000).map(|_| clean_job(&mut rng)).collect();
            // At most `IN_FLIGHT` calls at once, as a server with bounded
            // concurrency would run them.
            let values: Vec<u64> = rt.block_on(
                futures::stream::iter(
                    jobs.iter().map(|&j| tokio::spawn(soak_tree::root(j, Bomb::quiet()))),
                )
                .buffered(IN_FLIGHT)
                .map(|r| r.expect("no fault injected"))
                .collect(),
            );
            // Check a sample against the plain tree (it costs as much as
            // the pooled run).
            for (j, v) in jobs.iter().zip(&values).step_by(61) {
                assert_eq!(reference(*j, false), Outcome::Value(*v), "{j:?}");
            }
            let t = totals(module);
            let (sc_alloc, sc_reused, sc_reserved) = size_class_totals();
            calls = t.allocations + sc_alloc - sc_alloc0;
            let reused = t.reused + sc_reused - sc_reused0;
            let reserved = t.reserved_bytes + sc_reserved;
            // The workers and this thread (which builds the roots) may cache.
            let allowed =
                support::check_between_batches(module, soak_tree::POOLS, workers as u64 + 1);
            assert!(reserved <= allowed, "{reserved} bytes reserved, over the bound {allowed}");
            rows.push((calls, start.elapsed(), reserved, reused as f64 / calls as f64));
        }
        drop(rt);
        rows
    });
    eprintln!(
        "stress: soak on tokio multi-thread ({workers} workers, {IN_FLIGHT} calls in flight)"
    );
    eprintln!("{:>12} {:>10} {:>14} {:>8}", "calls", "wall", "reserved", "hit");
    let every = (rows.len() / 12).max(1);
    for (i, (calls, wall, reserved, hit)) in rows.iter().enumerate() {
        if i % every == 0 || i + 1 == rows.len() {
            eprintln!("{calls:>12} {:>9.2}s {reserved:>14} {hit:>8.4}", wall.as_secs_f64());
        }
    }
    // Flat: after the warm-up (the first tenth of the calls), the second
    // half of the run reserves no more than the first, give or take what
    // idle frames moving between caches and decaying account for.
    let warm = rows.iter().position(|r| r.0 >= target / 10).unwrap_or(0);
    let half = rows.iter().position(|r| r.0 >= target / 2).unwrap_or(rows.len() - 1);
    let first = rows[warm..=half].iter().map(|r| r.2).max().unwrap_or(0);
    let second = rows[half..].iter().map(|r| r.2).max().unwrap_or(0);
    eprintln!(
        "stress: soak reserved_bytes after warm-up: up to {first} in the first half, {second} in the second"
    );
    if size().soak {
        assert!(second <= first + first / 4, "reserved_bytes grows: {first} then {second}");
    }
    check_quiescent(module, soak_tree::POOLS);
}

/// One generic fn, fourteen layouts: sizes from a few bytes to 70 KB,
/// alignments up to 4096. More than the pool's own classes, so some share
/// one and some go to the size-class pools.
mod layouts {
    use std::future::Future;

    use crate::support::{Expect, POOL_CLASSES, yield_now};

    pub(crate) trait Shape: Send + 'static {
        fn make(seed: u64) -> Self;
        fn check(&self, seed: u64) -> u64;
    }

    pub(crate) struct Shaped<A, const N: usize> {
        _align: [A; 0],
        bytes: [u8; N],
    }

    impl<A: Send + 'static, const N: usize> Shape for Shaped<A, N> {
        fn make(seed: u64) -> Self {
            Shaped { _align: [], bytes: [seed as u8; N] }
        }

        fn check(&self, seed: u64) -> u64 {
            let at = self as *const Self as usize;
            assert_eq!(at % align_of::<Self>(), 0, "a frame is misaligned for its future");
            assert!(self.bytes.iter().all(|&b| b == seed as u8), "a live frame was overwritten");
            expected(N, seed)
        }
    }

    pub(crate) fn expected(n: usize, seed: u64) -> u64 {
        n as u64 ^ seed
    }

    #[repr(align(16))]
    pub(crate) struct A16;
    #[repr(align(64))]
    pub(crate) struct A64;
    #[repr(align(256))]
    pub(crate) struct A256;
    #[repr(align(4096))]
    pub(crate) struct A4096;

    #[flowcoro::pooled(max_idle = 8)]
    pub(crate) async fn shaped<T: Shape>(seed: u64) -> u64 {
        let v = T::make(seed);
        yield_now().await;
        let out = v.check(seed);
        yield_now().await;
        out
    }

    pub(crate) type Call = Box<dyn Future<Output = u64> + Send + Unpin>;

    /// The payload size of each kind, and a call of it.
    pub(crate) const KINDS: [usize; 14] =
        [1, 100, 40, 64, 700, 256, 10, 3000, 3000, 6000, 6000, 20_000, 5000, 70_000];

    pub(crate) fn call(kind: usize, seed: u64) -> Call {
        match kind {
            0 => Box::new(shaped::<Shaped<(), 1>>(seed)),
            1 => Box::new(shaped::<Shaped<(), 100>>(seed)),
            2 => Box::new(shaped::<Shaped<A16, 40>>(seed)),
            3 => Box::new(shaped::<Shaped<A64, 64>>(seed)),
            4 => Box::new(shaped::<Shaped<A64, 700>>(seed)),
            5 => Box::new(shaped::<Shaped<A256, 256>>(seed)),
            6 => Box::new(shaped::<Shaped<A4096, 10>>(seed)),
            7 => Box::new(shaped::<Shaped<(), 3000>>(seed)),
            8 => Box::new(shaped::<Shaped<A16, 3000>>(seed)),
            9 => Box::new(shaped::<Shaped<A64, 6000>>(seed)),
            10 => Box::new(shaped::<Shaped<A256, 6000>>(seed)),
            11 => Box::new(shaped::<Shaped<(), 20_000>>(seed)),
            12 => Box::new(shaped::<Shaped<A4096, 5000>>(seed)),
            _ => Box::new(shaped::<Shaped<(), 70_000>>(seed)),
        }
    }

    pub(crate) const POOLS: &[Expect] =
        &[Expect { suffix: "shaped", max_idle: Some(8), classes: POOL_CLASSES }];
}

/// The generic fn's fourteen layouts from three producer threads, started
/// there and finished or dropped on two consumer threads: every frame
/// aligned for its future, every value right, every frame back.
#[test]
fn layouts_across_threads() {
    let _serial = serial();
    let seed = scenario_seed("layouts_across_threads");
    let per_producer = sized(5000);
    let (done, dropped) = on_own_thread("layouts", move || {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, u64, layouts::Call)>(64);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let consumers: Vec<_> = (0..2u64)
            .map(|c| {
                let rx = rx.clone();
                thread::spawn(move || {
                    let mut rng = Rng::new(seed ^ (c + 100));
                    let (mut done, mut dropped) = (0u64, 0u64);
                    loop {
                        let msg = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok((kind, s, call)) = msg else { break };
                        if rng.chance(25) {
                            drop(call);
                            dropped += 1;
                        } else {
                            let v = futures::executor::block_on(call);
                            assert_eq!(
                                v,
                                layouts::expected(layouts::KINDS[kind], s),
                                "kind {kind}"
                            );
                            done += 1;
                        }
                    }
                    (done, dropped)
                })
            })
            .collect();
        let producers: Vec<_> = (0..3u64)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    let mut rng = Rng::new(seed ^ p);
                    let mut done = 0u64;
                    for _ in 0..per_producer {
                        let kind = rng.below(layouts::KINDS.len() as u64) as usize;
                        let s = rng.next_u64();
                        let mut call = layouts::call(kind, s);
                        match rng.below(3) {
                            0 => {
                                let v = futures::executor::block_on(call);
                                assert_eq!(
                                    v,
                                    layouts::expected(layouts::KINDS[kind], s),
                                    "kind {kind}"
                                );
                                done += 1;
                            }
                            started => {
                                if started == 1 {
                                    assert!(poll_once(&mut call).is_pending());
                                }
                                tx.send((kind, s, call)).expect("consumers run");
                            }
                        }
                    }
                    done
                })
            })
            .collect();
        drop(tx);
        let mut done: u64 = producers
            .into_iter()
            .map(|p| p.join().unwrap_or_else(|e| panic::resume_unwind(e)))
            .sum();
        let mut dropped = 0;
        for c in consumers {
            let (d, x) = c.join().unwrap_or_else(|e| panic::resume_unwind(e));
            done += d;
            dropped += x;
        }
        (done, dropped)
    });
    assert_eq!(done + dropped, 3 * per_producer as u64);
    let stats = check_quiescent(concat!(module_path!(), "::layouts"), layouts::POOLS);
    let used_size_classes = stats
        .iter()
        .filter(|s| s.name.starts_with(support::SIZE_CLASS_PREFIX) && s.allocations > 0)
        .count();
    eprintln!(
        "stress: layouts: {done} calls done, {dropped} dropped in flight, {used_size_classes} size-class pools used"
    );
}
