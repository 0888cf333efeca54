//! flowcoro on a microcontroller: an emulated Cortex-M3 (QEMU's
//! `lm3s6965evb`), embassy's executor, a 16 KiB heap, output over
//! semihosting. Run with `cargo run --release` in this directory.
//!
//! - Two drivers behind one `#[pooled]` trait, called through `dyn`: each
//!   call's state in its impl's pool, no box.
//! - A recursive pooled fn.
//! - A generic fn, two instantiations, spawned as embassy tasks through one
//!   `TaskPool<PooledDyn<'static, ()>, N>`: work chosen at run time in a
//!   statically sized task pool, on stable Rust.
//! - A pool whose frames are in static memory (`capacity`): the jobs'.
//! - The heap's allocation count, flat once the pools are warm; the pools'
//!   report; every frame back at the end.
//!
//! With `--features plain` the same program boxes each call instead
//! (`Box::pin`, and `#[async_trait]` for the drivers), for comparing code
//! size and allocations.
#![no_std]
#![no_main]

extern crate alloc;

#[cfg(feature = "plain")]
use alloc::boxed::Box;
use core::alloc::{GlobalAlloc, Layout};
use core::future::Future;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use core::task::{Context, Poll};

use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::Spawner;
use embassy_executor::raw::TaskPool;
use embedded_alloc::LlffHeap;
use panic_semihosting as _;

mod calls {
    //! The calls whose state lives in their fn's pool; with `plain`, in a
    //! `Box`. `job` is written once for both.
    use super::{AtomicU32, Relaxed, Sensor, yield_now};

    #[cfg(feature = "plain")]
    use alloc::boxed::Box;
    #[cfg(feature = "plain")]
    use core::{future::Future, pin::Pin};

    /// A spawned job: its state in its fn's pool.
    #[cfg(not(feature = "plain"))]
    pub type Job = flowcoro::PooledDyn<'static, ()>;
    /// A spawned job: its state in a `Box`.
    #[cfg(feature = "plain")]
    pub type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

    #[cfg(not(feature = "plain"))]
    #[flowcoro::pooled]
    pub async fn tree_sum(depth: u32) -> u32 {
        if depth == 0 {
            return 1;
        }
        yield_now().await;
        1 + tree_sum(depth - 1).await + tree_sum(depth - 1).await
    }

    /// The same recursion, boxed at each level.
    #[cfg(feature = "plain")]
    pub fn tree_sum(depth: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
        Box::pin(async move {
            if depth == 0 {
                return 1;
            }
            yield_now().await;
            1 + tree_sum(depth - 1).await + tree_sum(depth - 1).await
        })
    }

    /// One job: read every driver, filter samples of type `T`, recurse.
    /// Pooled, its frames are in static memory: as many as the task pool
    /// runs.
    #[cfg_attr(not(feature = "plain"), flowcoro::pooled(capacity = 4, frame_size = 128))]
    pub async fn job<T: Copy + Into<u32> + Send + 'static>(
        drivers: &'static [&'static (dyn Sensor + Sync)],
        samples: [T; 4],
        out: &'static AtomicU32,
    ) {
        let mut total = 0;
        for d in drivers {
            total += d.read().await;
        }
        for s in samples {
            yield_now().await;
            total += s.into();
        }
        total += tree_sum(3).await;
        out.fetch_add(total, Relaxed);
    }

    pub fn spawn_job<T: Copy + Into<u32> + Send + 'static>(
        drivers: &'static [&'static (dyn Sensor + Sync)],
        samples: [T; 4],
        out: &'static AtomicU32,
    ) -> Job {
        #[cfg(not(feature = "plain"))]
        return job(drivers, samples, out).into_dyn();
        #[cfg(feature = "plain")]
        Box::pin(job(drivers, samples, out))
    }
}

/// A driver: a reading that takes a moment.
#[cfg_attr(not(feature = "plain"), flowcoro::pooled)]
#[cfg_attr(feature = "plain", async_trait::async_trait)]
pub trait Sensor {
    async fn read(&self) -> u32;
}

pub struct Thermometer {
    pub offset: u32,
}

#[cfg_attr(not(feature = "plain"), flowcoro::pooled)]
#[cfg_attr(feature = "plain", async_trait::async_trait)]
impl Sensor for Thermometer {
    async fn read(&self) -> u32 {
        yield_now().await;
        20 + self.offset
    }
}

