//! The `dyn_trait` bench with mimalloc as the global allocator, which
//! `async-trait`'s boxes (and the pools' fresh frames) then come from.

#[path = "dyn_trait.rs"]
mod dyn_trait;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    dyn_trait::run("dyn_trait_mimalloc");
}
