//! `name`, `max_idle`, `prewarm` and `crate` options.

use flowcoro::pooled;

mod facade {
    pub(crate) use ::flowcoro as inner;
}

#[pooled(name = "custom pool", max_idle = 4)]
async fn named(x: u32) -> u32 {
    x + 1
}

#[pooled(crate = "self::facade::inner")]
async fn reexported(x: u32) -> u32 {
    x * 2
}

#[pooled(max_idle = 0usize, name = "no cache")]
async fn uncached() {}

#[pooled]
async fn default_name() {}

#[pooled(prewarm = 8, name = "prewarmed")]
async fn prewarmed(x: u64) -> u64 {
    x * 3
}

pub(crate) fn main() {
    use futures::executor::block_on;
    let fut = named(1);
    assert_eq!(fut.pool().name(), "custom pool");
    assert_eq!(fut.pool().max_idle(), Some(4));
    assert_eq!(block_on(fut), 2);
    assert_eq!(block_on(reexported(2)), 4);
    let fut = uncached();
    assert_eq!((fut.pool().name(), fut.pool().max_idle()), ("no cache", Some(0)));
    block_on(fut);
    let fut = default_name();
    let expected = concat!(module_path!(), "::default_name");
    assert_eq!(fut.pool().name(), expected);
    // No `max_idle`: the pool tunes its idle bound from its recent peak.
    assert_eq!(fut.pool().max_idle(), None);
    block_on(fut);
    let fut = prewarmed(2);
    assert_eq!(fut.pool().prewarm(), 8);
    // The first call reserved eight frames at once and took one of them.
    let stats = fut.pool().stats();
    assert_eq!((stats.allocations, stats.fresh, stats.live, stats.idle), (1, 0, 1, 7));
    assert_eq!(block_on(fut), 6);

    let stats = flowcoro::pools();
    let custom = stats.iter().find(|s| s.name == "custom pool").expect("the pool is registered");
    assert_eq!((custom.allocations, custom.live), (1, 0));
}
