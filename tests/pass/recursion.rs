//! Direct and mutual recursion without `Box::pin`: the handle is a pointer,
//! so the future does not contain itself.

use flowcoro::pooled;

#[pooled]
async fn fib(n: u32) -> u64 {
    if n < 2 { u64::from(n) } else { fib(n - 1).await + fib(n - 2).await }
}

#[pooled]
async fn is_even(n: u32) -> bool {
    if n == 0 { true } else { is_odd(n - 1).await }
}

#[pooled]
async fn is_odd(n: u32) -> bool {
    if n == 0 { false } else { is_even(n - 1).await }
}

struct Tree {
    value: u32,
    children: Vec<Tree>,
}

impl Tree {
    #[pooled]
    async fn sum(&self) -> u32 {
        let mut total = self.value;
        for child in &self.children {
            total += child.sum().await;
        }
        total
    }
}

/// A recursive default method: `#[pooled]` on the trait makes it return a
/// named `PooledDyn`, which may recurse (on the method alone, the return
/// type is an opaque `impl Future` of the trait, and rustc refuses the
/// recursion: E0792).
#[pooled]
trait Node: Sync {
    fn children(&self) -> &[Self]
    where
        Self: Sized;

    async fn count(&self) -> usize
    where
        Self: Sized,
    {
        let mut n = 1;
        for child in self.children() {
            n += child.count().await;
        }
        n
    }
}

impl Node for Tree {
    fn children(&self) -> &[Self] {
        &self.children
    }
}

pub(crate) fn main() {
    use futures::executor::block_on;
    assert_eq!(block_on(fib(20)), 6765);
    assert!(block_on(is_even(100)));
    assert!(block_on(is_odd(7)));
    let leaf = |value| Tree { value, children: Vec::new() };
    let tree =
        Tree { value: 1, children: vec![leaf(2), Tree { value: 3, children: vec![leaf(4)] }] };
    assert_eq!(block_on(tree.sum()), 10);
    assert_eq!(block_on(tree.count()), 4);
}
