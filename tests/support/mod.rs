//! Helpers shared by the top-level tests: a no-op-waker executor, a
//! suspension point, and the stats of a pool by name.
// Each test binary uses its own share of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use flowcoro::PoolStats;

/// Polls `fut` to completion on this thread with a no-op waker.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Returns `Pending` once (waking its task), then `Ready`.
#[derive(Debug, Default)]
pub(crate) struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

pub(crate) fn yield_once() -> YieldOnce {
    YieldOnce(false)
}

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
