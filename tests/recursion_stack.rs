//! The stack a recursive `#[pooled]` fn uses per level of recursion, against
//! the boxed recursion it replaces (what `#[async_recursion]` expands to: an
//! `async move` block in a `Pin<Box<dyn Future + Send>>`), in whatever
//! profile the tests are built with; in a debug build, where tests run and
//! a deep recursion overflows first, that is the figure that matters.
//!
//! The same for a recursion through `&dyn Trait`: a `#[pooled]` trait's
//! `PooledDyn` against an `#[async_trait]` twin's `Pin<Box<dyn Future>>`.
//!
//! Each fn recurses to a depth, and its innermost call reads the address
//! of a local: the difference between two depths, on one thread, is the
//! stack that many levels of polls hold.

mod support;

use std::future::Future;

use support::{block_on, yield_once};

/// The address of a local of a frame below the caller's.
#[inline(never)]
fn stack_address() -> usize {
    let here = 0_u8;
    std::hint::black_box(&raw const here).addr()
}

/// Recurses `n` levels deep; with `yields`, the deepest call suspends once,
/// so the stack is measured on a poll that resumes every level, not only on
/// the first one.
#[flowcoro::pooled]
async fn pooled_depth(n: u32, yields: bool) -> usize {
    if n == 0 {
        if yields {
            yield_once().await;
        }
        return stack_address();
    }
    pooled_depth(n - 1, yields).await
}

/// The same recursion under `#[async_recursion]`: each call's future in a
/// `Pin<Box<dyn Future + Send>>`.
#[async_recursion::async_recursion]
async fn boxed_depth(n: u32, yields: bool) -> usize {
    if n == 0 {
        if yields {
            yield_once().await;
        }
        return stack_address();
    }
    boxed_depth(n - 1, yields).await
}

/// A walk that recurses through `&dyn $walk`, its trait and impl under
/// `$attr`: one body for both forms, so they differ only in the attribute.
macro_rules! dyn_walk {
    ($attr:meta, $walk:ident) => {
        #[$attr]
        trait $walk: Sync {
            async fn walk(&self, n: u32) -> usize;
        }

        #[$attr]
        impl $walk for Walker {
            async fn walk(&self, n: u32) -> usize {
                if n == 0 {
                    return stack_address();
                }
                let next: &dyn $walk = self;
                next.walk(n - 1).await
            }
        }
    };
}

struct Walker;

// Under `#[pooled]`, each call's future erased in a `PooledDyn`.
dyn_walk!(flowcoro::pooled, PooledWalk);
// Under `#[async_trait]`, each in a `Pin<Box<dyn Future + Send>>`.
dyn_walk!(async_trait::async_trait, BoxedWalk);

const SHALLOW: u32 = 8;
const DEEP: u32 = 264;

/// Bytes of stack per level of `depth`, on a thread of known stack.
fn per_level<F: Future<Output = usize>>(depth: impl Fn(u32) -> F + Send + Sync) -> usize {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn_scoped(s, || {
                let shallow = block_on(depth(SHALLOW));
                let deep = block_on(depth(DEEP));
                assert!(deep < shallow, "the stack grows down here");
                (shallow - deep) / (DEEP - SHALLOW) as usize
            })
            .expect("spawn")
            .join()
            .expect("no overflow")
    })
}

#[test]
fn a_pooled_recursion_uses_no_more_stack_per_level_than_the_boxed_one() {
    for yields in [false, true] {
        let pooled = per_level(|n| pooled_depth(n, yields));
        let boxed = per_level(|n| boxed_depth(n, yields));
        println!("stack per level (yields: {yields}): pooled {pooled} B, boxed {boxed} B");
        assert!(pooled <= boxed, "pooled {pooled} B per level, boxed {boxed} B (yields: {yields})");
    }
}

#[test]
fn a_pooled_dyn_recursion_uses_no_more_stack_per_level_than_the_boxed_one() {
    let pooled = per_level(|n| {
        let walker: &'static dyn PooledWalk = &Walker;
        walker.walk(n)
    });
    let boxed = per_level(|n| {
        let walker: &'static dyn BoxedWalk = &Walker;
        walker.walk(n)
    });
    println!("stack per level through dyn: pooled {pooled} B, boxed {boxed} B");
    assert!(pooled <= boxed, "pooled {pooled} B per level, boxed {boxed} B");
}
