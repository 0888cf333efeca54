//! loom models of the cross-thread parts: the magazine/depot exchange (also
//! with magazines that grow mid-stream), a frame freed on another thread
//! than the one that took it, a decay shrink against a concurrent pop, the
//! stats of a thread read while it works, and static frames claimed and
//! given back by two threads.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p flowcoro-rt --lib --release`.
//! Each model counts the executions loom explored and checks that there was
//! more than one: a model whose parties never race proves nothing.

use std::alloc::{Layout, alloc, dealloc};
use std::collections::HashSet;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::AtomicPtr;
use loom::sync::atomic::Ordering::{Acquire, Relaxed};
use loom::thread;

use crate::depot::Depot;
use crate::freelist::{List, Magazines};
use crate::layout::ClassKey;
use crate::reserve::{Reserve, StaticFrames};
use crate::stats::Counters;
use crate::sync::bump;

/// Runs `model` under loom and returns how many executions it explored.
/// Preemptions are bounded (three, or `LOOM_MAX_PREEMPTIONS`), as loom
/// advises: a stats snapshot reads a dozen atomics.
fn explore(model: impl Fn() + Sync + Send + 'static) -> usize {
    let runs = std::sync::Arc::new(StdAtomicUsize::new(0));
    let counted = runs.clone();
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(move || {
        counted.fetch_add(1, StdOrdering::Relaxed);
        model();
    });
    runs.load(StdOrdering::Relaxed)
}

/// [`explore`], and at least `least` executions.
fn explore_at_least(least: usize, model: impl Fn() + Sync + Send + 'static) {
    let runs = explore(model);
    assert!(runs >= least, "the model explored {runs} executions, expected at least {least}");
}

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

/// Empties a cache's magazines into `out`.
fn drain_mags(mags: &mut Magazines, out: &mut Vec<NonNull<u8>>) {
    for mut l in mags.drain() {
        while let Some(p) = l.pop() {
            out.push(p);
        }
    }
}

/// Empties a spawned thread's cache, for the frames to be sent back.
fn drain_to_send(mags: &mut Magazines) -> Vec<SendPtr> {
    let mut left = Vec::new();
    drain_mags(mags, &mut left);
    left.into_iter().map(SendPtr).collect()
}

fn drain_all(mags: &mut Magazines, depot: &Depot, out: &mut Vec<NonNull<u8>>) {
    drain_mags(mags, out);
    for mut l in depot.take_all() {
        while let Some(p) = l.pop() {
            out.push(p);
        }
    }
}

/// Checks that `all` lists `n` frames, each once, then frees them.
fn free_each_once(all: Vec<NonNull<u8>>, n: usize) {
    let distinct: HashSet<_> = all.iter().copied().collect();
    assert_eq!((all.len(), distinct.len()), (n, n), "every frame accounted for once");
    for p in all {
        // SAFETY: each frame appears once, and no list holds it any more.
        unsafe { free_slot(p) };
    }
}

#[test]
fn magazines_and_depot_never_lose_or_duplicate_a_frame() {
    explore_at_least(2, || {
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
            drain_to_send(&mut mags)
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
        free_each_once(all, 4);
    });
}

