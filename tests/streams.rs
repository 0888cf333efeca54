//! Pooled streams: `pool!` on a stream expression, `#[pooled]` on a fn or
//! method returning `impl Stream`, the erased `PooledStream` /
//! `LocalPooledStream`, and a `#[pooled]` trait with a stream method, on
//! tokio's multi-thread runtime, dropped mid-way, panicking, and reused.

mod support;

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use async_stream::stream;
use flowcoro::{LocalPooledStream, Pooled, PooledStream, pool, pooled};
use futures::stream::{self, FusedStream, Stream, StreamExt};
use support::stats;

/// Counts its drops: what a stream's state holds, to see it dropped.
struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A `!Unpin` stream (an `async-stream` generator) from a free fn.
#[pooled(name = "streams: countdown")]
fn countdown(from: u32) -> impl Stream<Item = u32> + Send {
    stream! {
        for i in (0..from).rev() {
            tokio::task::yield_now().await;
            yield i;
        }
    }
}

/// A stream that borrows its arguments.
#[pooled(name = "streams: words")]
fn words<'a>(text: &'a str, min: usize) -> impl Stream<Item = &'a str> + Send + 'a {
    stream::iter(text.split(' ').filter(move |w| w.len() >= min))
}

/// The body runs when the fn is called, as written: only where the stream
/// lives changes.
#[pooled(name = "streams: eager")]
fn eager(calls: &Cell<u32>) -> impl Stream<Item = u32> {
    calls.set(calls.get() + 1);
    if calls.get() > 100 {
        return stream::iter(vec![0]);
    }
    stream::iter(vec![calls.get(); 2])
}

#[test]
fn a_pooled_fn_returns_a_handle_that_streams() {
    let out: Vec<u32> = futures::executor::block_on(countdown(4).collect());
    assert_eq!(out, [3, 2, 1, 0]);
    let text = String::from("a bb ccc dddd");
    let long: Vec<&str> = futures::executor::block_on(words(&text, 3).collect());
    assert_eq!(long, ["ccc", "dddd"]);
    assert_eq!(stats("streams: countdown").live, 0);
    assert_eq!(stats("streams: words").live, 0);

    let calls = Cell::new(0);
    let s = eager(&calls);
    assert_eq!(calls.get(), 1, "the body ran before the first poll");
    assert_eq!(s.size_hint(), (2, Some(2)), "size_hint is the stream's");
    assert_eq!(futures::executor::block_on(s.collect::<Vec<_>>()), [1, 1]);
}

#[test]
fn next_needs_no_pinning_and_the_handle_is_fused() {
    let mut s = countdown(2);
    // `async-stream` streams are `!Unpin`; the handle is `Unpin` and two
    // words.
    fn unpin<T: Unpin>(_: &T) {}
    unpin(&s);
    assert_eq!(size_of_val(&s), 2 * size_of::<usize>());
    futures::executor::block_on(async {
        assert_eq!(s.next().await, Some(1));
        assert!(!s.is_terminated());
        assert_eq!(s.next().await, Some(0));
        assert_eq!(s.next().await, None);
        assert!(s.is_terminated());
        // The frame went back with `None`; polled again, still `None`.
        assert_eq!(s.next().await, None);
        assert_eq!(s.size_hint(), (0, Some(0)));
    });
}

#[test]
fn pool_takes_stream_expressions() {
    fn squares(n: u64) -> Pooled<impl Stream<Item = u64> + Send> {
        pool!(name = "streams: pool! iter"; stream::iter(0..n).map(|x| x * x))
    }
    fn unfolded(n: u64) -> PooledStream<'static, u64> {
        pool!(name = "streams: pool! unfold", max_idle = 4; stream::unfold(0, move |i| async move {
            (i < n).then_some((i, i + 1))
        }))
        .into_dyn_stream()
    }
    fn generated(n: u64) -> PooledStream<'static, u64> {
        pool!(stream! {
            for i in 0..n {
                yield i;
            }
        })
        .into()
    }
    futures::executor::block_on(async {
        assert_eq!(squares(4).collect::<Vec<_>>().await, [0, 1, 4, 9]);
        assert_eq!(unfolded(3).collect::<Vec<_>>().await, [0, 1, 2]);
        assert_eq!(generated(3).collect::<Vec<_>>().await, [0, 1, 2]);
        // An expression that is a future works too, moved into the frame.
        assert_eq!(pool!(name = "streams: pool! future"; std::future::ready(7)).await, 7);
    });
    for name in ["streams: pool! iter", "streams: pool! unfold", "streams: pool! future"] {
        let s = stats(name);
        assert_eq!((s.allocations, s.live), (1, 0), "{name}");
    }
}

