//! Typed receivers: `self: Pin<&mut Self>`, `self: Box<Self>`, `self: Rc<Self>`.

use std::marker::PhantomPinned;
use std::pin::{Pin, pin};
use std::rc::Rc;

use flowcoro::pooled;

struct Pinned {
    n: u32,
    _pin: PhantomPinned,
}

impl Pinned {
    #[pooled]
    async fn bump(self: Pin<&mut Self>) -> u32 {
        // SAFETY: `n` is not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        this.n += 1;
        this.n
    }

    #[pooled]
    async fn read(self: Pin<&Self>) -> u32 {
        self.n
    }
}

struct Plain(u32);

impl Plain {
    #[pooled]
    async fn boxed(self: Box<Self>) -> u32 {
        self.0
    }

    #[pooled]
    async fn shared(self: Rc<Self>) -> usize {
        Rc::strong_count(&self)
    }
}

pub(crate) fn main() {
    let mut p = pin!(Pinned { n: 1, _pin: PhantomPinned });
    assert_eq!(futures::executor::block_on(p.as_mut().bump()), 2);
    assert_eq!(futures::executor::block_on(p.as_mut().bump()), 3);
    assert_eq!(futures::executor::block_on(p.as_ref().read()), 3);

    assert_eq!(futures::executor::block_on(Box::new(Plain(4)).boxed()), 4);
    let rc = Rc::new(Plain(0));
    let fut = rc.clone().shared();
    assert_eq!(Rc::strong_count(&rc), 2);
    assert_eq!(futures::executor::block_on(fut), 2);
    assert_eq!(Rc::strong_count(&rc), 1);
}
