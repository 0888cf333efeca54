//! An inherent method taking `&mut self`: the future holds the unique borrow.

use flowcoro::pooled;

#[derive(Default)]
struct Counter {
    n: u32,
    log: Vec<u32>,
}

impl Counter {
    #[pooled]
    async fn bump(&mut self, by: u32) -> u32 {
        self.n += by;
        self.log.push(self.n);
        self.n
    }

    #[pooled]
    async fn bump_twice(&mut self) -> &[u32] {
        self.bump(1).await;
        self.bump(2).await;
        &self.log
    }
}

pub(crate) fn main() {
    let mut c = Counter::default();
    assert_eq!(futures::executor::block_on(c.bump(5)), 5);
    assert_eq!(futures::executor::block_on(c.bump_twice()), &[5, 6, 8]);
    assert_eq!(c.n, 8);
}
