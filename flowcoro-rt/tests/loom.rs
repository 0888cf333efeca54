//! loom models of the cross-thread parts: the magazine/depot exchange and a
//! frame freed on another thread than the one that took it.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p flowcoro-rt --test loom --release`.
#![cfg(loom)]

use std::alloc::{Layout, alloc, dealloc};
use std::collections::HashSet;
use std::ptr::NonNull;

use flowcoro_rt::__loom::{Counters, Depot, List, Magazines, bump};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::Ordering::Relaxed;
use loom::thread;

/// A test frame: a payload that loom watches for unsynchronised access.
struct Slot {
    payload: UnsafeCell<u64>,
}

fn new_slot() -> NonNull<u8> {
    let p = Box::into_raw(Box::new(Slot { payload: UnsafeCell::new(0) }));
    NonNull::new(p.cast()).unwrap()
}

/// # Safety
/// `p` came from `new_slot` and is not used again.
unsafe fn free_slot(p: NonNull<u8>) {
    // SAFETY: the caller hands back a box made by `new_slot`, once.
    drop(unsafe { Box::from_raw(p.as_ptr().cast::<Slot>()) });
}

fn payload<'a>(p: NonNull<u8>) -> &'a UnsafeCell<u64> {
    // SAFETY: test frames are `Slot`s, alive for the whole model.
    unsafe { &(*p.as_ptr().cast::<Slot>()).payload }
}

/// Sends a frame pointer between loom threads.
struct SendPtr(NonNull<u8>);
// SAFETY: the pointer is handed over, never shared.
unsafe impl Send for SendPtr {}

fn drain_all(mags: &mut Magazines, depot: &Depot, out: &mut Vec<NonNull<u8>>) {
    for mut l in mags.drain() {
        while let Some(p) = l.pop() {
            out.push(p);
        }
    }
    for mut l in depot.take_all() {
        while let Some(p) = l.pop() {
            out.push(p);
        }
    }
}

#[test]
fn magazines_and_depot_never_lose_or_duplicate_a_frame() {
    loom::model(|| {
        let depot = Arc::new(Depot::new());
        let frames: Vec<NonNull<u8>> = (0..4).map(|_| new_slot()).collect();

        let d = depot.clone();
        let mine: Vec<SendPtr> = frames.iter().map(|&p| SendPtr(p)).collect();
        let producer = thread::spawn(move || {
            // Frees four frames through a one-frame cache: full magazines
            // spill to the depot.
            let mut mags = Magazines::new(1);
            for SendPtr(p) in mine {
                // SAFETY: each test frame is handed to exactly one cache.
                if let Some(spill) = unsafe { mags.push(p) } {
                    mags.restock(d.push(spill, usize::MAX).unwrap());
                }
            }
            let mut left = Vec::new();
            for mut l in mags.drain() {
                while let Some(p) = l.pop() {
                    left.push(SendPtr(p));
                }
            }
            left
        });

        // Meanwhile another thread takes whatever batches have arrived.
        let mut consumer = Magazines::new(1);
        if let Some(batch) = depot.exchange(consumer.surplus()) {
            consumer.load(batch);
        }
        let taken = consumer.pop();

        let left = producer.join().unwrap();
        let mut all: Vec<NonNull<u8>> = left.into_iter().map(|SendPtr(p)| p).collect();
        all.extend(taken);
        drain_all(&mut consumer, &depot, &mut all);
        let distinct: HashSet<_> = all.iter().copied().collect();
        assert_eq!(all.len(), 4, "every frame accounted for once");
        assert_eq!(distinct.len(), 4);
        for p in all {
            // SAFETY: each frame appears once, and no list holds it any more.
            unsafe { free_slot(p) };
        }
    });
}

