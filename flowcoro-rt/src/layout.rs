//! Frame layouts and the class keys that name them.

use core::alloc::Layout;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};

/// Smallest frame the pool hands out: a cache line.
pub(crate) const MIN_SIZE: usize = CACHE_LINE;
/// Smallest frame alignment: a cache line, so frames that different threads
/// use never share one (no false sharing between neighbours).
pub(crate) const MIN_ALIGN: usize = CACHE_LINE;
/// The cache line size frames are placed by.
pub(crate) const CACHE_LINE: usize = 64;
/// Frames larger than this are never cached: each is allocated alone and
/// counted as a heap fallback. A megabyte of idle frame is a cost nobody wants
/// to pay by surprise.
pub(crate) const MAX_POOLED_SIZE: usize = 1 << 20;

/// The layout class of a frame: its size, rounded up to whole cache lines and
/// to its alignment, and its alignment (at least a cache line).
///
/// Packed in a `u64` (size in the low 58 bits, log2 of the alignment in the
/// top 6) so a lookup compares one word; `0` never names a class.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct ClassKey(u64);

const SHIFT: u32 = 58;

impl ClassKey {
    pub(crate) const EMPTY: u64 = 0;

    pub(crate) const fn of(layout: Layout) -> ClassKey {
        let align = if layout.align() > MIN_ALIGN { layout.align() } else { MIN_ALIGN };
        let mut size = if layout.size() > MIN_SIZE { layout.size() } else { MIN_SIZE };
        let granule = align;
        size = match size.checked_add(granule - 1) {
            Some(s) => s & !(granule - 1),
            None => panic!("future too large for a frame"),
        };
        assert!(
            (size as u64) < (1 << SHIFT) && size <= isize::MAX as usize,
            "future too large for a frame"
        );
        ClassKey(size as u64 | ((align.trailing_zeros() as u64) << SHIFT))
    }

    pub(crate) const fn from_bits(bits: u64) -> ClassKey {
        ClassKey(bits)
    }

    pub(crate) const fn bits(self) -> u64 {
        self.0
    }

    pub(crate) const fn size(self) -> usize {
        (self.0 & ((1 << SHIFT) - 1)) as usize
    }

    pub(crate) const fn align(self) -> usize {
        1 << (self.0 >> SHIFT)
    }

    pub(crate) fn layout(self) -> Layout {
        // `of` built size and align from a valid `Layout`: align is a power of
        // two and the size, a multiple of it, fits in `isize`.
        Layout::from_size_align(self.size(), self.align()).expect("class key holds a valid layout")
    }

    /// Whether a frame of class `self` can hold a frame that needs `need`.
    pub(crate) const fn fits(self, need: ClassKey) -> bool {
        self.size() >= need.size() && self.align() >= need.align()
    }

    pub(crate) const fn poolable(self) -> bool {
        self.size() <= MAX_POOLED_SIZE
    }
}

/// The frame of an `F`, computed at compile time: the future at the start
/// (so at the frame's alignment), then, at the first word boundary after
/// it, a word that type-erased handles fill with the frame's pool.
pub(crate) struct KeyOf<F>(PhantomData<F>);

impl<F> KeyOf<F> {
    /// Where the pool word sits.
    pub(crate) const POOL_AT: usize = size_of::<F>().next_multiple_of(align_of::<usize>());
    pub(crate) const KEY: ClassKey = {
        let align = if align_of::<F>() > align_of::<usize>() {
            align_of::<F>()
        } else {
            align_of::<usize>()
        };
        match Layout::from_size_align(Self::POOL_AT + size_of::<usize>(), align) {
            Ok(layout) => ClassKey::of(layout),
            Err(_) => panic!("future too large for a frame"),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_zero_sized_frames_round_up_to_a_cache_line() {
        let k = KeyOf::<()>::KEY;
        assert_eq!(k.size(), 64);
        assert_eq!(k.align(), 64);
        assert_eq!(KeyOf::<u8>::KEY, k);
        assert_eq!(KeyOf::<[u64; 4]>::KEY, k);
        // The pool word fits after 56 bytes, not after 57.
        assert_eq!(KeyOf::<[u8; 56]>::KEY, k);
        assert_eq!(KeyOf::<[u8; 57]>::KEY.size(), 128);
    }

    #[test]
    fn sizes_round_to_the_granule_and_keep_alignment() {
        assert_eq!(KeyOf::<[u8; 65]>::KEY.size(), 128);
        assert_eq!(KeyOf::<[u8; 1016]>::KEY.size(), 1024);
        assert_eq!(KeyOf::<[u8; 1024]>::KEY.size(), 1088);
        assert_eq!(KeyOf::<[u8; 13]>::POOL_AT, 16);
        #[repr(align(128))]
        struct Wide(#[allow(dead_code)] u8);
        let k = KeyOf::<Wide>::KEY;
        // 128 bytes of future, then the pool word in the next 128.
        assert_eq!((k.size(), k.align()), (256, 128));
        assert_eq!(ClassKey::from_bits(k.bits()), k);
        assert!(k.fits(KeyOf::<u8>::KEY));
        assert!(!KeyOf::<u8>::KEY.fits(k));
    }

    // Layout facts the free lists rely on.
    const _: () = assert!(MIN_SIZE == CACHE_LINE && MIN_ALIGN == CACHE_LINE);
}
