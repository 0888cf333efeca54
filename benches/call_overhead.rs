//! Call overhead of a leaf `async fn` under the system allocator: a direct
//! await, `Box::pin` and `#[pooled]`, for frames of 64 B to 16 KiB.
//! `call_overhead_mimalloc` and `call_overhead_jemalloc` run the same body
//! under those allocators.

mod support;

#[path = "support/call_overhead.rs"]
mod call_overhead;

fn system(c: &mut criterion::Criterion) {
    call_overhead::bench(c, "call_overhead");
}

criterion::criterion_group! {
    name = benches;
    config = support::config();
    targets = system
}
criterion::criterion_main!(benches);
