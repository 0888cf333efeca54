//! The cost of a short stream returned through `dyn`: a trait method that
//! lists rows, the `BoxStream` method of real storage traits, with the
//! stream erased by `#[pooled]` and by `Box::pin`, beside the floor of the
//! same stream pinned in place. Each iteration calls the method and drains
//! what it returns with `StreamExt::next`, summing the items.
//!
//! Two streams, each with a page of 64 B or 1 KiB of state, yielding three
//! rows:
//!
//! - `iter`: a combinator chain over an owned page, `stream::iter(page)
//!   .take(3).map(..)`, the shape of the `.boxed()` chains of real code;
//!   its own work is a few nanoseconds, so what it costs is mostly the
//!   erasure's.
//! - `generator`: an `async-stream` generator that fills the page from the
//!   seed, suspends once (the page's read, an I/O wait that completes at
//!   once), then yields three rows read from the page; its own work (the
//!   generator's channel, the fill) is most of its time.
//!
//! `run` checks each stream's state is the page and a few words more. The
//! 1 KiB generator's (1,072 B) is above the 1,032 B that glibc's per-thread
//! cache serves, so under glibc each of its boxes takes malloc's slower
//! path.
//!
//! - `direct`: the stream returned by a plain fn as `impl Stream`, pinned on
//!   the caller's stack and drained there: no allocation at all.
//! - `erased`: the same stream made through a fn pointer, pinned on the
//!   stack and drained through `Pin<&mut dyn Stream>`: what the erasure
//!   costs with no allocation, the floor of any erased form. A box's time
//!   over this one is as far as a pool could take a call: `boxed ÷ erased`
//!   bounds `boxed ÷ pooled`.
//! - `pooled`: through `&dyn Trait` of a `#[pooled]` trait whose method
//!   returns `impl Stream<Item = u64> + Send`: the stream built in a frame of
//!   the impl method's pool, returned as a `PooledStream`.
//! - `boxed`: through `&dyn Trait` of a trait whose method returns
//!   `BoxStream<'_, u64>` (`stream.boxed()`): an allocation and a free per
//!   call.
//!
//! The overhead of an erased form is its time minus that of `direct`. The
//! loop runs in one task on a no-op executor. `streams_mimalloc` runs the
//! same body with mimalloc as the global allocator.

use std::hint::black_box;
use std::pin::{Pin, pin};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Throughput};
use futures::stream::{self, BoxStream, Stream, StreamExt};

// The helpers every comparative bench shares (a path from this file, so it
// also resolves where `streams_mimalloc` includes this file).
#[path = "support/mod.rs"]
mod support;
use support::{block_on, yield_once};

// Unused where another bench binary includes this file as a module.
#[allow(dead_code)]
fn main() {
    run("streams");
}

/// Runs the group `name` and prints criterion's summary.
pub(crate) fn run(name: &str) {
    let mut c = support::config().configure_from_args();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    sized::<64, _, _>(&mut g, "iter", &Iter64(1), page_iter::<64>);
    sized::<1024, _, _>(&mut g, "iter", &Iter1k(1), page_iter::<1024>);
    sized::<64, _, _>(&mut g, "generator", &Rows64(1), page_rows::<64>);
    sized::<1024, _, _>(&mut g, "generator", &Rows1k(1), page_rows::<1024>);
    g.finish();
    c.final_summary();
}

/// Rows each stream yields.
const ROWS: usize = 3;

/// The ways to list the rows of a page of `N` bytes, side by side.
fn sized<const N: usize, R, S>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    shape: &str,
    rows: &R,
    direct: fn(u8) -> S,
) where
    R: PooledRows + BoxedRows,
    S: Stream<Item = u64>,
{
    // The page is the stream's state, not a pointer to it: the stream is
    // the page and a few words.
    let state = size_of_val(&direct(1));
    assert!((N..N + 64).contains(&state), "a stream of {state} B for a page of {N} B");
    let pooled: &dyn PooledRows = rows;
    let boxed: &dyn BoxedRows = rows;
    // Both erased forms list the same rows.
    let listed = [pooled.rows(7).boxed(), boxed.rows(7)].map(|s| block_on(s.collect::<Vec<_>>()));
    assert!(listed[0].len() == ROWS && listed[0] == listed[1], "{listed:?}");

    let id = |form: &str| BenchmarkId::new(format!("{form}/{shape}"), N);
    g.bench_function(id("direct"), |b| b.iter_custom(|iters| drain_in_loop(iters, direct)));
    g.bench_function(id("erased"), |b| b.iter_custom(|iters| drain_erased_in_loop(iters, direct)));
    g.bench_function(id("pooled"), |b| {
        let pooled = black_box(pooled);
        b.iter_custom(|iters| drain_in_loop(iters, |seed| pooled.rows(seed)))
    });
    g.bench_function(id("boxed"), |b| {
        let boxed = black_box(boxed);
        b.iter_custom(|iters| drain_in_loop(iters, |seed| boxed.rows(seed)))
    });
}

