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
//! The `/out` rows measure the size of what a call returns instead of the
//! size of its frame: a method that completes at once, without suspending,
//! returns an `Out<N>` of 8 B, 256 B or 1 KiB filled from the seed, and the
//! loop passes each output to `black_box`. `direct/out` awaits a plain
//! `async fn`; `pooled_dyn/out`, `async_trait/out` and `dynosaur/out` call
//! the same body through `&dyn` or dynosaur's wrapper as above, with an
//! impl block per size. `erased/out` makes the `direct/out` future through
//! an opaque fn pointer, pins it on the stack and awaits it through
//! `Pin<&mut dyn Future>`: a type-erased call and poll with no allocation
//! at all, the floor of any erased form. `async_trait/out ÷ erased/out` is
//! as far as taking the allocation out can take a row: it bounds
//! `async_trait/out ÷ pooled_dyn/out`.
//!
//! The `layered` rows call a tree of layers, the shape of a protocol stack:
//! five levels of inner nodes above 32 leaves, 63 calls per iteration. Each
//! node awaits its two children one after the other and combines their
//! outputs; each leaf suspends once, so every suspension returns up through
//! all the layers above it and every resumption polls down through them
//! again.
//!
//! - `layered/static`: nested concrete generic types
//!   (`Node<Node<Node<Node<Node<LayerLeaf>>>>>`), each a plain `async fn`
//!   awaiting its children's: one state machine, no `dyn`, no allocation.
//! - `layered/pooled_dyn`: nodes holding `[Box<dyn PooledLayer>; 2]`, built
//!   once outside the loop, each layer called through `&dyn` of a
//!   `#[pooled]` trait: 63 frames from pools per iteration.
//! - `layered/async_trait`: the same tree of an `#[async_trait]` trait: 63
//!   allocations and frees per iteration.
//!
//! The overhead of a `dyn` form is its time minus that of `direct`,
//! `direct/out` or `layered/static`. The loop runs in one task on a no-op
//! executor. `dyn_trait_mimalloc` runs the same body with mimalloc as the
//! global allocator.

use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Throughput};

// The helpers every comparative bench shares (a path from this file, so it
// also resolves where `dyn_trait_mimalloc` includes this file).
#[path = "support/mod.rs"]
mod support;
use support::{await_in_loop, block_on, yield_once};

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
    output::<8>(&mut g);
    output::<256>(&mut g);
    output::<1024>(&mut g);
    layered(&mut g);
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

