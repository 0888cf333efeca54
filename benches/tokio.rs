//! `#[pooled]` under tokio's multi-threaded runtime (two workers).
//!
//! - `tokio_spawn`: from a task, spawn 256 tasks, each a chain of three `async fn`s that
//!   hold 1 KiB and 512 B buffers across `yield_now()`s, and join them.
//!   `plain` nests the chain in the task (tokio allocates the task once, as
//!   large as the chain); `box_pin` boxes every call, the spawned one too;
//!   `pooled` makes every call `#[pooled]`, so the task holds a handle.
//! - `tokio_recursion`: a recursive `fib(20)` (21 891 calls, none
//!   suspending), and a walk 1 000 calls deep, each level holding 256 B,
//!   that suspends at the bottom with every frame alive. Recursion needs a
//!   `Box` without flowcoro; with it, it needs nothing. The walk keeps more
//!   than a thousand frames alive at once: the self-tuned pool keeps what
//!   that peak needs; it also runs with an explicit `max_idle = 2048`.

mod support;

use std::future::Future;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use tokio::runtime::Runtime;
use tokio::task::yield_now;

/// Tasks spawned per iteration of `tokio_spawn`.
const TASKS: u64 = 256;

macro_rules! direct {
    ($call:expr) => {
        $call
    };
}

macro_rules! boxed {
    ($call:expr) => {
        Box::pin($call)
    };
}

/// The task body of `tokio_spawn`, in module `$name`, each call made with
/// `$call!(...)` and each `async fn` carrying the attributes given.
macro_rules! chain {
    ($(#[$attr:meta])* mod $name:ident { call: $call:ident }) => {
        mod $name {
            use super::*;

            /// Spawns `tasks` requests and adds up their answers.
            pub(crate) async fn spawn_and_join(tasks: u64) -> u64 {
                let handles: Vec<_> =
                    (0..tasks).map(|id| tokio::spawn($call!(request(id)))).collect();
                let mut sum = 0u64;
                for handle in handles {
                    sum = sum.wrapping_add(handle.await.expect("task panicked"));
                }
                sum
            }

            $(#[$attr])*
            async fn request(id: u64) -> u64 {
                let row = $call!(lookup(id)).await;
                $call!(render(row)).await
            }

            $(#[$attr])*
            async fn lookup(id: u64) -> u64 {
                let mut page = [0u8; 1024];
                page[0] = id as u8;
                black_box(&mut page);
                yield_now().await;
                u64::from(black_box(&page)[1023]) + id
            }

            $(#[$attr])*
            async fn render(row: u64) -> u64 {
                let mut out = [0u8; 512];
                out[0] = row as u8;
                black_box(&mut out);
                yield_now().await;
                u64::from(black_box(&out)[511]) ^ row
            }
        }
    };
}

chain! { mod plain { call: direct } }
chain! { mod boxed { call: boxed } }
chain! { #[flowcoro::pooled] mod pooled { call: direct } }

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().expect("tokio runtime")
}

/// Spawns `fut` as a task of `rt` and waits for it.
fn run_task<F>(rt: &Runtime, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async { tokio::spawn(fut).await.expect("task panicked") })
}

fn tokio_spawn(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("tokio_spawn");
    g.throughput(Throughput::Elements(TASKS));
    g.bench_function(BenchmarkId::new("plain", TASKS), |b| {
        b.iter(|| run_task(&rt, plain::spawn_and_join(TASKS)))
    });
    g.bench_function(BenchmarkId::new("box_pin", TASKS), |b| {
        b.iter(|| run_task(&rt, boxed::spawn_and_join(TASKS)))
    });
    g.bench_function(BenchmarkId::new("pooled", TASKS), |b| {
        b.iter(|| run_task(&rt, pooled::spawn_and_join(TASKS)))
    });
    g.finish();
}

#[flowcoro::pooled]
async fn fib_pooled(n: u32) -> u64 {
    if n < 2 { u64::from(n) } else { fib_pooled(n - 1).await + fib_pooled(n - 2).await }
}

async fn fib_boxed(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        Box::pin(fib_boxed(n - 1)).await + Box::pin(fib_boxed(n - 2)).await
    }
}

/// The walk's body, for each variant: `$below` is the call one level down.
macro_rules! deep_body {
    ($depth:expr, $below:expr) => {{
        let mut path = [0u8; 256];
        path[0] = $depth as u8;
        black_box(&mut path);
        let below = if $depth == 0 {
            yield_now().await;
            0
        } else {
            $below.await
        };
        below + u64::from(black_box(&path)[255])
    }};
}

/// Without `max_idle`: the pool's idle bound follows its recent peak, here
/// the whole walk.
#[flowcoro::pooled]
async fn deep_pooled(depth: u32) -> u64 {
    deep_body!(depth, deep_pooled(depth - 1))
}

/// The same, with an explicit cap that fits the walk.
#[flowcoro::pooled(max_idle = 2048)]
async fn deep_pooled_roomy(depth: u32) -> u64 {
    deep_body!(depth, deep_pooled_roomy(depth - 1))
}

async fn deep_boxed(depth: u32) -> u64 {
    deep_body!(depth, Box::pin(deep_boxed(depth - 1)))
}

/// Calls `fib(n)` makes.
fn fib_calls(n: u32) -> u64 {
    if n < 2 { 1 } else { 1 + fib_calls(n - 1) + fib_calls(n - 2) }
}

fn tokio_recursion(c: &mut Criterion) {
    const FIB: u32 = 20;
    const DEPTH: u32 = 1000;
    let rt = runtime();
    let mut g = c.benchmark_group("tokio_recursion");

    g.throughput(Throughput::Elements(fib_calls(FIB)));
    let id = format!("fib_{FIB}");
    g.bench_function(BenchmarkId::new("box_pin", &id), |b| {
        b.iter(|| run_task(&rt, fib_boxed(FIB)))
    });
    g.bench_function(BenchmarkId::new("pooled", &id), |b| {
        b.iter(|| run_task(&rt, fib_pooled(FIB)))
    });

    g.throughput(Throughput::Elements(u64::from(DEPTH) + 1));
    let id = format!("deep_{DEPTH}");
    g.bench_function(BenchmarkId::new("box_pin", &id), |b| {
        b.iter(|| run_task(&rt, deep_boxed(DEPTH)))
    });
    g.bench_function(BenchmarkId::new("pooled", &id), |b| {
        b.iter(|| run_task(&rt, deep_pooled(DEPTH)))
    });
    g.bench_function(BenchmarkId::new("pooled_max_idle_2048", &id), |b| {
        b.iter(|| run_task(&rt, deep_pooled_roomy(DEPTH)))
    });
    g.finish();
}

criterion::criterion_group! {
    name = benches;
    config = support::config();
    targets = tokio_spawn, tokio_recursion
}
criterion::criterion_main!(benches);
