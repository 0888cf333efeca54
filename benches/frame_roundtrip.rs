//! Create + drop of one frame: `FramePool` beside `Box::pin` under the system
//! allocator and a box allocated by mimalloc, for frames of 64 B to 16 KiB,
//! on one thread and across two (allocated on one, dropped on the other).
//!
//! The future is built in its slot, as `#[pooled]` builds it
//! (`alloc_with(|| future)`); `Box::pin(future)` builds it on the stack and
//! moves it, which is what boxed code pays.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flowcoro::FramePool;
use mimalloc::MiMalloc;

/// A leaf future holding `N` bytes across an await.
async fn leaf<const N: usize>(seed: u8) -> u8 {
    let mut buf = [seed; N];
    std::future::ready(()).await;
    buf[N / 2] = black_box(buf[0]);
    buf[N - 1]
}

/// `Box::pin`, but with mimalloc as the allocator: the baseline a
/// performance-minded user would otherwise pick, in the same process.
struct MiBox<F>(NonNull<F>);

// SAFETY: owns an F, like Box<F>.
unsafe impl<F: Send> Send for MiBox<F> {}

impl<F> MiBox<F> {
    #[inline(always)]
    fn pin(f: F) -> Pin<MiBox<F>> {
        let layout = Layout::new::<F>();
        // SAFETY: futures held across an await are not zero-sized here.
        let p = unsafe { MiMalloc.alloc(layout) }.cast::<F>();
        let p = NonNull::new(p).expect("out of memory");
        // SAFETY: fresh memory of F's layout.
        unsafe { p.as_ptr().write(f) };
        // SAFETY: the box never moves its content.
        unsafe { Pin::new_unchecked(MiBox(p)) }
    }
}

impl<F> std::ops::Deref for MiBox<F> {
    type Target = F;
    fn deref(&self) -> &F {
        // SAFETY: valid while the box lives.
        unsafe { self.0.as_ref() }
    }
}

impl<F> Drop for MiBox<F> {
    fn drop(&mut self) {
        // SAFETY: we own a valid F in memory from MiMalloc with F's layout.
        unsafe {
            self.0.as_ptr().drop_in_place();
            MiMalloc.dealloc(self.0.as_ptr().cast(), Layout::new::<F>());
        }
    }
}

macro_rules! sizes {
    ($m:ident) => {
        $m!(64);
        $m!(1024);
        $m!(4096);
        $m!(16384);
    };
}

fn one_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_roundtrip");
    g.throughput(Throughput::Elements(1));
    macro_rules! bench {
        ($n:literal) => {{
            static POOL: FramePool = FramePool::new(concat!("bench::roundtrip_", $n));
            g.bench_function(BenchmarkId::new("pooled", $n), |b| {
                b.iter(|| drop(black_box(POOL.alloc_with(|| leaf::<$n>(black_box(1))))))
            });
            g.bench_function(BenchmarkId::new("box_pin_system", $n), |b| {
                b.iter(|| drop(black_box(Box::pin(leaf::<$n>(black_box(1))))))
            });
            g.bench_function(BenchmarkId::new("box_pin_mimalloc", $n), |b| {
                b.iter(|| drop(black_box(MiBox::pin(leaf::<$n>(black_box(1))))))
            });
        }};
    }
    sizes!(bench);
    g.finish();
}

/// A thread that drops whatever batches it is sent, as a work-stealing
/// executor's other worker would. It lives for a whole benchmark, like a
/// runtime's workers, so its cache is warm as theirs would be.
struct Dropper<T: Send + 'static> {
    to_consumer: Option<mpsc::SyncSender<Vec<T>>>,
    /// Empty batches, back from the consumer (or put back after a run).
    recycled: mpsc::Receiver<Vec<T>>,
    refill: mpsc::Sender<Vec<T>>,
    consumer: Option<thread::JoinHandle<()>>,
}

const BATCH: usize = 256;
const IN_FLIGHT: usize = 6;

impl<T: Send + 'static> Dropper<T> {
    fn new() -> Self {
        let (to_consumer, from_producer) = mpsc::sync_channel::<Vec<T>>(IN_FLIGHT);
        let (refill, recycled) = mpsc::channel::<Vec<T>>();
        for _ in 0..IN_FLIGHT {
            refill.send(Vec::with_capacity(BATCH)).unwrap();
        }
        let to_producer = refill.clone();
        let consumer = thread::spawn(move || {
            for mut batch in from_producer {
                batch.clear(); // drops every future here
                if to_producer.send(batch).is_err() {
                    break;
                }
            }
        });
        Dropper { to_consumer: Some(to_consumer), recycled, refill, consumer: Some(consumer) }
    }

    /// Creates `iters` futures here, in batches, and has them dropped there;
    /// times the whole flow, until the last batch is dropped.
    fn run(&self, iters: u64, make: impl Fn() -> T) -> Duration {
        let to_consumer = self.to_consumer.as_ref().unwrap();
        let start = Instant::now();
        let mut left = iters as usize;
        while left > 0 {
            let mut batch = self.recycled.recv().unwrap();
            let n = left.min(BATCH);
            batch.extend((0..n).map(|_| make()));
            left -= n;
            to_consumer.send(batch).unwrap();
        }
        // Every batch back empty: everything was dropped.
        let back: Vec<_> = (0..IN_FLIGHT).map(|_| self.recycled.recv().unwrap()).collect();
        let elapsed = start.elapsed();
        for b in back {
            self.refill.send(b).unwrap();
        }
        elapsed
    }
}

impl<T: Send + 'static> Drop for Dropper<T> {
    fn drop(&mut self) {
        drop(self.to_consumer.take());
        if let Some(c) = self.consumer.take() {
            c.join().unwrap();
        }
    }
}

fn cross_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_roundtrip_cross_thread");
    g.throughput(Throughput::Elements(1));
    macro_rules! bench {
        ($n:literal) => {{
            static POOL: FramePool = FramePool::new(concat!("bench::cross_", $n));
            g.bench_function(BenchmarkId::new("pooled", $n), |b| {
                let d = Dropper::new();
                b.iter_custom(|iters| d.run(iters, || POOL.alloc_with(|| leaf::<$n>(black_box(1)))))
            });
            g.bench_function(BenchmarkId::new("box_pin_system", $n), |b| {
                let d = Dropper::new();
                b.iter_custom(|iters| d.run(iters, || Box::pin(leaf::<$n>(black_box(1)))))
            });
            g.bench_function(BenchmarkId::new("box_pin_mimalloc", $n), |b| {
                let d = Dropper::new();
                b.iter_custom(|iters| d.run(iters, || MiBox::pin(leaf::<$n>(black_box(1)))))
            });
        }};
    }
    sizes!(bench);
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = one_thread, cross_thread
}
criterion_main!(benches);
