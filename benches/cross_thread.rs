//! Futures started on one thread and finished on another, as a
//! work-stealing executor moves a suspended task: `#[pooled]` beside
//! `Box::pin`, for frames of 64 B to 16 KiB.
//!
//! A producer thread calls the leaf and polls it once, up to its
//! suspension; a consumer thread polls it to completion, so the frame is
//! taken on one thread and given back on the other. Futures cross in
//! batches through channels, as tasks do through a run queue. (The
//! `frame_roundtrip` bench drops its futures on the other thread without
//! polling them; here every one runs to `Ready`.)

mod support;

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};

use support::{leaf, pooled_1k, pooled_4k, pooled_16k, pooled_64};

/// Futures handed over at once.
const BATCH: usize = 128;
/// Batches in circulation: the producer fills one while the finisher works
/// through the others.
const BATCHES: usize = 4;

/// A second thread that polls the futures it is given to completion, as the
/// worker that stole them would. It lives as long as one benchmark, so its
/// caches are as warm as a runtime's worker.
struct Finisher<F> {
    work: Option<mpsc::SyncSender<Vec<F>>>,
    done: mpsc::Receiver<Vec<F>>,
    spare: Vec<Vec<F>>,
    thread: Option<JoinHandle<()>>,
}

impl<F> Finisher<F>
where
    F: Future<Output = u8> + Unpin + Send + 'static,
{
    fn new() -> Finisher<F> {
        let (work, started) = mpsc::sync_channel::<Vec<F>>(BATCHES);
        let (finished, done) = mpsc::sync_channel::<Vec<F>>(BATCHES);
        let thread = thread::spawn(move || {
            let mut cx = Context::from_waker(Waker::noop());
            for mut batch in started {
                for mut fut in batch.drain(..) {
                    match Pin::new(&mut fut).poll(&mut cx) {
                        Poll::Ready(out) => {
                            black_box(out);
                        }
                        Poll::Pending => unreachable!("the leaf suspends only once"),
                    }
                }
                if finished.send(batch).is_err() {
                    break;
                }
            }
        });
        Finisher {
            work: Some(work),
            done,
            spare: (0..BATCHES).map(|_| Vec::with_capacity(BATCH)).collect(),
            thread: Some(thread),
        }
    }

    /// Starts `iters` calls of `call` on this thread, has the finisher
    /// complete them, and times the whole flow.
    fn run(&mut self, iters: u64, call: impl Fn(u8) -> F) -> Duration {
        let work = self.work.as_ref().expect("finisher running");
        let mut cx = Context::from_waker(Waker::noop());
        let start = Instant::now();
        let mut left = iters;
        while left > 0 {
            let mut batch = match self.spare.pop() {
                Some(batch) => batch,
                None => self.done.recv().expect("finisher alive"),
            };
            let n = left.min(BATCH as u64);
            for i in 0..n {
                let mut fut = call(i as u8);
                assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
                batch.push(fut);
            }
            left -= n;
            work.send(batch).expect("finisher alive");
        }
        while self.spare.len() < BATCHES {
            self.spare.push(self.done.recv().expect("finisher alive"));
        }
        start.elapsed()
    }
}

impl<F> Drop for Finisher<F> {
    fn drop(&mut self) {
        drop(self.work.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn sized<const N: usize, F>(g: &mut BenchmarkGroup<'_, WallTime>, pooled: impl Fn(u8) -> F + Copy)
where
    F: Future<Output = u8> + Unpin + Send + 'static,
{
    g.bench_function(BenchmarkId::new("box_pin", N), |b| {
        let mut finisher = Finisher::new();
        b.iter_custom(|iters| finisher.run(iters, |seed| Box::pin(leaf::<N>(seed))))
    });
    g.bench_function(BenchmarkId::new("pooled", N), |b| {
        let mut finisher = Finisher::new();
        b.iter_custom(|iters| finisher.run(iters, pooled))
    });
}

fn cross_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("cross_thread_complete");
    g.throughput(Throughput::Elements(1));
    sized::<64, _>(&mut g, pooled_64);
    sized::<1024, _>(&mut g, pooled_1k);
    sized::<4096, _>(&mut g, pooled_4k);
    sized::<16384, _>(&mut g, pooled_16k);
    g.finish();
}

criterion::criterion_group! {
    name = benches;
    config = support::config();
    targets = cross_thread
}
criterion::criterion_main!(benches);
