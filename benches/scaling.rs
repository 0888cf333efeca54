//! One pooled function hammered by one thread, then by two at once: the time
//! per call each thread sees, for `#[pooled]`, `Box::pin` and a direct await
//! (no allocation: the machine's own scaling, for reference).
//!
//! Each thread awaits `iters` calls of a leaf with a 1 KiB frame in a loop;
//! the sample is the wall time until every thread is done, so a flat line
//! from 1 to 2 threads means no contention. Criterion's throughput figure
//! counts the calls of all threads together.

mod support;

use std::future::Future;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};

use support::{await_in_loop, leaf, pooled_1k};

/// Runs `iters` calls of `call` on each of `threads` threads at once.
fn hammer<F: Future<Output = u8>>(
    threads: usize,
    iters: u64,
    call: impl Fn(u8) -> F + Copy + Sync,
) -> Duration {
    let ready = Barrier::new(threads + 1);
    let start = thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                ready.wait();
                await_in_loop(iters, call);
            });
        }
        ready.wait();
        Instant::now()
    });
    start.elapsed()
}

fn scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling");
    for threads in [1, 2] {
        g.throughput(Throughput::Elements(threads as u64));
        g.bench_function(BenchmarkId::new("direct", threads), |b| {
            b.iter_custom(|iters| hammer(threads, iters, leaf::<1024>))
        });
        g.bench_function(BenchmarkId::new("box_pin", threads), |b| {
            b.iter_custom(|iters| hammer(threads, iters, |seed| Box::pin(leaf::<1024>(seed))))
        });
        g.bench_function(BenchmarkId::new("pooled", threads), |b| {
            b.iter_custom(|iters| hammer(threads, iters, pooled_1k))
        });
    }
    g.finish();
}

criterion::criterion_group! {
    name = benches;
    config = support::config();
    targets = scaling
}
criterion::criterion_main!(benches);
