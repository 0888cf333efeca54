//! Direct and mutual recursion without `Box::pin`: the handle is a pointer,
//! so the future does not contain itself.

use flowcoro::pooled;

#[pooled]
async fn fib(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib(n - 1).await + fib(n - 2).await
    }
}

#[pooled]
async fn is_even(n: u32) -> bool {
    if n == 0 {
        true
    } else {
        is_odd(n - 1).await
    }
}

#[pooled]
async fn is_odd(n: u32) -> bool {
    if n == 0 {
        false
    } else {
        is_even(n - 1).await
    }
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

pub(crate) fn main() {
    use futures::executor::block_on;
    assert_eq!(block_on(fib(20)), 6765);
    assert!(block_on(is_even(100)));
    assert!(block_on(is_odd(7)));
    let leaf = |value| Tree { value, children: Vec::new() };
    let tree =
        Tree { value: 1, children: vec![leaf(2), Tree { value: 3, children: vec![leaf(4)] }] };
    assert_eq!(block_on(tree.sum()), 10);
}
