//! What the tests share: an executor of a few lines, the pools' figures by
//! name, and a count of this thread's allocator calls.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use flowcoro::PoolStats;

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

pub fn waker() -> Waker {
    Waker::from(Arc::new(Noop))
}

/// Polls `fut` to completion on this thread, with no allocation of its own
/// once `waker` is built.
pub fn block_on_with<F: Future>(waker: &Waker, fut: F) -> F::Output {
    let mut cx = Context::from_waker(waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

pub fn block_on<F: Future>(fut: F) -> F::Output {
    block_on_with(&waker(), fut)
}

/// Polls every future in `futs` in turn until all are done: calls that are
/// live at once. `out` receives the outputs, in order.
pub fn join_all<F: Future + Unpin>(waker: &Waker, futs: &mut Vec<F>, out: &mut Vec<F::Output>) {
    let mut cx = Context::from_waker(waker);
    let mut done: Vec<Option<F::Output>> = Vec::with_capacity(futs.len());
    done.resize_with(futs.len(), || None);
    while done.iter().any(Option::is_none) {
        for (f, slot) in futs.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                if let Poll::Ready(v) = Pin::new(f).poll(&mut cx) {
                    *slot = Some(v);
                }
            }
        }
    }
    futs.clear();
    out.extend(done.into_iter().map(|v| v.expect("every call finished")));
}

/// The figures of the pool whose name ends with `name`.
pub fn stats(name: &str) -> PoolStats {
    let found: Vec<PoolStats> =
        flowcoro::pools().into_iter().filter(|p| p.name.ends_with(name)).collect();
    assert_eq!(found.len(), 1, "one pool named …{name}: {found:?}");
    found.into_iter().next().expect("one pool")
}

/// Holds the other tests of this binary off while it lives: the pools'
/// figures are then the test's own.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting the calls each thread makes.
pub struct Counting;

// SAFETY: every call goes to `System` unchanged; the count is a
// thread-local `Cell` with a const initialiser, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocator calls this thread has made so far.
pub fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}
