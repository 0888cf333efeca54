//! `pool!` in the places `BoxFuture` sites are: a fn returning a boxed-like
//! erased future, a generic fn, a closure, a trait impl; a borrowing block.

use std::future::Future;

use flowcoro::{PooledDyn, pool};

pub(crate) trait Handler {
    fn handle(&self, x: u32) -> PooledDyn<'_, u32>;
}

pub(crate) struct Adder(pub(crate) u32);

impl Handler for Adder {
    fn handle(&self, x: u32) -> PooledDyn<'_, u32> {
        pool!(async move { self.0 + x }).into_dyn()
    }
}

pub(crate) fn generic<T: Send + 'static>(value: T) -> impl Future<Output = T> + Send {
    pool!(name = "pool-block: generic", max_idle = 8; async move { value })
}

pub(crate) fn main() {
    use futures::executor::block_on;
    let handlers: Vec<Box<dyn Handler>> = vec![Box::new(Adder(1)), Box::new(Adder(2))];
    let total: u32 = handlers.iter().map(|h| block_on(h.handle(10))).sum();
    assert_eq!(total, 23);
    assert_eq!(block_on(generic("x")), "x");
    let scale = 3;
    let scaled = |x: u32| pool!(async move { x * scale });
    assert_eq!(block_on(scaled(2)), 6);
    let words = ["a", "b"];
    assert_eq!(block_on(pool!(async { words.len() })), 2);
}