#[test]
fn streams_of_different_types_in_one_vec() {
    let big = [7u8; 1024];
    let mut all: Vec<PooledStream<'static, u32>> = vec![
        countdown(3).into_dyn_stream(),
        pool!(name = "streams: vec iter"; stream::iter(vec![10, 11])).into_dyn_stream(),
        pool!(name = "streams: vec big"; stream! {
            let state = big;
            yield state.iter().map(|&b| u32::from(b)).sum::<u32>();
        })
        .into_dyn_stream(),
    ];
    assert_eq!(size_of::<PooledStream<'static, u32>>(), 2 * size_of::<usize>());
    assert_eq!(all[1].size_hint(), (2, Some(2)));
    let out: Vec<Vec<u32>> = futures::executor::block_on(async {
        let mut out = Vec::new();
        for s in &mut all {
            out.push(s.collect().await);
        }
        out
    });
    assert_eq!(out, [vec![2, 1, 0], vec![10, 11], vec![7 * 1024]]);
    assert!(all.iter().all(FusedStream::is_terminated));
    assert_eq!(stats("streams: vec big").live, 0);
}

#[test]
fn dropped_midway_the_state_drops_and_the_frame_comes_back() {
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = Guard(drops.clone());
    let mut s = pool!(name = "streams: dropped"; stream! {
        let _held = guard;
        for i in 0..10u32 {
            yield i;
        }
    })
    .into_dyn_stream();
    assert_eq!(futures::executor::block_on(s.next()), Some(0));
    assert_eq!(stats("streams: dropped").live, 1);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(s);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(stats("streams: dropped").live, 0);
}

/// Panics on its second `poll_next`.
struct Bomb {
    polls: u32,
    _guard: Guard,
}

impl Stream for Bomb {
    type Item = u32;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
        self.polls += 1;
        assert!(self.polls < 2, "inside a pooled stream's poll_next");
        Poll::Ready(Some(self.polls))
    }
}

#[test]
fn a_panic_inside_poll_next_drops_the_state_and_frees_the_frame() {
    for erased in [false, true] {
        let drops = Arc::new(AtomicUsize::new(0));
        let bomb = Bomb { polls: 0, _guard: Guard(drops.clone()) };
        let handle = pool!(name = "streams: panics"; bomb);
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            if erased {
                futures::executor::block_on(handle.into_dyn_stream().count())
            } else {
                futures::executor::block_on(handle.count())
            }
        }));
        assert!(out.is_err());
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the stream's state dropped (erased: {erased})"
        );
        assert_eq!(stats("streams: panics").live, 0);
    }
}

#[test]
fn a_site_reused_ten_thousand_times_hits_its_cache() {
    fn site(i: u64) -> PooledStream<'static, u64> {
        pool!(name = "streams: reused"; stream::iter([i, i + 1, i + 2])).into_dyn_stream()
    }
    let mut total = 0;
    for i in 0..10_000 {
        total += futures::executor::block_on(site(i).fold(0, |a, x| async move { a + x }));
    }
    assert_eq!(total, (0..10_000u64).map(|i| 3 * i + 3).sum::<u64>());
    let s = stats("streams: reused");
    assert_eq!((s.allocations, s.live), (10_000, 0));
    assert!(s.hit_ratio() > 0.99, "hit ratio {}", s.hit_ratio());
}

#[test]
fn local_streams_need_no_send() {
    #[pooled(name = "streams: local")]
    fn shared(rc: Rc<u32>) -> impl Stream<Item = u32> {
        stream! {
            yield *rc;
            yield *rc + 1;
        }
    }
    let s: LocalPooledStream<'static, u32> = shared(Rc::new(4)).into_local_dyn_stream();
    assert_eq!(futures::executor::block_on(s.collect::<Vec<_>>()), [4, 5]);
    // A `PooledStream` goes into a `LocalPooledStream` where one is wanted.
    let s: LocalPooledStream<'static, u32> = countdown(1).into_dyn_stream().into();
    assert_eq!(futures::executor::block_on(s.collect::<Vec<_>>()), [0]);
}

/// A store listing its keys, through `dyn`: the `BoxStream` method of real
/// storage traits.
#[pooled]
trait Store: Send + Sync {
    async fn get(&self, key: &str) -> Option<u32>;
    fn list(&self, prefix: &str) -> impl Stream<Item = String> + Send;
    /// A default stream method: one pool for the impls that keep it.
    fn list_all(&self) -> impl Stream<Item = String> + Send {
        self.list("")
    }
}

/// Backed by an iterator.
struct Memory(Vec<(String, u32)>);

