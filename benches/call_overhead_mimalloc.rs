//! The `call_overhead` bench with mimalloc as the global allocator: the
//! baseline a performance-minded user picks instead of a frame pool. The
//! pools take their fresh frames from it too.

mod support;

#[path = "support/call_overhead.rs"]
mod call_overhead;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn mimalloc(c: &mut criterion::Criterion) {
    call_overhead::bench(c, "call_overhead_mimalloc");
}

criterion::criterion_group! {
    name = benches;
    config = support::config();
    targets = mimalloc
}
criterion::criterion_main!(benches);
