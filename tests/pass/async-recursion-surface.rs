//! What `#[async_recursion]` users write, with `#[pooled]` in its place:
//! `?Send`, `Sync`, `'async_recursion` in arguments, and a fn that spawns
//! its own recursive call (`Send` declared, so that its future's `Send` is
//! not inferred from a body that needs it).
#![deny(warnings, rust_2018_idioms, unused)]
#![deny(clippy::all)]

use std::future::Future;
use std::rc::Rc;

use flowcoro::pooled;
use futures::executor::block_on;

/// What a spawn asks of a future: `Send + 'static`.
fn spawn<F: Future + Send + 'static>(f: F) -> F {
    f
}

#[pooled(Send)]
async fn walk(n: u64) -> u64 {
    if n == 0 {
        return 1;
    }
    let left = spawn(walk(n - 1));
    let right = spawn(walk(n - 1));
    left.await + right.await
}

#[pooled(?Send)]
async fn count_down(rc: Rc<u32>) -> u32 {
    if *rc == 0 {
        return 0;
    }
    1 + count_down(Rc::new(*rc - 1)).await
}

#[pooled(Sync)]
async fn fib(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    fib(n - 1).await + fib(n - 2).await
}

#[pooled(Send, Sync, name = "recursion: depth")]
async fn depth(node: Option<&'async_recursion String>, n: usize) -> usize {
    match node {
        Some(s) if n < s.len() => depth(node, n + 1).await,
        _ => n,
    }
}

struct Tree(Vec<Tree>);

impl Tree {
    #[pooled(Send)]
    async fn size(&self) -> usize {
        let mut total = 1;
        for child in &self.0 {
            total += child.size().await;
        }
        total
    }
}

fn assert_sync<T: Sync>(t: T) -> T {
    t
}

pub(crate) fn main() {
    assert_eq!(block_on(walk(4)), 16);
    assert_eq!(block_on(count_down(Rc::new(5))), 5);
    assert_eq!(block_on(assert_sync(fib(10))), 55);
    let s = String::from("abc");
    assert_eq!(block_on(depth(Some(&s), 0)), 3);
    assert_eq!(block_on(Tree(vec![Tree(vec![]), Tree(vec![])]).size()), 3);
}
