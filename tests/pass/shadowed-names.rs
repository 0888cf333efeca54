//! User items and arguments named like what the expansion uses do not
//! change it, and it does not change them.
#![allow(non_camel_case_types, non_upper_case_globals, clippy::module_inception)]

use ::flowcoro::pooled;

mod core {}
mod std {}
mod flowcoro {}
struct Future;
struct Pooled;
struct FramePool;
static POOL: u32 = 7;
macro_rules! concat {
    ($($t:tt)*) => {
        "shadowed"
    };
}
macro_rules! module_path {
    () => {
        "shadowed"
    };
}

#[pooled]
async fn uses_pool(__pool: u32, __ret: u32, __arg3: u32, (a, b): (u32, u32)) -> u32 {
    let _: (Future, Pooled, FramePool) = (Future, Pooled, FramePool);
    let _ = (concat!(), module_path!());
    POOL + __pool + __ret + __arg3 + a + b
}

struct S;

impl S {
    #[pooled]
    async fn method(&self, __self: u32) -> u32 {
        POOL * __self
    }
}

pub(crate) fn main() {
    let fut = uses_pool(1, 2, 3, (4, 5));
    ::core::assert!(fut.pool().name().ends_with("::uses_pool"));
    ::core::assert_eq!(::futures::executor::block_on(fut), 22);
    ::core::assert_eq!(::futures::executor::block_on(S.method(2)), 14);
}
