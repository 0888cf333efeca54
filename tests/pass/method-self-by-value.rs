//! Methods taking `self` and `mut self` by value: `self` moves into the
//! future whole, even when the body uses its fields one by one.

use std::cell::RefCell;
use std::rc::Rc;

use flowcoro::pooled;

struct Loud {
    name: &'static str,
    log: Rc<RefCell<Vec<&'static str>>>,
}

impl Drop for Loud {
    fn drop(&mut self) {
        self.log.borrow_mut().push(self.name);
    }
}

struct Pair {
    a: u32,
    b: u32,
}

struct Parts {
    _kept: Loud,
    taken: Loud,
}

impl Pair {
    #[pooled]
    async fn sum(self) -> u32 {
        self.a + self.b
    }

    #[pooled]
    async fn swapped(mut self) -> Self {
        std::mem::swap(&mut self.a, &mut self.b);
        self
    }
}

impl Parts {
    /// Uses one field only: `kept` must still live in the future until it
    /// completes, not drop when the call returns.
    #[pooled]
    async fn take(self) -> &'static str {
        let taken = self.taken;
        taken.log.borrow_mut().push("body");
        taken.name
    }
}

pub(crate) fn main() {
    assert_eq!(futures::executor::block_on(Pair { a: 1, b: 2 }.sum()), 3);
    let p = futures::executor::block_on(Pair { a: 1, b: 2 }.swapped());
    assert_eq!((p.a, p.b), (2, 1));

    let log = Rc::new(RefCell::new(Vec::new()));
    let loud = |name| Loud { name, log: log.clone() };
    let fut = Parts { _kept: loud("kept"), taken: loud("taken") }.take();
    assert!(log.borrow().is_empty());
    assert_eq!(futures::executor::block_on(fut), "taken");
    assert_eq!(*log.borrow(), ["body", "taken", "kept"]);
}