/// The ways to call a method that returns an `Out<N>` at once, side by side.
fn output<const N: usize>(g: &mut BenchmarkGroup<'_, WallTime>)
where
    Source: PooledOut<Out<N>> + BoxedOut<Out<N>>,
{
    let source = Source(1);
    let pooled: &dyn PooledOut<Out<N>> = &source;
    let boxed: &dyn BoxedOut<Out<N>> = &source;
    let dynosaur: &DynPlainOut<'_, Out<N>> = DynPlainOut::from_ref(&source);
    g.bench_function(BenchmarkId::new("direct/out", N), |b| {
        let source = black_box(&source);
        b.iter_custom(|iters| consume_in_loop(iters, |seed| source.direct::<N>(seed)))
    });
    g.bench_function(BenchmarkId::new("erased/out", N), |b| {
        let source = black_box(&source);
        b.iter_custom(|iters| consume_erased_in_loop(iters, source, Source::direct::<N>))
    });
    g.bench_function(BenchmarkId::new("pooled_dyn/out", N), |b| {
        let pooled = black_box(pooled);
        b.iter_custom(|iters| consume_in_loop(iters, |seed| pooled.out(seed)))
    });
    g.bench_function(BenchmarkId::new("async_trait/out", N), |b| {
        let boxed = black_box(boxed);
        b.iter_custom(|iters| consume_in_loop(iters, |seed| boxed.out(seed)))
    });
    g.bench_function(BenchmarkId::new("dynosaur/out", N), |b| {
        let dynosaur = black_box(dynosaur);
        b.iter_custom(|iters| consume_in_loop(iters, |seed| dynosaur.out(seed)))
    });
}

/// Awaits `iters` calls of `call` one after the other in one task, each
/// output passed to `black_box`; times the loop.
fn consume_in_loop<F: Future>(iters: u64, call: impl Fn(u8) -> F) -> Duration {
    let start = Instant::now();
    block_on(async {
        for i in 0..iters {
            black_box(call(i as u8).await);
        }
    });
    start.elapsed()
}

/// [`consume_in_loop`] with each future made through an opaque fn pointer
/// and awaited through `Pin<&mut dyn Future>`: the erasure, no allocation.
fn consume_erased_in_loop<'a, F: Future + 'a>(
    iters: u64,
    source: &'a Source,
    make: fn(&'a Source, u8) -> F,
) -> Duration {
    let start = Instant::now();
    block_on(async {
        for i in 0..iters {
            let make = black_box(make);
            let call = pin!(make(source, i as u8));
            let call: Pin<&mut dyn Future<Output = F::Output>> = black_box(call);
            black_box(call.await);
        }
    });
    start.elapsed()
}

/// An output of `N` bytes.
#[derive(Clone, Copy)]
struct Out<const N: usize>([u8; N]);

/// What the output rows call: a body that returns at once.
struct Source(u8);

impl Source {
    async fn direct<const N: usize>(&self, seed: u8) -> Out<N> {
        Out([seed ^ self.0; N])
    }
}

/// The output trait under each attribute, with an impl block per size.
macro_rules! dyn_out {
    ($attr:meta, $trait:ident: $($n:literal),*) => {
        #[$attr]
        trait $trait<T>: Send + Sync {
            async fn out(&self, seed: u8) -> T;
        }
        $(
            #[$attr]
            impl $trait<Out<$n>> for Source {
                async fn out(&self, seed: u8) -> Out<$n> {
                    Out([seed ^ self.0; $n])
                }
            }
        )*
    };
}

dyn_out!(flowcoro::pooled, PooledOut: 8, 256, 1024);
dyn_out!(async_trait::async_trait, BoxedOut: 8, 256, 1024);

/// The output trait as written for dynosaur.
#[dynosaur::dynosaur(DynPlainOut = dyn(box) PlainOut)]
trait PlainOut<T>: Send + Sync {
    fn out(&self, seed: u8) -> impl Future<Output = T> + Send;
}

impl<const N: usize> PlainOut<Out<N>> for Source {
    async fn out(&self, seed: u8) -> Out<N> {
        Out([seed ^ self.0; N])
    }
}

/// The levels of inner nodes of the layered tree, above its leaves.
const LAYERS: u32 = 5;

/// The layered tree with static dispatch: `LAYERS` levels of `Node`.
type StaticTree = Node<Node<Node<Node<Node<LayerLeaf>>>>>;

const _: () = assert!(StaticTree::DEPTH == LAYERS);

/// The three forms of the layered tree, side by side.
fn layered(g: &mut BenchmarkGroup<'_, WallTime>) {
    let tree = StaticTree::default();
    let pooled = pooled_tree(LAYERS);
    let boxed = boxed_tree(LAYERS);
    g.bench_function(BenchmarkId::new("layered/static", LAYERS), |b| {
        let tree = black_box(&tree);
        b.iter_custom(|iters| await_in_loop(iters, |seed| tree.call(seed)))
    });
    g.bench_function(BenchmarkId::new("layered/pooled_dyn", LAYERS), |b| {
        let pooled: &dyn PooledLayer = black_box(&*pooled);
        b.iter_custom(|iters| await_in_loop(iters, |seed| pooled.call(seed)))
    });
    g.bench_function(BenchmarkId::new("layered/async_trait", LAYERS), |b| {
        let boxed: &dyn BoxedLayer = black_box(&*boxed);
        b.iter_custom(|iters| await_in_loop(iters, |seed| boxed.call(seed)))
    });
}

/// The body of an inner node: its two children awaited one after the
/// other, the second given the first's output, their outputs combined.
macro_rules! node_body {
    ($self:ident, $seed:expr) => {{
        let [left, right] = &$self.children;
        let a = left.call($seed).await;
        let b = right.call($seed.wrapping_add(a)).await;
        a.rotate_left(1) ^ b
    }};
}

/// The body of a leaf: one suspension, as an I/O wait that completes at once.
macro_rules! layer_leaf_body {
    ($self:ident, $seed:expr) => {{
        yield_once().await;
        $seed.wrapping_mul(3) ^ $self.0
    }};
}

/// A leaf of the layered tree, in every form.
#[derive(Default)]
struct LayerLeaf(u8);

/// A layer with static dispatch: plain `async fn`s, each awaiting its
/// children's in place.
trait Layer {
    /// The levels of inner nodes from this layer down.
    const DEPTH: u32;

    fn call(&self, seed: u8) -> impl Future<Output = u8> + Send;
}

/// An inner node with static dispatch, over children of type `C`.
#[derive(Default)]
struct Node<C> {
    children: [C; 2],
}

impl<C: Layer + Sync> Layer for Node<C> {
    const DEPTH: u32 = C::DEPTH + 1;

    async fn call(&self, seed: u8) -> u8 {
        node_body!(self, seed)
    }
}

impl Layer for LayerLeaf {
    const DEPTH: u32 = 0;

    async fn call(&self, seed: u8) -> u8 {
        layer_leaf_body!(self, seed)
    }
}

/// The layer trait under each attribute: its inner node, holding its
/// children as `Box<dyn Trait>`, the impls, and the tree's builder.
macro_rules! dyn_layer {
    ($attr:meta, $trait:ident, $node:ident, $build:ident) => {
        #[$attr]
        trait $trait: Send + Sync {
            async fn call(&self, seed: u8) -> u8;
        }

        struct $node {
            children: [Box<dyn $trait>; 2],
        }

        #[$attr]
        impl $trait for $node {
            async fn call(&self, seed: u8) -> u8 {
                node_body!(self, seed)
            }
        }

        #[$attr]
        impl $trait for LayerLeaf {
            async fn call(&self, seed: u8) -> u8 {
                layer_leaf_body!(self, seed)
            }
        }

        /// A tree of `depth` levels of inner nodes above its leaves.
        fn $build(depth: u32) -> Box<dyn $trait> {
            if depth == 0 {
                Box::new(LayerLeaf::default())
            } else {
                Box::new($node { children: [$build(depth - 1), $build(depth - 1)] })
            }
        }
    };
}

dyn_layer!(flowcoro::pooled, PooledLayer, PooledNode, pooled_tree);
dyn_layer!(async_trait::async_trait, BoxedLayer, BoxedNode, boxed_tree);
