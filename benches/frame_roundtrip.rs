//! Create + drop of one frame: `FramePool` beside `Box::pin` under the system
//! allocator and a box allocated by mimalloc, for frames of 64 B to 16 KiB,
//! on one thread and across two (allocated on one, dropped on the other,
//! batches handed over without parking either thread).
//!
//! The future is built in its slot, as `#[pooled]` builds it
//! (`alloc_with(|| future)`); `Box::pin(future)` builds it on the stack and
//! moves it, which is what boxed code pays.
//!
//! Two rows tell what the others leave out. `pooled_fn_not_inlined` is the
//! round trip through a `#[pooled]` fn that is not inlined into its caller,
//! as a call across crates is, beside `box_pin_system_not_inlined`, the same
//! for a fn that boxes. `floor`, across threads, is the physical cost of the
//! hand-off: slots allocated once and cycled between the two threads in the
//! same batches, the producer writing each future, the consumer dropping it;
//! no pool can do better.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::VecDeque;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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

/// The leaf behind a call, per size, as user code reaches it: a `#[pooled]`
/// fn inlined into its caller, the same fn out of line, and an out-of-line
/// fn that boxes.
macro_rules! through_fns {
    ($($n:literal => $inlined:ident, $not_inlined:ident, $boxed:ident;)*) => {$(
        #[flowcoro::pooled]
        #[inline]
        async fn $inlined(seed: u8) -> u8 {
            leaf::<$n>(seed).await
        }

        #[flowcoro::pooled]
        #[inline(never)]
        async fn $not_inlined(seed: u8) -> u8 {
            leaf::<$n>(seed).await
        }

        #[inline(never)]
        fn $boxed(seed: u8) -> Pin<Box<impl Future<Output = u8>>> {
            Box::pin(async move { leaf::<$n>(seed).await })
        }
    )*};
}

through_fns! {
    64 => fn_64, fn_64_out, boxed_64_out;
    1024 => fn_1024, fn_1024_out, boxed_1024_out;
    4096 => fn_4096, fn_4096_out, boxed_4096_out;
    16384 => fn_16384, fn_16384_out, boxed_16384_out;
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
        ($n:literal, $inlined:ident, $not_inlined:ident, $boxed:ident) => {{
            static POOL: FramePool = FramePool::new(concat!("bench::roundtrip_", $n));
            g.bench_function(BenchmarkId::new("pooled", $n), |b| {
                b.iter(|| drop(black_box(POOL.alloc_with(|| leaf::<$n>(black_box(1))))))
            });
            g.bench_function(BenchmarkId::new("pooled_fn", $n), |b| {
                b.iter(|| drop(black_box($inlined(black_box(1)))))
            });
            g.bench_function(BenchmarkId::new("pooled_fn_not_inlined", $n), |b| {
                b.iter(|| drop(black_box($not_inlined(black_box(1)))))
            });
            g.bench_function(BenchmarkId::new("box_pin_system", $n), |b| {
                b.iter(|| drop(black_box(Box::pin(leaf::<$n>(black_box(1))))))
            });
            g.bench_function(BenchmarkId::new("box_pin_system_not_inlined", $n), |b| {
                b.iter(|| drop(black_box($boxed(black_box(1)))))
            });
            g.bench_function(BenchmarkId::new("box_pin_mimalloc", $n), |b| {
                b.iter(|| drop(black_box(MiBox::pin(leaf::<$n>(black_box(1))))))
            });
        }};
    }
    bench!(64, fn_64, fn_64_out, boxed_64_out);
    bench!(1024, fn_1024, fn_1024_out, boxed_1024_out);
    bench!(4096, fn_4096, fn_4096_out, boxed_4096_out);
    bench!(16384, fn_16384, fn_16384_out, boxed_16384_out);
    g.finish();
}

/// Batches handed between the two threads without parking either: a thread
/// that waits spins on `ready` and takes the lock only once there is
/// something to take. A parking hand-off (a channel) costs a futex wake-up
/// per batch, tens of nanoseconds per frame of scheduling that has nothing
/// to do with allocation, and it would be most of what the bench measured.
struct Handoff<T> {
    batches: Mutex<VecDeque<Vec<T>>>,
    ready: AtomicUsize,
}

impl<T> Handoff<T> {
    fn new() -> Self {
        Handoff { batches: Mutex::new(VecDeque::new()), ready: AtomicUsize::new(0) }
    }

    fn push(&self, batch: Vec<T>) {
        self.batches.lock().unwrap().push_back(batch);
        self.ready.fetch_add(1, Ordering::Release);
    }