#[test]
fn a_frame_freed_on_another_thread_is_reused_without_a_race() {
    loom::model(|| {
        let depot = Arc::new(Depot::new());
        // Thread A owns a cache holding one frame, writes its "future" and
        // hands it to thread B (as a work-stealing executor moves a task).
        let mut a = Magazines::new(1);
        let f = new_slot();
        // SAFETY: a fresh frame handed to A's cache.
        assert!(unsafe { a.push(f) }.is_none());
        let frame = a.pop().unwrap();
        // SAFETY: loom checks that no other access to the payload races this one.
        payload(frame).with_mut(|v| unsafe { *v = 1 });

        let d = depot.clone();
        let sent = SendPtr(frame);
        let b = thread::spawn(move || {
            let SendPtr(frame) = sent;
            // B completes the future, then frees the frame into its own cache;
            // the cache is full, so a magazine goes to the depot.
            // SAFETY: as above; loom reports a race if the hand-off were not ordered.
            payload(frame).with_mut(|v| unsafe { *v += 1 });
            let mut b = Magazines::new(1);
            let extra = new_slot();
            // SAFETY: each frame is handed to B's cache once.
            unsafe {
                assert!(b.push(extra).is_none());
                assert!(b.push(frame).is_none());
                let spill = b.push(new_slot()).expect("third frame spills");
                b.restock(d.push(spill, usize::MAX).unwrap());
            }
            let mut rest = Vec::new();
            for mut l in b.drain() {
                while let Some(p) = l.pop() {
                    rest.push(SendPtr(p));
                }
            }
            rest
        });

        // A, concurrently, runs dry and refills from the depot: whatever it
        // gets must be safe to write, which loom checks through the payload.
        let mut got = Vec::new();
        if let Some(batch) = depot.exchange(a.surplus()) {
            a.load(batch);
            while let Some(p) = a.pop() {
                // SAFETY: as above: a frame taken from the depot is ours alone.
                payload(p).with_mut(|v| unsafe { *v += 10 });
                got.push(p);
            }
        }
        let rest = b.join().unwrap();
        got.extend(rest.into_iter().map(|SendPtr(p)| p));
        drain_all(&mut a, &depot, &mut got);
        let distinct: HashSet<_> = got.iter().copied().collect();
        assert_eq!((got.len(), distinct.len()), (3, 3));
        assert!(distinct.contains(&frame));
        for p in got {
            // SAFETY: each frame is listed once.
            unsafe { free_slot(p) };
        }
    });
}

#[test]
fn depot_respects_its_limit_under_contention() {
    loom::model(|| {
        let depot = Arc::new(Depot::new());
        let layout = Layout::new::<u64>();
        let make = move || {
            let mut l = List::new();
            // SAFETY: a fresh allocation of a `u64`'s layout.
            unsafe { l.push(NonNull::new(alloc(layout)).unwrap()) };
            l
        };
        let d = depot.clone();
        let t = thread::spawn(move || d.push(make(), 1).err());
        let here = depot.push(make(), 1).err();
        let there = t.join().unwrap();
        // Exactly one of the two batches fits under a limit of one frame; the
        // other comes back whole, for the caller to free.
        assert_eq!(here.is_some() as u8 + there.is_some() as u8, 1);
        let mut lists: Vec<List> = depot.take_all();
        assert_eq!(lists.len(), 1);
        lists.extend(here);
        lists.extend(there);
        for mut l in lists {
            assert_eq!(l.len(), 1);
            let p = l.pop().unwrap();
            // SAFETY: allocated above with this layout, and listed once.
            unsafe { dealloc(p.as_ptr(), layout) };
        }
    });
}

#[test]
fn counters_written_by_their_thread_sum_exactly_after_join() {
    loom::model(|| {
        let c = Arc::new(Counters::default());
        let c2 = c.clone();
        let t = thread::spawn(move || {
            bump(&c2.fresh, 1); // a frame from new memory
            assert!(!c2.hot_free()); // freed into the hot slot
            // taken back from the slot: counted by the free above
            bump(&c2.frees, 1); // freed into a magazine
        });
        // A reader racing the owner sees some prefix, never garbage (the hot
        // slots are empty here at every step the reader can see).
        let seen = c.snapshot(0);
        assert!(seen.allocations <= 2 && seen.frees <= 2);
        t.join().unwrap();
        let t = c.snapshot(0);
        assert_eq!((t.allocations, t.reused, t.frees, t.live()), (2, 1, 2, 0));
        assert_eq!((c.hot_frees(), c.frees.load(Relaxed)), (1, 1));
    });
}
