//! The smallest executor and suspension point, shared by the top-level
//! tests and the benches (which include this file by path).
//!
//! Everything here is `#[inline]`: a module of its own may land in another
//! codegen unit than a bench's loop, which could then not inline it, and
//! the bench would time the call.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

/// Polls `fut` to completion on this thread with a waker that does nothing:
/// the cheapest executor there is, so a bench measures the futures.
#[inline]
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Suspends once: the first poll wakes the task and returns `Pending`, the
/// second returns `Ready`, as an I/O wait that completes at once.
#[inline]
pub(crate) fn yield_once() -> YieldOnce {
    YieldOnce(false)
}

/// What [`yield_once`] returns.
#[derive(Debug, Default)]
pub(crate) struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
