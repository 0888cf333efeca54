//! The `dyn` expansion names everything by absolute path: it compiles
//! without the prelude, and beside user items named like what it uses.
#![no_implicit_prelude]
#![allow(non_camel_case_types, dead_code)]

use ::flowcoro::pooled;

mod core {}
mod std {}
mod flowcoro {}
struct Future;
struct Pooled;
struct PooledDyn;
struct FramePool;
struct Send;

#[pooled]
trait Meter: ::core::marker::Sync {
    async fn get(&self, __pool: u32) -> u32;
    async fn double(&self, life0: u32) -> u32 {
        self.get(life0).await * 2
    }
}

struct Meters(u32);

#[pooled]
impl Meter for Meters {
    async fn get(&self, __pool: u32) -> u32 {
        self.0 + __pool
    }
}

pub(crate) fn main() {
    let meter: &dyn Meter = &Meters(4);
    ::std::assert_eq!(::futures::executor::block_on(meter.double(1)), 10);
}
