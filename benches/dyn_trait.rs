//! The cost of one call through `dyn` of an `async fn` in a trait: the same
//! trait and impl, made `dyn`-compatible by `#[pooled]` and by `async-trait`,
//! beside the floor of a direct call. Each call is awaited to completion;
//! the body holds a buffer of 64 B or 1 KiB across one suspension, so the
//! buffer is part of the frame.
//!
//! - `direct`: the plain `async fn`, statically dispatched and awaited in
//!   place, its state machine nested in the caller's: no allocation at all.
//! - `pooled`: the same `async fn` in a `#[pooled]` inherent impl block,
//!   statically dispatched, its frame from its pool.
//! - `pooled_dyn`: through `&dyn Trait` of a `#[pooled]` trait: a frame from
//!   the impl method's pool, returned as a `PooledDyn`.
//! - `async_trait`: through `&dyn Trait` of an `#[async_trait]` trait: a
//!   `Pin<Box<dyn Future>>`, an allocation and a free per call.
//! - `dynosaur`: through dynosaur's `DynTrait` wrapper of a plain `async fn`
//!   trait (`dyn(box)`), which boxes the future of a dynamic call: an
//!   allocation and a free per call.
//! - `stackfuture`: through `&dyn Trait` of a trait whose methods return a
//!   `StackFuture<'_, u8, 1536>`, an inline buffer sized for the larger
//!   impl (as one trait serving both sizes must be): no allocation, and the
//!   buffer is copied out of the call.
//!
//! The overhead of a `dyn` form is its time minus `direct`'s. The loop runs
//! in one task on a no-op executor. `dyn_trait_mimalloc` runs the same body
//! with mimalloc as the global allocator.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Throughput};

// The helpers every comparative bench shares (a path from this file, so it
// also resolves where `dyn_trait_mimalloc` includes this file).
#[path = "support/mod.rs"]
mod support;
use support::{await_in_loop, yield_once};

// Unused where another bench binary includes this file as a module.
#[allow(dead_code)]
fn main() {
    run("dyn_trait");
}

/// Runs the group `name` and prints criterion's summary.
pub(crate) fn run(name: &str) {
    let mut c = support::config().configure_from_args();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    sized::<64, _>(&mut g, &Leaf64(1));
    sized::<1024, _>(&mut g, &Leaf1k(1));
    g.finish();
    c.final_summary();
}

/// The ways to call the leaf of `N` bytes, side by side.
fn sized<const N: usize, L>(g: &mut BenchmarkGroup<'_, WallTime>, leaf: &L)
where
    L: Direct + PooledLeaf + BoxedLeaf + PlainLeaf + StackLeaf + Sync,
{
    let pooled: &dyn PooledLeaf = leaf;
    let boxed: &dyn BoxedLeaf = leaf;
    let dynosaur = DynPlainLeaf::from_ref(leaf);
    let stack: &dyn StackLeaf = leaf;
    g.bench_function(BenchmarkId::new("direct", N), |b| {
        b.iter_custom(|iters| await_in_loop(iters, |seed| leaf.direct(seed)))
    });
    g.bench_function(BenchmarkId::new("pooled", N), |b| {
        b.iter_custom(|iters| await_in_loop(iters, |seed| leaf.pooled(seed)))
    });
    g.bench_function(BenchmarkId::new("pooled_dyn", N), |b| {
        let pooled = black_box(pooled);
        b.iter_custom(|iters| await_in_loop(iters, |seed| pooled.call(seed)))
    });
    g.bench_function(BenchmarkId::new("async_trait", N), |b| {
        let boxed = black_box(boxed);
        b.iter_custom(|iters| await_in_loop(iters, |seed| boxed.call(seed)))
    });
    g.bench_function(BenchmarkId::new("dynosaur", N), |b| {
        let dynosaur = black_box(dynosaur);
        b.iter_custom(|iters| await_in_loop(iters, |seed| dynosaur.call(seed)))
    });
    g.bench_function(BenchmarkId::new("stackfuture", N), |b| {
        let stack = black_box(stack);
        b.iter_custom(|iters| await_in_loop(iters, |seed| stack.call(seed)))
    });
}

/// The statically dispatched forms of a leaf, for `sized`.
trait Direct {
    fn direct(&self, seed: u8) -> impl Future<Output = u8> + Send;
    fn pooled(&self, seed: u8) -> impl Future<Output = u8> + Send;
}

/// The body of every form: a buffer of `$n` bytes that lives across a
/// suspension. The `black_box`es keep the compiler from shrinking it.
macro_rules! leaf_body {
    ($self:ident, $n:expr, $seed:expr) => {{
        let mut buf = [0u8; $n];
        buf[0] = $seed;
        black_box(&mut buf);
        yield_once().await;
        black_box(&buf)[$n - 1] ^ $seed ^ $self.0
    }};
}

/// The same trait under each attribute, with the same impls.
macro_rules! dyn_leaf {
    ($attr:meta, $trait:ident: $($leaf:ident = $n:literal),*) => {
        #[$attr]
        trait $trait: Send + Sync {
            async fn call(&self, seed: u8) -> u8;
        }
        $(
            #[$attr]
            impl $trait for $leaf {
                async fn call(&self, seed: u8) -> u8 {
                    leaf_body!(self, $n, seed)
                }
            }
        )*
    };
}

dyn_leaf!(flowcoro::pooled, PooledLeaf: Leaf64 = 64, Leaf1k = 1024);
dyn_leaf!(async_trait::async_trait, BoxedLeaf: Leaf64 = 64, Leaf1k = 1024);

/// The trait as written for dynosaur: a plain `async fn` trait, whose
/// `DynPlainLeaf` wrapper boxes the future of a dynamic call.
#[dynosaur::dynosaur(DynPlainLeaf = dyn(box) PlainLeaf)]
trait PlainLeaf: Send + Sync {
    fn call(&self, seed: u8) -> impl Future<Output = u8> + Send;
}

/// The trait as written for stackfuture: the future in a buffer of the
/// returned value, sized for the largest impl.
trait StackLeaf: Send + Sync {
    fn call(&self, seed: u8) -> stackfuture::StackFuture<'_, u8, 1536>;
}

macro_rules! other_leaves {
    ($($leaf:ident = $n:literal),*) => {$(
        impl PlainLeaf for $leaf {
            async fn call(&self, seed: u8) -> u8 {
                leaf_body!(self, $n, seed)
            }
        }

        impl StackLeaf for $leaf {
            fn call(&self, seed: u8) -> stackfuture::StackFuture<'_, u8, 1536> {
                stackfuture::StackFuture::from(async move { leaf_body!(self, $n, seed) })
            }
        }
    )*};
}

other_leaves!(Leaf64 = 64, Leaf1k = 1024);

macro_rules! leaves {
    ($($leaf:ident = $n:literal),*) => {$(
        struct $leaf(u8);

        impl $leaf {
            async fn direct(&self, seed: u8) -> u8 {
                leaf_body!(self, $n, seed)
            }
        }

        #[flowcoro::pooled]
        impl $leaf {
            async fn pooled(&self, seed: u8) -> u8 {
                leaf_body!(self, $n, seed)
            }
        }

        impl Direct for $leaf {
            fn direct(&self, seed: u8) -> impl Future<Output = u8> + Send {
                $leaf::direct(self, seed)
            }

            fn pooled(&self, seed: u8) -> impl Future<Output = u8> + Send {
                $leaf::pooled(self, seed)
            }
        }
    )*};
}

leaves!(Leaf64 = 64, Leaf1k = 1024);
