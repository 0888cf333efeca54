//! The `call_overhead` bench with jemalloc as the global allocator. The pools
//! take their fresh frames from it too.

mod support;

#[path = "support/call_overhead.rs"]
mod call_overhead;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn jemalloc(c: &mut criterion::Criterion) {
    call_overhead::bench(c, "call_overhead_jemalloc");
}

criterion::criterion_group! {
    name = benches;
    config = support::config();
    targets = jemalloc
}
criterion::criterion_main!(benches);