#[test]
fn magazines_that_grow_mid_stream_never_lose_or_duplicate_a_frame() {
    // A stream of frees on one thread, refills on another, and each grows
    // its magazines half-way (as `grow_magazines` and `sync_cap` do): the
    // depot then holds batches of both sizes, and each side takes them as
    // they come.
    explore_at_least(2, || {
        let depot = Arc::new(Depot::new());
        let frames: Vec<NonNull<u8>> = (0..5).map(|_| new_slot()).collect();

        let d = depot.clone();
        let mine: Vec<SendPtr> = frames.iter().map(|&p| SendPtr(p)).collect();
        let freeing = thread::spawn(move || {
            let mut mags = Magazines::new(1);
            for (i, SendPtr(p)) in mine.into_iter().enumerate() {
                if i == 2 {
                    if let Some(excess) = mags.set_cap(2) {
                        drop(d.push(excess, usize::MAX).unwrap());
                    }
                }
                // SAFETY: each test frame is handed to exactly one cache.
                if let Some(spill) = unsafe { mags.push(p) } {
                    mags.restock(d.push(spill, usize::MAX).unwrap());
                }
            }
            drain_to_send(&mut mags)
        });

        let mut taking = Magazines::new(1);
        let mut taken = Vec::new();
        for round in 0..2 {
            if round == 1 {
                assert!(taking.set_cap(2).is_none(), "an empty cache has no excess");
            }
            if let Some(batch) = depot.exchange(taking.surplus()) {
                taking.load(batch);
            }
            while let Some(p) = taking.pop() {
                taken.push(p);
            }
        }

        let left = freeing.join().unwrap();
        let mut all: Vec<NonNull<u8>> = left.into_iter().map(|SendPtr(p)| p).collect();
        all.extend(taken);
        drain_all(&mut taking, &depot, &mut all);
        free_each_once(all, 5);
    });
}

#[test]
fn a_frame_freed_on_another_thread_is_reused_without_a_race() {
    explore_at_least(2, || {
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
            drain_to_send(&mut b)
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
        assert!(got.contains(&frame));
        free_each_once(got, 3);
    });
}

