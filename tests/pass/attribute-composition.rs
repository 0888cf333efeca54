//! Other attribute macros compose with `#[pooled]`: `#[tracing::instrument]`
//! above or below it on a free fn, on the methods of a `#[pooled]` impl
//! block and on a default method of a `#[pooled]` trait, with `skip`,
//! `fields`, `err` and `ret`. (The spans themselves are checked at run time
//! by `tests/shapes`.) Inert attributes stay where they are.

use flowcoro::pooled;

#[pooled]
#[tracing::instrument(err)]
pub(crate) async fn below(x: u32) -> Result<u32, String> {
    tracing::info!("below");
    if x > 0 { Ok(x) } else { Err("zero".to_owned()) }
}

#[tracing::instrument(ret)]
#[pooled(name = "composition: above")]
pub(crate) async fn above(x: u32) -> u32 {
    tracing::info!("above");
    x + 1
}

#[pooled]
pub(crate) trait Work {
    async fn step(&self, n: u32) -> u32;
    #[tracing::instrument(skip(self))]
    async fn twice(&self, n: u32) -> u32 {
        self.step(n).await + self.step(n).await
    }
}

pub(crate) struct Worker {
    pub(crate) id: u32,
}

#[pooled]
impl Work for Worker {
    #[inline]
    #[tracing::instrument(skip(self), fields(id = self.id))]
    async fn step(&self, n: u32) -> u32 {
        n + self.id
    }
}

pub(crate) struct Plain;

#[pooled]
impl Plain {
    #[must_use]
    #[tracing::instrument(skip(self))]
    pub(crate) async fn method(&self, n: u32) -> u32 {
        n * 3
    }
}

pub(crate) fn main() {
    use futures::executor::block_on;
    assert_eq!(block_on(below(2)), Ok(2));
    assert_eq!(block_on(below(0)), Err("zero".to_owned()));
    let handle = above(1);
    assert_eq!(handle.pool().name(), "composition: above");
    assert_eq!(block_on(handle), 2);
    let worker: &(dyn Work + Sync) = &Worker { id: 10 };
    assert_eq!(block_on(worker.twice(1)), 22);
    let method = Plain.method(2);
    assert!(method.pool().name().ends_with("::Plain::method"), "{}", method.pool().name());
    assert_eq!(block_on(method), 6);
}
