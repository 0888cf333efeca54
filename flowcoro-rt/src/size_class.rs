//! The shared size-class pools: one per power-of-two size from 64 B to
//! 1 MiB, for the layouts of a pool whose own classes are all taken (a
//! generic fn with many instantiations). They show in `report()` as
//! `flowcoro::size_class::N` and hold those frames' memory; the pool whose
//! call it was counts the call.

use crate::layout::{ClassKey, MAX_POOLED_SIZE};
use crate::pool::FramePool;

/// The size-class pools, smallest first.
pub(crate) static SIZE_CLASSES: [FramePool; CLASS_COUNT] = [
    FramePool::new("flowcoro::size_class::64"),
    FramePool::new("flowcoro::size_class::128"),
    FramePool::new("flowcoro::size_class::256"),
    FramePool::new("flowcoro::size_class::512"),
    FramePool::new("flowcoro::size_class::1K"),
    FramePool::new("flowcoro::size_class::2K"),
    FramePool::new("flowcoro::size_class::4K"),
    FramePool::new("flowcoro::size_class::8K"),
    FramePool::new("flowcoro::size_class::16K"),
    FramePool::new("flowcoro::size_class::32K"),
    FramePool::new("flowcoro::size_class::64K"),
    FramePool::new("flowcoro::size_class::128K"),
    FramePool::new("flowcoro::size_class::256K"),
    FramePool::new("flowcoro::size_class::512K"),
    FramePool::new("flowcoro::size_class::1M"),
];
const CLASS_COUNT: usize = 15;
const _: () = assert!(64 << (CLASS_COUNT - 1) == MAX_POOLED_SIZE);

/// The size-class key for `key`: its size rounded up to a power of two.
pub(crate) fn sc_key(key: ClassKey) -> ClassKey {
    let size = key.size().next_power_of_two().max(64);
    let layout = core::alloc::Layout::from_size_align(size, key.align())
        .expect("a power-of-two size of a valid layout is valid");
    ClassKey::of(layout)
}

/// The index among [`SIZE_CLASSES`] of the pool that serves `key`, if any.
fn size_class_index(key: ClassKey) -> Option<usize> {
    let index = sc_key(key).size().trailing_zeros().checked_sub(6)? as usize;
    (index < SIZE_CLASSES.len()).then_some(index)
}

/// Whether `pool` is one of the size-class pools.
pub(crate) fn is_size_class(pool: &FramePool) -> bool {
    SIZE_CLASSES.as_ptr_range().contains(&(pool as *const FramePool))
}

/// The layout `pool` serves `key` as: a size-class pool rounds it up
/// to its classes.
#[inline]
pub(crate) fn served_key(pool: &FramePool, key: ClassKey) -> ClassKey {
    if is_size_class(pool) { sc_key(key) } else { key }
}

/// The size-class pool (and its index) that takes a layout `pool`
/// has no class for, if any. It takes the layout only if it has a class
/// for it: its frames are then always given back by class, never freed
/// with a layout (a heap fallback there would be freed with the future's
/// own layout, not the one it was allocated with). The answer never
/// changes once `pool`'s classes are all taken, which is the only
/// time it is asked.
pub(crate) fn overflow_pool(
    pool: &'static FramePool,
    key: ClassKey,
) -> Option<(usize, &'static FramePool)> {
    if is_size_class(pool) {
        return None;
    }
    let index = size_class_index(key)?;
    let sc = &SIZE_CLASSES[index];
    sc.shared().class_for(sc_key(key)).map(|_| (index, sc))
}

/// The size-class pool at `index`.
pub(crate) fn size_class(index: usize) -> &'static FramePool {
    &SIZE_CLASSES[index]
}