#[test]
fn depot_respects_its_limit_under_contention() {
    explore_at_least(2, || {
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

/// A hot slot for the models: a frame pointer or null.
fn held(slot: &AtomicPtr<u8>) -> u64 {
    u64::from(!slot.load(Acquire).is_null())
}

#[test]
fn counters_read_while_their_thread_works_never_run_ahead_and_sum_exactly() {
    explore_at_least(3, || {
        let c = Arc::new(Counters::default());
        let slot = Arc::new(AtomicPtr::new(core::ptr::null_mut()));
        let frame = new_slot();
        let (c2, slot2) = (c.clone(), slot.clone());
        let owner = thread::spawn(move || {
            bump(&c2.fresh, 1); // a frame from new memory
            // Freed into the hot slot: the slot first, then the count.
            slot2.store(frame.as_ptr(), Relaxed);
            assert!(!c2.hot_free());
            // Taken back from the slot: counted by the free above.
            slot2.store(core::ptr::null_mut(), Relaxed);
            bump(&c2.frees, 1); // freed into a magazine
        });
        // The reader races the owner from a thread of its own.
        let (c3, slot3) = (c.clone(), slot.clone());
        let reader = thread::spawn(move || {
            let seen = c3.snapshot(|| held(&slot3));
            // Never more than the owner did, never wrapped: at most two
            // allocations, one of them a reuse, and two frees.
            assert!(seen.allocations <= 2 && seen.reused <= 1 && seen.frees <= 2, "{seen:?}");
            assert!(seen.live() <= 1, "never more than one frame in use: {seen:?}");
        });
        owner.join().unwrap();
        reader.join().unwrap();
        let t = c.snapshot(|| held(&slot));
        assert_eq!((t.allocations, t.reused, t.frees, t.live()), (2, 1, 2, 0));
        assert_eq!((c.hot_frees(), c.frees.load(Relaxed)), (1, 1));
        // SAFETY: the test frame, used by no one now.
        unsafe { free_slot(frame) };
    });
}

#[test]
fn a_stats_reader_racing_a_new_hot_lap_sees_no_wrapped_count() {
    // The owner ends a short lap and starts a longer one: a new lap longer
    // than all the hot frees so far is what made a torn read wrap.
    explore_at_least(3, || {
        let c = Arc::new(Counters::default());
        let c2 = c.clone();
        let owner = thread::spawn(move || {
            c2.shorten_hot_lap(1);
            assert!(c2.hot_free(), "a lap of one ends at once");
            c2.start_hot_lap(8);
            assert!(!c2.hot_free());
        });
        let c3 = c.clone();
        let reader = thread::spawn(move || {
            for _ in 0..2 {
                let t = c3.snapshot(|| 0);
                assert!(t.frees <= 2 && t.reused <= 2, "ran ahead or wrapped: {t:?}");
            }
        });
        owner.join().unwrap();
        reader.join().unwrap();
        assert_eq!(c.snapshot(|| 0).frees, 2);
    });
}

#[test]
fn a_frame_drained_from_a_hot_slot_is_never_read_as_a_reuse() {
    // `trim` and thread exit take a frame out of a hot slot without a reuse:
    // the count of hot frees goes down with the slot, as one step.
    explore_at_least(3, || {
        let c = Arc::new(Counters::default());
        let slot = Arc::new(AtomicPtr::new(core::ptr::null_mut()));
        let frame = new_slot();
        // A frame freed into the slot before the race.
        bump(&c.fresh, 1);
        slot.store(frame.as_ptr(), Relaxed);
        assert!(!c.hot_free());
        let (c2, slot2) = (c.clone(), slot.clone());
        let owner = thread::spawn(move || {
            c2.write(|| {
                c2.unhot_one();
                bump(&c2.frees, 1);
                slot2.store(core::ptr::null_mut(), Relaxed);
            });
        });
        let (c3, slot3) = (c.clone(), slot.clone());
        let reader = thread::spawn(move || {
            let t = c3.snapshot(|| held(&slot3));
            assert_eq!((t.allocations, t.reused, t.frees), (1, 0, 1), "{t:?}");
        });
        owner.join().unwrap();
        reader.join().unwrap();
        // SAFETY: the test frame, used by no one now.
        unsafe { free_slot(frame) };
    });
}

#[test]
fn a_decay_shrink_racing_a_pop_frees_only_the_excess() {
    explore_at_least(3, || {
        let depot = Arc::new(Depot::new());
        let layout = Layout::new::<u64>();
        for _ in 0..2 {
            let mut l = List::new();
            for _ in 0..2 {
                // SAFETY: a fresh allocation of a `u64`'s layout.
                unsafe { l.push(NonNull::new(alloc(layout)).unwrap()) };
            }
            depot.push(l, usize::MAX).unwrap();
        }
        let free = move |mut l: List| {
            let mut n = 0;
            while let Some(p) = l.pop() {
                // SAFETY: allocated above with this layout, listed once.
                unsafe { dealloc(p.as_ptr(), layout) };
                n += 1;
            }
            n
        };
        // A decay step keeps 3 of the 4 frames while a refill takes a batch.
        let d = depot.clone();
        let shrink = thread::spawn(move || {
            let mut freed = 0;
            d.shrink(3, |doomed| freed += free(doomed));
            freed
        });
        let popped = depot.pop().map_or(0, free);
        let freed = shrink.join().unwrap();
        let left = core::iter::from_fn(|| depot.pop()).map(free).sum::<usize>();
        assert_eq!(freed + popped + left, 4, "every frame freed once");
        assert!(freed <= 1, "only what was beyond the limit: {freed}");
        assert!(left <= 3);
    });
}

#[test]
fn a_static_frame_has_one_holder_at_a_time() {
    explore_at_least(3, || {
        // One frame, two threads that each take it, write in it and give
        // it back (or find it taken). loom checks that each write is
        // ordered after the other thread's give-back: the claim is an
        // acquire, the give-back a release.
        let frames = Arc::new(StaticFrames::<1, 64>::new());
        let written = Arc::new([UnsafeCell::new(0u64)]);
        let key = ClassKey::of(Layout::new::<u64>());
        let run = {
            let (frames, written) = (frames.clone(), written.clone());
            move || {
                let Some((p, _)) = frames.take(key) else { return 0 };
                // The frame's memory stands for its payload here.
                written[0].with_mut(|v| {
                    // SAFETY: loom's cell, reached only by the frame's holder.
                    unsafe { *v += 1 }
                });
                assert!(frames.give(p), "a static frame goes back to its frames");
                1
            }
        };
        let other = thread::spawn(run.clone());
        let took = run() + other.join().unwrap();
        assert!(took >= 1, "the frame was free to one of them at least");
        // SAFETY: both threads are done.
        let total = written[0].with(|v| unsafe { *v });
        assert_eq!(total, took);
        assert!(frames.take(key).is_some(), "and free again at the end");
    });
}
