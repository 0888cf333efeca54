//! The body of the `call_overhead` benches, shared by the binaries that run
//! it under each global allocator: a leaf `async fn` awaited from a loop,
//! for frames of 64 B to 16 KiB, called three ways.
//!
//! - `direct`: a plain `async fn`, its state machine nested in the caller's;
//!   no allocation at all, the floor.
//! - `box_pin`: `Box::pin(leaf(..)).await`, an allocation and a free of the
//!   global allocator per call.
//! - `pooled`: the `#[pooled]` leaf, a frame from its pool per call.
//!
//! Every call suspends once, so the leaf's buffer really lives in its frame
//! across an await. The loop runs in one task on a no-op executor.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use std::future::Future;

use crate::support::{await_in_loop, leaf, pooled_1k, pooled_4k, pooled_16k, pooled_64};

/// Runs the group `name`.
pub(crate) fn bench(c: &mut Criterion, name: &str) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    sized::<64, _>(&mut g, pooled_64);
    sized::<1024, _>(&mut g, pooled_1k);
    sized::<4096, _>(&mut g, pooled_4k);
    sized::<16384, _>(&mut g, pooled_16k);
    g.finish();
}

/// The three ways to call the leaf of `N` bytes, side by side.
///
/// `pooled` is a function item, not a pointer, so its call inlines as the
/// others do.
fn sized<const N: usize, F: Future<Output = u8>>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    pooled: impl Fn(u8) -> F + Copy,
) {
    g.bench_function(BenchmarkId::new("direct", N), |b| {
        b.iter_custom(|iters| await_in_loop(iters, leaf::<N>))
    });
    g.bench_function(BenchmarkId::new("box_pin", N), |b| {
        b.iter_custom(|iters| await_in_loop(iters, |seed| Box::pin(leaf::<N>(seed))))
    });
    g.bench_function(BenchmarkId::new("pooled", N), |b| {
        b.iter_custom(|iters| await_in_loop(iters, pooled))
    });
}