/// Drains `iters` streams from `list` one after the other in one task,
/// summing their items; times the loop.
fn drain_in_loop<S: Stream<Item = u64>>(iters: u64, list: impl Fn(u8) -> S) -> Duration {
    let start = Instant::now();
    let acc = block_on(async {
        let mut acc = 0u64;
        for i in 0..iters {
            let mut rows = pin!(list(i as u8));
            while let Some(row) = rows.next().await {
                acc = acc.wrapping_add(row);
            }
        }
        acc
    });
    black_box(acc);
    start.elapsed()
}

/// [`drain_in_loop`] with each stream made through an opaque fn pointer and
/// polled through `Pin<&mut dyn Stream>`: the erasure, no allocation.
fn drain_erased_in_loop<S: Stream<Item = u64>>(iters: u64, make: fn(u8) -> S) -> Duration {
    let start = Instant::now();
    let acc = block_on(async {
        let mut acc = 0u64;
        for i in 0..iters {
            let make = black_box(make);
            let rows = pin!(make(i as u8));
            let mut rows: Pin<&mut dyn Stream<Item = u64>> = black_box(rows);
            while let Some(row) = rows.next().await {
                acc = acc.wrapping_add(row);
            }
        }
        acc
    });
    black_box(acc);
    start.elapsed()
}

/// The stream every form lists: a page of `N` bytes filled from `seed`,
/// read once it has arrived, three rows from it. The `black_box`es keep
/// the compiler from shrinking the page or skipping its reads.
fn page_rows<const N: usize>(seed: u8) -> impl Stream<Item = u64> + Send {
    async_stream::stream! {
        let mut page = [seed; N];
        page[0] = seed.wrapping_add(1);
        black_box(&mut page);
        yield_once().await;
        for row in 0..ROWS {
            let page = black_box(&page);
            yield u64::from(page[row]) << 8 | u64::from(page[N - 1 - row]);
        }
    }
}

/// The combinator chain: three rows of an owned page of `N` bytes filled
/// from `seed`.
fn page_iter<const N: usize>(seed: u8) -> impl Stream<Item = u64> + Send {
    // The page is filled in one pass and then only read: no narrow store
    // followed by a wide load of the same bytes, which would stall every
    // form alike on store forwarding and hide what the erasure costs.
    let page = [black_box(seed); N];
    stream::iter(page).take(ROWS).map(|b| u64::from(b) << 8 | u64::from(b ^ 0x5a))
}

/// Rows through `dyn`, pooled: the method returns a `PooledStream<'_, u64>`.
#[flowcoro::pooled]
trait PooledRows: Send + Sync {
    fn rows(&self, seed: u8) -> impl Stream<Item = u64> + Send;
}

/// Rows through `dyn`, boxed, as storage traits write it today.
trait BoxedRows: Send + Sync {
    fn rows(&self, seed: u8) -> BoxStream<'_, u64>;
}

/// What the rows hold: a seed mixed into the page, so each source's rows
/// differ.
macro_rules! sources {
    ($($source:ident = $make:ident::<$n:literal>),*) => {$(
        struct $source(u8);

        #[flowcoro::pooled]
        impl PooledRows for $source {
            fn rows(&self, seed: u8) -> impl Stream<Item = u64> + Send {
                $make::<$n>(seed ^ self.0)
            }
        }

        impl BoxedRows for $source {
            fn rows(&self, seed: u8) -> BoxStream<'_, u64> {
                $make::<$n>(seed ^ self.0).boxed()
            }
        }
    )*};
}

sources!(
    Iter64 = page_iter::<64>,
    Iter1k = page_iter::<1024>,
    Rows64 = page_rows::<64>,
    Rows1k = page_rows::<1024>
);