#[pooled]
impl Store for Memory {
    async fn get(&self, key: &str) -> Option<u32> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    fn list(&self, prefix: &str) -> impl Stream<Item = String> + Send {
        let keys: Vec<String> =
            self.0.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, _)| k.clone()).collect();
        stream::iter(keys)
    }
}

/// Backed by an `async-stream` generator that awaits between items.
struct Paged {
    pages: Vec<Vec<&'static str>>,
}

#[pooled]
impl Store for Paged {
    async fn get(&self, key: &str) -> Option<u32> {
        self.pages.iter().flatten().position(|k| *k == key).map(|i| i as u32)
    }

    fn list(&self, prefix: &str) -> impl Stream<Item = String> + Send {
        stream! {
            for page in &self.pages {
                tokio::task::yield_now().await;
                for key in page.iter().filter(|k| k.starts_with(prefix)) {
                    yield (*key).to_owned();
                }
            }
        }
    }

    fn list_all(&self) -> impl Stream<Item = String> + Send {
        stream::iter(self.pages.concat()).map(str::to_owned)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dyn_trait_with_a_stream_method_implemented_twice() {
    let stores: Vec<Arc<dyn Store>> = vec![
        Arc::new(Memory(vec![("a/1".into(), 1), ("b/1".into(), 2), ("a/2".into(), 3)])),
        Arc::new(Paged { pages: vec![vec!["a/x", "b/y"], vec!["a/z"]] }),
    ];
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                let mut keys = Vec::new();
                let mut listing = store.list("a/");
                while let Some(key) = listing.next().await {
                    tokio::task::yield_now().await;
                    keys.push(key);
                }
                let all: Vec<String> = store.list_all().collect().await;
                (i % 2, keys, all.len(), store.get("a/2").await)
            })
        })
        .collect();
    for task in tasks {
        let (which, keys, all, got) = task.await.unwrap();
        if which == 0 {
            assert_eq!((keys, all, got), (vec!["a/1".to_owned(), "a/2".to_owned()], 3, Some(3)));
        } else {
            assert_eq!((keys, all, got), (vec!["a/x".to_owned(), "a/z".to_owned()], 3, None));
        }
    }
    // `Memory` keeps the default `list_all`, which calls its `list`.
    for (name, calls) in [
        ("<streams::Memory as streams::Store>::list", 32),
        ("<streams::Paged as streams::Store>::list", 16),
        ("streams::Store::list_all", 16),
        ("<streams::Paged as streams::Store>::list_all", 16),
    ] {
        let s = stats(name);
        assert_eq!((s.allocations, s.live), (calls, 0), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_streams_move_across_workers() {
    let tasks: Vec<_> = (0..64u32)
        .map(|i| {
            let s = countdown(i % 5);
            tokio::spawn(async move {
                // Resumed on whichever worker picks the task up.
                s.fold(0, |a, x| async move { a + x }).await
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, (0..64u32).map(|i| (0..i % 5).sum::<u32>()).sum::<u32>());
    assert_eq!(stats("streams: countdown").live, 0);
}

/// A listing that owns what it yields: `+ 'static`, as real storage traits
/// return `BoxStream<'static, _>`, so the stream outlives the borrow of the
/// store and can be spawned.
#[pooled]
trait Snapshot: Send + Sync {
    fn keys(&self, prefix: &str) -> impl Stream<Item = String> + Send + 'static;
    fn first(&self) -> impl Stream<Item = &str> + Send + '_;
}

#[pooled]
impl Snapshot for Memory {
    fn keys(&self, prefix: &str) -> impl Stream<Item = String> + Send + 'static {
        let keys: Vec<String> =
            self.0.iter().map(|(k, _)| k.clone()).filter(|k| k.starts_with(prefix)).collect();
        stream! {
            for key in keys {
                tokio::task::yield_now().await;
                yield key;
            }
        }
    }

    fn first(&self) -> impl Stream<Item = &str> + Send + '_ {
        stream::iter(self.0.first().map(|(k, _)| k.as_str()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_stream_method_outlives_its_receiver() {
    let store: Box<dyn Snapshot> = Box::new(Memory(vec![("a/1".into(), 1), ("a/2".into(), 2)]));
    let keys: PooledStream<'static, String> = store.keys("a/");
    assert_eq!(store.first().collect::<Vec<_>>().await, ["a/1"]);
    drop(store);
    let keys = tokio::spawn(keys.collect::<Vec<_>>()).await.unwrap();
    assert_eq!(keys, ["a/1", "a/2"]);
    assert_eq!(stats("<streams::Memory as streams::Snapshot>::keys").live, 0);
}
