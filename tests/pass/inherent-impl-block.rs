//! `#[pooled]` on an inherent impl block: each `async fn` is rewritten as
//! under its own `#[pooled]`, its pool named after the type; other items are
//! left alone, and a method's own `#[pooled(...)]` adds its options.

use flowcoro::pooled;

struct Counter<T> {
    step: T,
}

#[pooled]
impl<T: Copy + Into<u64>> Counter<T> {
    const START: u64 = 1;

    pub(crate) fn new(step: T) -> Self {
        Counter { step }
    }

    pub(crate) async fn next(&self, from: &u64) -> u64 {
        from + self.step.into()
    }

    #[pooled(name = "inherent impl block: twice", max_idle = 2)]
    pub(crate) async fn twice(&mut self) -> u64 {
        let first = self.next(&Self::START).await;
        self.next(&first).await
    }
}

pub(crate) fn main() {
    let mut counter = Counter::new(2u8);
    let next = counter.next(&1);
    assert!(next.pool().name().ends_with("::Counter<_>::next"), "{}", next.pool().name());
    assert_eq!(futures::executor::block_on(next), 3);
    let twice = counter.twice();
    assert_eq!(twice.pool().name(), "inherent impl block: twice");
    assert_eq!(futures::executor::block_on(twice), 5);
}
