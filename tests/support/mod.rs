//! Helpers shared by the top-level tests: a no-op-waker executor, a
//! suspension point, and the stats of a pool by name.
// Each test binary uses its own share of these helpers.
#![allow(dead_code)]

use flowcoro::PoolStats;

mod exec;

// As the helpers above, each binary uses its own share.
#[allow(unused_imports)]
pub(crate) use exec::{block_on, yield_once};

/// The stats of the pool named `name`; panics, listing the pools, if there
/// is none.
pub(crate) fn stats(name: &str) -> PoolStats {
    let pools = flowcoro::pools();
    let names: Vec<&str> = pools.iter().map(|s| s.name).collect();
    pools
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no `{name}` in {names:?}"))
        .clone()
}
