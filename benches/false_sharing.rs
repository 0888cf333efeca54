//! Two threads polling frames that were handed out back to back.
//!
//! Each future writes its state on every poll. If the two frames shared a
//! cache line, every poll on one thread would steal the line from the other
//! (false sharing) and the pair would run several times slower than two
//! frames apart. Pooled frames are placed on their own cache lines; small
//! boxes from the system allocator sit next to each other.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flowcoro::FramePool;

/// Pending once per poll, forever: the caller decides when to stop.
struct Tick;

impl Future for Tick {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// A small future that counts its polls in its own state.
async fn counter() -> u64 {
    let mut polls = 0u64;
    loop {
        polls = black_box(polls + 1);
        Tick.await;
        if polls == u64::MAX {
            return polls;
        }
    }
}

/// Polls `a` on one thread and `b` on another, `iters` times each.
fn race<F: Future + Unpin + Send>(iters: u64, mut a: F, mut b: F) -> Duration {
    let start = Instant::now();
    thread::scope(|s| {
        for f in [&mut a, &mut b] {
            s.spawn(move || {
                let mut cx = Context::from_waker(Waker::noop());
                for _ in 0..iters {
                    // Opaque to the optimiser: each poll really runs and
                    // writes the frame.
                    let f = black_box(&mut *f);
                    let _ = black_box(Pin::new(f).poll(&mut cx));
                }
            });
        }
    });
    start.elapsed()
}

fn false_sharing(c: &mut Criterion) {
    static POOL: FramePool = FramePool::new("bench::false_sharing");
    let mut g = c.benchmark_group("false_sharing");
    g.throughput(Throughput::Elements(1));
    let size = size_of_val(&counter());
    g.bench_function(BenchmarkId::new("pooled", size), |b| {
        b.iter_custom(|iters| {
            let (x, y) = (POOL.alloc(counter()), POOL.alloc(counter()));
            race(iters, x, y)
        })
    });
    g.bench_function(BenchmarkId::new("box_pin_system", size), |b| {
        b.iter_custom(|iters| {
            let (x, y) = (Box::pin(counter()), Box::pin(counter()));
            race(iters, x, y)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = false_sharing
}
criterion_main!(benches);
