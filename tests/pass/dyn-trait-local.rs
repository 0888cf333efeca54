//! `#[pooled(?Send)]` on a trait and its impls: the futures may hold what is
//! not `Send` (here an `Rc` across an `.await`), and the methods return
//! `LocalPooledDyn`.

use std::cell::RefCell;
use std::rc::Rc;

use flowcoro::{LocalPooledDyn, pooled};

#[pooled(?Send)]
trait Log {
    async fn push(&self, line: &str) -> usize;
    async fn push_twice(&self, line: &str) -> usize {
        let held = Rc::new(line.to_owned());
        self.push(&held).await;
        self.push(&held).await
    }
}

#[derive(Default)]
struct Lines(RefCell<Vec<String>>);

#[pooled(?Send, max_idle = 8)]
impl Log for Lines {
    async fn push(&self, line: &str) -> usize {
        let lines = Rc::new(&self.0);
        std::future::ready(()).await;
        lines.borrow_mut().push(line.to_owned());
        lines.borrow().len()
    }
}

pub(crate) fn main() {
    let lines = Lines::default();
    let log: &dyn Log = &lines;
    let fut: LocalPooledDyn<'_, usize> = log.push_twice("a");
    assert_eq!(futures::executor::block_on(fut), 2);
    assert_eq!(futures::executor::block_on(log.push("b")), 3);
    assert_eq!(*lines.0.borrow(), ["a", "a", "b"]);
}
