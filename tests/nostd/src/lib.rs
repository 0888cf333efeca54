//! Code written against flowcoro without std: a `no_std` crate (the
//! firmware's situation) using each form of the attribute. The tests in
//! tests/ run it on the host.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use flowcoro::{Pooled, PooledDyn, PooledStream, pool, pooled};
use futures_core::Stream;

/// Pending once, then ready: a body that awaits it suspends, as one
/// waiting on a peripheral would.
#[derive(Debug, Default)]
pub struct YieldNow(bool);

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

/// A free fn with a borrowed argument.
#[pooled]
pub async fn checksum(bytes: &[u8]) -> u32 {
    YieldNow::default().await;
    bytes.iter().map(|&b| u32::from(b)).sum()
}

/// Frames in static memory: four, of 128 bytes, before any from the heap.
#[pooled(capacity = 4, frame_size = 128)]
pub async fn filtered(sample: u16, gain: u16) -> u32 {
    YieldNow::default().await;
    u32::from(sample) * u32::from(gain)
}

/// A generic fn: one class per instantiation.
#[pooled]
pub async fn scaled<T: Copy + Into<u64>>(samples: Vec<T>, by: u64) -> u64 {
    YieldNow::default().await;
    samples.into_iter().map(|s| s.into() * by).sum()
}

/// Recursion, each level's frame from the pool.
#[pooled]
pub async fn depth_sum(n: u32) -> u64 {
    if n == 0 {
        return 0;
    }
    YieldNow::default().await;
    u64::from(n) + depth_sum(n - 1).await
}

/// A body that panics after suspending.
#[pooled]
pub async fn faulty(fail: bool) -> u32 {
    let guard = [0u8; 32];
    YieldNow::default().await;
    assert!(!fail, "sensor fault");
    u32::from(guard[0]) + 1
}

/// A driver trait called through `dyn`: each impl's calls in its own pool.
#[pooled]
pub trait Sensor {
    async fn read(&self, channel: u8) -> u32;
}

/// A sensor whose reading is its channel times a gain.
#[derive(Debug)]
pub struct Gain(pub u32);

#[pooled]
impl Sensor for Gain {
    async fn read(&self, channel: u8) -> u32 {
        YieldNow::default().await;
        self.0 * u32::from(channel)
    }
}

/// A sensor with a fixed reading and a buffer in its state.
#[derive(Debug)]
pub struct Fixed(pub u32);

#[pooled]
impl Sensor for Fixed {
    async fn read(&self, channel: u8) -> u32 {
        let buf = [channel; 64];
        YieldNow::default().await;
        self.0 + u32::from(buf[63])
    }
}

/// Reads every sensor through `dyn`.
pub async fn read_all(sensors: &[Box<dyn Sensor>], channel: u8) -> u32 {
    let mut total = 0;
    for s in sensors {
        let call: PooledDyn<'_, u32> = s.read(channel);
        total += call.await;
    }
    total
}

/// Work chosen at run time, as a two-word `'static` handle (what an
/// embassy `TaskPool<PooledDyn<'static, ()>, N>` holds): a `pool!` site.
pub fn job(id: u32, out: &'static core::sync::atomic::AtomicU32) -> PooledDyn<'static, ()> {
    pool!(name = "nostd::job"; async move {
        YieldNow::default().await;
        out.fetch_add(id, core::sync::atomic::Ordering::Relaxed);
    })
    .into_dyn()
}

/// A `pool!` site for a typed handle.
pub fn doubled(x: u32) -> Pooled<impl Future<Output = u32>> {
    pool!(name = "nostd::doubled"; async move {
        YieldNow::default().await;
        x * 2
    })
}

/// Counts down from `n`: a stream with no std in it.
#[derive(Debug)]
pub struct Countdown(pub u32);

impl Stream for Countdown {
    type Item = u32;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
        if self.0 == 0 {
            return Poll::Ready(None);
        }
        self.0 -= 1;
        Poll::Ready(Some(self.0 + 1))
    }
}

/// A pooled stream fn, behind its erased form.
#[pooled]
pub fn countdown(n: u32) -> impl Stream<Item = u32> + Send {
    Countdown(n)
}

/// [`countdown`] as the `BoxStream` drop-in.
pub fn countdown_dyn(n: u32) -> PooledStream<'static, u32> {
    countdown(n).into_dyn_stream()
}