pub struct Accelerometer {
    pub axes: [u16; 3],
}

#[cfg_attr(not(feature = "plain"), flowcoro::pooled)]
#[cfg_attr(feature = "plain", async_trait::async_trait)]
impl Sensor for Accelerometer {
    async fn read(&self) -> u32 {
        let window = [self.axes; 4];
        yield_now().await;
        window.iter().flatten().map(|&a| u32::from(a)).sum::<u32>() / 4
    }
}

static THERMOMETER: Thermometer = Thermometer { offset: 3 };
static ACCELEROMETER: Accelerometer = Accelerometer { axes: [1, 2, 3] };
static DRIVERS: [&(dyn Sensor + Sync); 2] = [&THERMOMETER, &ACCELEROMETER];

/// Pending once, then ready: a stand-in for waiting on a peripheral.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// The heap, counting its allocations.
struct Counted {
    heap: LlffHeap,
    allocs: AtomicU32,
}

// SAFETY: every call goes to the heap unchanged; the count is an atomic.
unsafe impl GlobalAlloc for Counted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocs.fetch_add(1, Relaxed);
        // SAFETY: forwarded.
        unsafe { self.heap.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { self.heap.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static HEAP: Counted = Counted { heap: LlffHeap::empty(), allocs: AtomicU32::new(0) };

const HEAP_SIZE: usize = 16 * 1024;
const ROUNDS: u32 = 5;
const TASKS_PER_ROUND: u32 = 4;

/// Every job, whatever it runs: one task pool of two-word handles.
static TASKS: TaskPool<calls::Job, { TASKS_PER_ROUND as usize }> = TaskPool::new();
static TOTAL: AtomicU32 = AtomicU32::new(0);

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    {
        static mut MEMORY: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, before any allocation; the memory is ours.
        unsafe { HEAP.heap.init(core::ptr::addr_of_mut!(MEMORY) as usize, HEAP_SIZE) }
    }
    hprintln!("flowcoro on a Cortex-M3: {} rounds of {} tasks", ROUNDS, TASKS_PER_ROUND);

    let d0 = DRIVERS[0].read().await;
    let d1 = DRIVERS[1].read().await;
    hprintln!("dyn drivers: thermometer {}, accelerometer {}", d0, d1);
    hprintln!("recursion: tree_sum(6) = {}", calls::tree_sum(6).await);

    let mut after_warm_up = 0;
    for round in 0..ROUNDS {
        let before = TOTAL.load(Relaxed);
        for t in 0..TASKS_PER_ROUND {
            let job = if t % 2 == 0 {
                calls::spawn_job(&DRIVERS, [1u8, 2, 3, t as u8], &TOTAL)
            } else {
                calls::spawn_job(&DRIVERS, [100u16, 200, 300, t as u16], &TOTAL)
            };
            match TASKS.spawn(move || job) {
                Ok(token) => spawner.spawn(token),
                Err(_) => panic!("task pool full"),
            }
        }
        // Until this round's tasks are done (and their slots free).
        let want = before + expected_round();
        while TOTAL.load(Relaxed) != want {
            yield_now().await;
        }
        yield_now().await;
        hprintln!("round {}: total {}", round, TOTAL.load(Relaxed) - before);
        if round == 0 {
            after_warm_up = HEAP.allocs.load(Relaxed);
        }
    }
    let end = HEAP.allocs.load(Relaxed);
    hprintln!(
        "heap allocations after warm-up: {}, after {} rounds: {}",
        after_warm_up,
        ROUNDS,
        end
    );
    if end == after_warm_up {
        hprintln!("allocations flat after warm-up");
    }

    report();
    debug::exit(debug::EXIT_SUCCESS);
}

/// What one round's four jobs add up to.
fn expected_round() -> u32 {
    let drivers = 23 + 6;
    let tree = 15;
    let small: u32 = [0u32, 2].iter().map(|t| 6 + t + drivers + tree).sum();
    let large: u32 = [1u32, 3].iter().map(|t| 600 + t + drivers + tree).sum();
    small + large
}

#[cfg(not(feature = "plain"))]
fn report() {
    let pools = flowcoro::pools();
    let live: u64 = pools.iter().map(|p| p.live).sum();
    hprintln!("{}", flowcoro::report());
    hprintln!("live frames at the end: {}", live);
}

#[cfg(feature = "plain")]
fn report() {
    hprintln!("(boxed: no pools to report)");
}
