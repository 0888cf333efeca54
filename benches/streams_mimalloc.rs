//! The `streams` bench with mimalloc as the global allocator, which the
//! `BoxStream`s (and the pools' fresh frames) then come from.

#[path = "streams.rs"]
mod streams;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    streams::run("streams_mimalloc");
}
