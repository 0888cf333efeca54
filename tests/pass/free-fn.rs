//! A free `async fn`: attributes, docs and visibility are kept, nothing runs
//! before the first poll, and `Send`/`Sync` follow the body.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use flowcoro::{Pooled, pooled};

/// Returns `Pending` once (waking the task), then `Ready`.
struct YieldNow(bool);

impl Future for YieldNow {
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

/// Adds after one suspension.
#[pooled]
#[inline]
pub(crate) async fn add(a: u32, b: u32) -> u32 {
    YieldNow(false).await;
    a + b
}

#[pooled]
async fn unit() {}

#[pooled]
async fn mark(ran: &Cell<bool>) {
    ran.set(true);
}

fn assert_send_sync<T: Send + Sync>(_: &T) {}

pub(crate) fn main() {
    assert_eq!(futures::executor::block_on(add(2, 3)), 5);
    futures::executor::block_on(unit());

    // The signature is a plain fn returning the pooled handle.
    let f: fn(u32, u32) -> Pooled<_> = add;
    let fut = f(1, 1);
    assert_send_sync(&fut);
    assert_eq!(std::mem::size_of_val(&fut), std::mem::size_of::<Pooled<std::future::Ready<u8>>>());
    assert_eq!(futures::executor::block_on(fut), 2);

    // Nothing runs before the first poll.
    let ran = Cell::new(false);
    let fut = mark(&ran);
    assert!(!ran.get());
    futures::executor::block_on(fut);
    assert!(ran.get());
    // Dropped unpolled: the body never runs.
    let ran = Cell::new(false);
    drop(mark(&ran));
    assert!(!ran.get());
}
