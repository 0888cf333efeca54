//! A pool's layout classes: the frame layouts it keeps frames of, each
//! assigned on a layout's first sight and never changed after, and the
//! largest layout it served outside them, for the stats.

use crate::frame::CLASSES;
use crate::layout::ClassKey;
use crate::sync::{AtomicU64, Mutex, Ordering::Relaxed, lock};

pub(crate) struct Classes {
    /// Class keys, each set once, under the lock `class_for` is given.
    keys: [AtomicU64; CLASSES],
    /// The largest key served outside the classes (allocated alone, or by
    /// a size-class pool), for `frame_size`.
    largest_other: AtomicU64,
}

impl Classes {
    pub(crate) fn new() -> Classes {
        Classes {
            keys: core::array::from_fn(|_| AtomicU64::new(ClassKey::EMPTY)),
            largest_other: AtomicU64::new(0),
        }
    }

    /// The key of `class`, which is assigned.
    pub(crate) fn key(&self, class: usize) -> ClassKey {
        let bits = self.keys[class].load(Relaxed);
        debug_assert_ne!(bits, ClassKey::EMPTY);
        ClassKey::from_bits(bits)
    }

    /// The classes assigned so far, with their keys.
    pub(crate) fn assigned(&self) -> impl Iterator<Item = (usize, ClassKey)> + '_ {
        self.keys.iter().enumerate().filter_map(|(class, k)| {
            let bits = k.load(Relaxed);
            (bits != ClassKey::EMPTY).then(|| (class, ClassKey::from_bits(bits)))
        })
    }

    /// The class that serves `key`, assigning a free one on first sight,
    /// under `assign` (the pool's registry lock, which serialises the other
    /// rare changes to the pool's shared part too); `None` when the frame
    /// must be served elsewhere.
    pub(crate) fn class_for<T>(&self, key: ClassKey, assign: &Mutex<T>) -> Option<usize> {
        if !key.poolable() {
            return None;
        }
        if let Some(i) = self.keys.iter().position(|k| k.load(Relaxed) == key.bits()) {
            return Some(i);
        }
        let _assigning = lock(assign);
        for (i, k) in self.keys.iter().enumerate() {
            let bits = k.load(Relaxed);
            if bits == key.bits() {
                return Some(i);
            }
            if bits == ClassKey::EMPTY {
                k.store(key.bits(), Relaxed);
                return Some(i);
            }
        }
        // Every class is taken: share the smallest one that holds the frame
        // without wasting more than half of it.
        self.assigned()
            .filter(|(_, k)| k.fits(key) && k.size() <= 2 * key.size())
            .min_by_key(|(_, k)| k.size())
            .map(|(i, _)| i)
    }

    /// Notes a layout served outside the classes, for `frame_size`.
    pub(crate) fn note_other(&self, key: ClassKey) {
        if self.largest_other.load(Relaxed) < key.bits() {
            self.largest_other.fetch_max(key.bits(), Relaxed);
        }
    }

    /// The largest frame size and alignment served, in the classes or out.
    pub(crate) fn largest(&self) -> (usize, usize) {
        let other = self.largest_other.load(Relaxed);
        let others = (other != ClassKey::EMPTY).then(|| ClassKey::from_bits(other));
        self.assigned()
            .map(|(_, k)| k)
            .chain(others)
            .fold((0, 0), |(size, align), k| (size.max(k.size()), align.max(k.align())))
    }
}
