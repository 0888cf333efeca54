//! An inherent method taking `&self`, borrowing an argument too.

use flowcoro::pooled;

struct Counter {
    n: u32,
}

impl Counter {
    #[pooled]
    async fn get(&self) -> u32 {
        self.n
    }

    #[pooled]
    async fn plus(&self, other: &Counter) -> u32 {
        self.get().await + other.n
    }

    #[pooled]
    async fn name(&self) -> &str {
        if self.n > 1 { "many" } else { "few" }
    }
}

pub(crate) fn main() {
    let a = Counter { n: 2 };
    let b = Counter { n: 3 };
    assert_eq!(futures::executor::block_on(a.get()), 2);
    assert_eq!(futures::executor::block_on(a.plus(&b)), 5);
    // Several futures may borrow `self` at once.
    let (x, y) = (a.get(), a.name());
    assert_eq!(futures::executor::block_on(async { (x.await, y.await) }), (2, "many"));
}
