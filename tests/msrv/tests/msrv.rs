//! The attribute's forms on the minimum Rust version (edition 2021), with
//! no dependency but flowcoro: free fns with borrowed and generic arguments,
//! methods of a type with a lifetime, a `dyn` trait, `pool!`, recursion,
//! a stream fn, cancellation and a panic, each leaving its pool empty.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use flowcoro::{PooledDyn, pool, pooled};
use futures_core::Stream;

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn waker() -> Waker {
    Waker::from(Arc::new(Noop))
}

/// Polls `fut` to completion on this thread.
fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = waker();
    let mut cx = Context::from_waker(&waker);
    let mut fut = Box::pin(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Pending once, then ready: every pooled body below suspends.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// The stats of the pool named `name` (a pool's default name ends with
/// its fn's path).
fn live(name: &str) -> u64 {
    flowcoro::pools().iter().filter(|p| p.name.ends_with(name)).map(|p| p.live).sum()
}

#[pooled]
async fn count_words(text: &str, sep: char) -> usize {
    yield_now().await;
    text.split(sep).filter(|w| !w.is_empty()).count()
}

#[pooled]
async fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    yield_now().await;
    items.iter().copied().fold(None, |best, x| match best {
        Some(b) if b >= x => Some(b),
        _ => Some(x),
    })
}

struct Parser<'a> {
    words: Vec<&'a str>,
}

impl Parser<'_> {
    #[pooled]
    async fn next_word(&mut self) -> Option<String> {
        yield_now().await;
        self.words.pop().map(str::to_owned)
    }

    #[pooled]
    async fn remaining(&self) -> usize {
        yield_now().await;
        self.words.len()
    }
}

#[pooled]
trait Store: Send + Sync {
    async fn get(&self, key: &str) -> Option<u32>;
    async fn total(&self) -> u32 {
        self.get("a").await.unwrap_or(0) + self.get("b").await.unwrap_or(0)
    }
}

struct Pairs(Vec<(String, u32)>);

#[pooled]
impl Store for Pairs {
    async fn get(&self, key: &str) -> Option<u32> {
        yield_now().await;
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

#[pooled]
async fn fib(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    yield_now().await;
    fib(n - 1).await + fib(n - 2).await
}

struct Countdown(u32);

impl Stream for Countdown {
    type Item = u32;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
        if self.0 == 0 {
            return Poll::Ready(None);
        }
        self.0 -= 1;
        Poll::Ready(Some(self.0))
    }
}

#[pooled]
fn countdown(from: u32) -> impl Stream<Item = u32> {
    Countdown(from)
}

#[pooled]
async fn may_panic(fail: bool) -> u32 {
    yield_now().await;
    assert!(!fail, "asked to fail");
    7
}

#[test]
fn free_fns_with_borrowed_and_generic_arguments() {
    let text = String::from("a b  c");
    assert_eq!(block_on(count_words(&text, ' ')), 3);
    assert_eq!(block_on(largest(&[3, 9, 2])), Some(9));
    assert_eq!(block_on(largest::<f64>(&[])), None);
    assert_eq!(live("count_words"), 0);
}

#[test]
fn methods_of_a_type_with_a_lifetime() {
    let owned = String::from("x y");
    let mut parser = Parser { words: owned.split(' ').collect() };
    assert_eq!(block_on(parser.next_word()).as_deref(), Some("y"));
    assert_eq!(block_on(parser.remaining()), 1);
    assert_eq!(live("next_word"), 0);
}

#[test]
fn dyn_trait_through_arc() {
    let store: Arc<dyn Store> = Arc::new(Pairs(vec![("a".into(), 1), ("b".into(), 2)]));
    assert_eq!(block_on(store.get("b")), Some(2));
    assert_eq!(block_on(store.total()), 3);
    let call: PooledDyn<'_, Option<u32>> = store.get("z");
    assert_eq!(block_on(call), None);
    assert_eq!(live("get"), 0);
}

#[test]
fn pool_blocks_and_recursion() {
    let base = 40;
    let handle = pool!(async move {
        yield_now().await;
        base + 2
    });
    assert_eq!(block_on(handle), 42);
    assert_eq!(block_on(fib(15)), 610);
    assert_eq!(live("fib"), 0);
}

#[test]
fn stream_fn() {
    let mut stream = countdown(3);
    let waker = waker();
    let mut cx = Context::from_waker(&waker);
    let mut items = Vec::new();
    while let Poll::Ready(Some(x)) = Pin::new(&mut stream).poll_next(&mut cx) {
        items.push(x);
    }
    assert_eq!(items, [2, 1, 0]);
    drop(stream);
    assert_eq!(live("countdown"), 0);
}

#[test]
fn cancelled_and_panicking_calls_give_their_frames_back() {
    let waker = waker();
    let mut cx = Context::from_waker(&waker);
    let mut started = may_panic(false);
    assert!(Pin::new(&mut started).poll(&mut cx).is_pending());
    assert_eq!(live("may_panic"), 1);
    drop(started);
    assert_eq!(live("may_panic"), 0);

    let caught = panic::catch_unwind(AssertUnwindSafe(|| block_on(may_panic(true))));
    assert!(caught.is_err());
    assert_eq!(live("may_panic"), 0);
    assert_eq!(block_on(may_panic(false)), 7);
}
