//! `Pooled<F>` is `Send`/`Sync` exactly when `F` is, and always `Unpin`.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;

use common::poll_once;
use flowcoro_rt::{FramePool, Pooled};

fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}
fn is_unpin<T: Unpin>() {}

struct SendNotSync(#[allow(dead_code)] Cell<u8>);

struct NotUnpin(std::marker::PhantomPinned);
impl Future for NotUnpin {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

#[test]
fn auto_traits_follow_the_future() {
    is_send::<Pooled<std::future::Ready<u8>>>();
    is_sync::<Pooled<std::future::Ready<u8>>>();
    is_send::<Pooled<std::future::Ready<SendNotSync>>>();
    is_unpin::<Pooled<NotUnpin>>();
    is_send::<FramePool>();
    is_sync::<FramePool>();
    // Negative cases are compile-fail tests under tests/ui.
    fn not_send_but_unpin(_: Pooled<std::future::Ready<Rc<u8>>>) {}
    let _ = not_send_but_unpin;
}

#[test]
fn a_non_send_future_lives_and_dies_on_its_thread() {
    static POOL: FramePool = FramePool::new("send_sync::local");
    let rc = Rc::new(5);
    let r = rc.clone();
    let f = POOL.alloc(async move { *r + 1 });
    assert_eq!(Rc::strong_count(&rc), 2);
    let mut f = f;
    assert_eq!(poll_once(&mut f), Poll::Ready(6));
    assert_eq!(Rc::strong_count(&rc), 1);
}
