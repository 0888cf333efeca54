//! Pooled streams, every form, under `#![deny(warnings)]` and clippy: a
//! free fn, an inherent method, a generic fn, a `#[pooled]` trait (default
//! body, two impls, `?Send`), `pool!` on stream expressions.
#![deny(warnings, rust_2018_idioms, unused, unreachable_pub, unused_qualifications)]
#![deny(clippy::all)]

use std::rc::Rc;

use flowcoro::{LocalPooledStream, Pooled, PooledStream};

use flowcoro::{pool, pooled};
use futures::executor::block_on;
use futures::stream::{self, BoxStream, Stream, StreamExt};

#[pooled]
fn evens(n: u32) -> impl Stream<Item = u32> + Send {
    stream::iter((0..n).filter(|x| x % 2 == 0))
}

/// An early `return` of the same stream type.
#[pooled(name = "streams: prefixed", max_idle = 8)]
fn prefixed<'a>(words: &'a [String], prefix: &'a str) -> impl Stream<Item = &'a str> + 'a {
    let keep = move |w: &&String| w.starts_with(prefix);
    if prefix.is_empty() {
        return stream::iter(words.iter().filter(keep)).map(String::as_str);
    }
    stream::iter(words.iter().filter(keep)).map(String::as_str)
}

/// A body that only calls a fn: no closure lint from the expansion.
#[pooled]
fn nothing() -> impl Stream<Item = u8> {
    stream::empty()
}

#[pooled]
fn generic<T: Clone + Send + 'static>(value: T, n: usize) -> impl Stream<Item = T> + Send {
    stream::repeat(value).take(n)
}

struct Table {
    rows: Vec<u32>,
}

impl Table {
    #[pooled]
    fn rows(&self) -> impl Stream<Item = u32> + '_ {
        stream::iter(self.rows.iter().copied())
    }

    #[pooled]
    fn drain(&mut self) -> impl Stream<Item = u32> + '_ {
        stream::iter(self.rows.drain(..))
    }

    #[pooled]
    fn into_rows(self) -> impl Stream<Item = u32> {
        stream::iter(self.rows)
    }
}

#[pooled]
trait Source: Send + Sync {
    fn scan(&self, from: u32) -> impl Stream<Item = u32> + Send;
    fn names<'a>(&'a self, prefix: &'a str) -> impl Stream<Item = &'a str> + Send + 'a;
    fn all(&self) -> impl Stream<Item = u32> + Send {
        self.scan(0)
    }
    fn owned(&self) -> impl Stream<Item = u32> + Send + 'static;
    fn borrowed(&self) -> impl Stream<Item = &u32> + Send + '_;
    async fn count(&self) -> usize;
}

struct Numbers(Vec<u32>);

#[pooled]
impl Source for Numbers {
    fn scan(&self, from: u32) -> impl Stream<Item = u32> + Send {
        stream::iter(self.0.iter().copied().filter(move |x| *x >= from))
    }

    fn names<'a>(&'a self, prefix: &'a str) -> impl Stream<Item = &'a str> + Send + 'a {
        stream::iter(["one", "two", "three"]).filter(move |n| {
            let keep = n.starts_with(prefix);
            async move { keep }
        })
    }

    async fn count(&self) -> usize {
        Source::scan(self, 0).count().await
    }

    fn owned(&self) -> impl Stream<Item = u32> + Send + 'static {
        stream::iter(self.0.clone())
    }

    fn borrowed(&self) -> impl Stream<Item = &u32> + Send + '_ {
        stream::iter(&self.0)
    }
}

/// The boxed form beside it, for comparison: the signatures match.
trait Boxed {
    fn scan(&self, from: u32) -> BoxStream<'_, u32>;
}

impl Boxed for Numbers {
    fn scan(&self, from: u32) -> BoxStream<'_, u32> {
        stream::iter(self.0.iter().copied().filter(move |x| *x >= from)).boxed()
    }
}

#[pooled(?Send)]
trait LocalSource {
    fn values(&self) -> impl Stream<Item = Rc<u32>>;
}

struct Shared(Rc<u32>);

#[pooled(?Send)]
impl LocalSource for Shared {
    fn values(&self) -> impl Stream<Item = Rc<u32>> {
        stream::iter(vec![self.0.clone(), self.0.clone()])
    }
}

fn site(n: u64) -> Pooled<impl Stream<Item = u64> + Send> {
    pool!(stream::iter(0..n))
}

fn erased(n: u64) -> PooledStream<'static, u64> {
    pool!(name = "streams: erased"; stream::iter(0..n).map(|x| x + 1)).into_dyn_stream()
}

fn local(rc: Rc<u64>) -> LocalPooledStream<'static, u64> {
    pool!(stream::once(async move { *rc })).into_local_dyn_stream()
}

pub(crate) fn main() {
    block_on(async {
        assert_eq!(evens(5).collect::<Vec<_>>().await, [0, 2, 4]);
        let words = vec!["ab".to_owned(), "b".to_owned(), "ac".to_owned()];
        assert_eq!(prefixed(&words, "a").collect::<Vec<_>>().await, ["ab", "ac"]);
        assert_eq!(prefixed(&words, "").count().await, 3);
        assert_eq!(nothing().next().await, None);
        assert_eq!(generic("x", 2).collect::<Vec<_>>().await, ["x", "x"]);

        let mut table = Table { rows: vec![1, 2] };
        assert_eq!(table.rows().collect::<Vec<_>>().await, [1, 2]);
        assert_eq!(table.drain().collect::<Vec<_>>().await, [1, 2]);
        table.rows.push(3);
        assert_eq!(table.into_rows().collect::<Vec<_>>().await, [3]);

        let numbers = Numbers(vec![1, 5, 9]);
        let source: &dyn Source = &numbers;
        assert_eq!(source.scan(4).collect::<Vec<_>>().await, [5, 9]);
        assert_eq!(source.names("t").collect::<Vec<_>>().await, ["two", "three"]);
        assert_eq!(source.all().count().await, 3);
        assert_eq!(source.count().await, 3);
        let owned: PooledStream<'static, u32> = source.owned();
        assert_eq!(source.borrowed().collect::<Vec<&u32>>().await, [&1, &5, &9]);
        drop(numbers);
        assert_eq!(owned.collect::<Vec<_>>().await, [1, 5, 9]);
        let numbers = Numbers(vec![1, 5, 9]);
        assert_eq!(Boxed::scan(&numbers, 4).collect::<Vec<_>>().await, [5, 9]);

        let shared: Box<dyn LocalSource> = Box::new(Shared(Rc::new(2)));
        assert_eq!(shared.values().map(|rc| *rc).collect::<Vec<_>>().await, [2, 2]);

        assert_eq!(site(3).collect::<Vec<_>>().await, [0, 1, 2]);
        assert_eq!(erased(2).collect::<Vec<_>>().await, [1, 2]);
        assert_eq!(local(Rc::new(6)).collect::<Vec<_>>().await, [6]);
    });
}