    fn try_pop(&self) -> Option<Vec<T>> {
        if self.ready.load(Ordering::Acquire) == 0 {
            return None;
        }
        let batch = self.batches.lock().unwrap().pop_front()?;
        self.ready.fetch_sub(1, Ordering::Relaxed);
        Some(batch)
    }

    fn pop(&self) -> Vec<T> {
        loop {
            if let Some(batch) = self.try_pop() {
                return batch;
            }
            std::hint::spin_loop();
        }
    }
}

/// A thread that drops whatever batches it is handed, as a work-stealing
/// executor's other worker would. It lives for a whole benchmark, like a
/// runtime's workers, so its cache is warm as theirs would be.
///
/// A batch is emptied by `consume`: cleared (every future dropped, and its
/// memory freed by whatever owns it), or, for the floor, every slot's future
/// dropped in place and the slot sent back full of nothing.
struct Dropper<T: Send + 'static> {
    /// Full batches, for the dropping thread.
    full: Arc<Handoff<T>>,
    /// Empty batches, back from it.
    empty: Arc<Handoff<T>>,
    stop: Arc<AtomicBool>,
    consumer: Option<thread::JoinHandle<()>>,
}

const BATCH: usize = 256;
const IN_FLIGHT: usize = 6;

impl<T: Send + 'static> Dropper<T> {
    fn new() -> Self {
        Self::with(|| Vec::with_capacity(BATCH), Vec::clear)
    }

    /// A dropper whose batches start as `batch()` and are emptied by `consume`.
    fn with(batch: impl Fn() -> Vec<T>, consume: fn(&mut Vec<T>)) -> Self {
        let (full, empty) = (Arc::new(Handoff::new()), Arc::new(Handoff::new()));
        for _ in 0..IN_FLIGHT {
            empty.push(batch());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (from_producer, to_producer, stopped) = (full.clone(), empty.clone(), stop.clone());
        let consumer = thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match from_producer.try_pop() {
                    Some(mut batch) => {
                        consume(&mut batch); // drops every future here
                        to_producer.push(batch);
                    }
                    None => std::hint::spin_loop(),
                }
            }
        });
        Dropper { full, empty, stop, consumer: Some(consumer) }
    }

    /// Creates `iters` futures here, in batches, and has them dropped there;
    /// times the whole flow, until the last batch is dropped.
    fn run(&self, iters: u64, make: impl Fn() -> T) -> Duration {
        self.run_filling(iters, |batch, n| batch.extend((0..n).map(|_| make())))
    }

    /// [`run`](Dropper::run), with `fill(batch, n)` putting `n` futures in
    /// each batch.
    fn run_filling(&self, iters: u64, mut fill: impl FnMut(&mut Vec<T>, usize)) -> Duration {
        let start = Instant::now();
        let mut left = iters as usize;
        while left > 0 {
            let mut batch = self.empty.pop();
            let n = left.min(BATCH);
            fill(&mut batch, n);
            left -= n;
            self.full.push(batch);
        }
        // Every batch back empty: everything was dropped.
        let back: Vec<_> = (0..IN_FLIGHT).map(|_| self.empty.pop()).collect();
        let elapsed = start.elapsed();
        for b in back {
            self.empty.push(b);
        }
        elapsed
    }
}

impl<T: Send + 'static> Drop for Dropper<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(c) = self.consumer.take() {
            c.join().unwrap();
        }
    }
}

/// A batch of slots for the floor: allocated once, each big enough for the
/// future `make` builds, and empty.
fn floor_batch<F>(make: fn() -> F) -> impl Fn() -> Vec<Box<Option<F>>> {
    move || {
        (0..BATCH)
            .map(|_| {
                let mut slot = Box::new(Some(make()));
                *slot = None;
                slot
            })
            .collect()
    }
}

/// The floor's consumer: drops each slot's future where it lies and keeps
/// the slot, to be sent back.
fn drop_in_slots<F>(batch: &mut Vec<Box<Option<F>>>) {
    for slot in batch {
        **slot = None;
    }
}

fn cross_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_roundtrip_cross_thread");
    g.throughput(Throughput::Elements(1));
    macro_rules! bench {
        ($n:literal) => {{
            static POOL: FramePool = FramePool::new(concat!("bench::cross_", $n));
            g.bench_function(BenchmarkId::new("floor", $n), |b| {
                let d = Dropper::with(floor_batch(|| leaf::<$n>(0)), drop_in_slots);
                b.iter_custom(|iters| {
                    d.run_filling(iters, |batch, n| {
                        for slot in &mut batch[..n] {
                            **slot = Some(leaf::<$n>(black_box(1)));
                        }
                    })
                })
            });
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
