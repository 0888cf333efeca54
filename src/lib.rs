//! flowcoro puts the state machine of each `async fn` call in a typed,
//! per-function frame pool instead of a fresh heap allocation.
//!
//! ```
//! use flowcoro::pooled;
//!
//! #[pooled]
//! async fn lookup(id: usize, table: &[u32]) -> Option<u32> {
//!     table.get(id).copied()
//! }
//!
//! let table = [10, 20, 30];
//! let found = futures::executor::block_on(lookup(1, &table));
//! assert_eq!(found, Some(20));
//!
//! // Each `#[pooled]` function has its own pool, named after it.
//! let stats = flowcoro::pools().into_iter().find(|s| s.name.ends_with("::lookup")).unwrap();
//! assert_eq!((stats.allocations, stats.live), (1, 0));
//! ```
//!
//! # The `#[pooled]` attribute
//!
//! [`#[pooled]`](pooled) goes on an `async fn` (free, inherent method or
//! trait-impl method) and turns it into a plain `fn` returning
//! [`Pooled<impl Future<Output = T>>`](Pooled): the caller awaits, spawns or
//! stores it as before, but the state machine lives in a frame of the
//! function's own [`FramePool`], taken from a per-thread cache and given back
//! when the future completes or is dropped. Its behaviour is the `async
//! fn`'s: same laziness, same drop order of arguments, `Send` exactly when
//! the `async fn`'s future would be, in crates of any edition. Options:
//! `name = "label"`, `max_idle = N`, `prewarm = N`, `capacity = N` and
//! `frame_size = B` (frames in static memory), `crate = "path"`.
//!
//! # `dyn` async traits without a `Box`
//!
//! `#[pooled]` on a trait makes its `async fn`s return [`PooledDyn`] (or
//! [`LocalPooledDyn`] with `#[pooled(?Send)]`), so the trait is
//! dyn-compatible; `#[pooled]` on each impl block gives every method its own
//! pool. It is the drop-in for `#[async_trait]` (and `#[pooled(?Send)]` for
//! `#[async_trait(?Send)]`): the same traits, generic methods and default
//! bodies included, compile, run and pass clippy, without the allocation:
//!
//! ```
//! use flowcoro::pooled;
//!
//! #[pooled]
//! trait Greeter {
//!     async fn greet(&self, name: &str) -> String;
//! }
//!
//! struct English;
//!
//! #[pooled]
//! impl Greeter for English {
//!     async fn greet(&self, name: &str) -> String {
//!         format!("hello, {name}")
//!     }
//! }
//!
//! let greeters: Vec<Box<dyn Greeter>> = vec![Box::new(English)];
//! let hello = futures::executor::block_on(greeters[0].greet("pool"));
//! assert_eq!(hello, "hello, pool");
//! ```
//!
//! # Pooled async blocks
//!
//! [`pool!`] does for an `async` block what `#[pooled]` does for an `async
//! fn`: the block's state machine goes in a frame of a pool of that call
//! site. With `.into_dyn()` it replaces `Box::pin(async move { .. })` behind
//! a `BoxFuture`, as in a `tower::Service`'s future:
//!
//! ```
//! use flowcoro::{PooledDyn, pool};
//!
//! fn handle(request: String) -> PooledDyn<'static, usize> {
//!     pool!(name = "app::handle"; async move { request.len() }).into_dyn()
//! }
//!
//! assert_eq!(futures::executor::block_on(handle("four".into())), 4);
//! let stats = flowcoro::pools().into_iter().find(|s| s.name == "app::handle").unwrap();
//! assert_eq!((stats.allocations, stats.live), (1, 0));
//! ```
//!
//! # Pooled streams
//!
//! A stream behind a `BoxStream` is boxed the same way, and pooled the same
//! way. [`Pooled<S>`](Pooled) is a `Stream` (and a `FusedStream`) when `S`
//! is one; `.into_dyn_stream()` erases it into a [`PooledStream`], the
//! drop-in for `BoxStream<'a, T>` ([`LocalPooledStream`] for
//! `LocalBoxStream`). `pool!` takes a stream expression (an
//! `async_stream::stream!`, `stream::iter(..)`, a combinator chain),
//! `#[pooled]` goes on a fn returning `impl Stream<Item = T>`, and in a
//! `#[pooled]` trait such a method returns a [`PooledStream`], so the trait
//! stays dyn-compatible:
//!
//! ```
//! use flowcoro::pooled;
//! use futures::stream::{self, Stream, StreamExt};
//!
//! #[pooled]
//! trait Store: Send + Sync {
//!     fn list(&self, prefix: &str) -> impl Stream<Item = String> + Send;
//! }
//!
//! struct Memory(Vec<String>);
//!
//! #[pooled]
//! impl Store for Memory {
//!     fn list(&self, prefix: &str) -> impl Stream<Item = String> + Send {
//!         stream::iter(self.0.iter().filter(move |k| k.starts_with(prefix)).cloned())
//!     }
//! }
//!
//! let store: Box<dyn Store> = Box::new(Memory(vec!["a/1".into(), "b/2".into()]));
//! // The handle is `Unpin`: `next()` needs no pinning, even for a `!Unpin` stream.
//! let mut keys = store.list("a/");
//! assert_eq!(futures::executor::block_on(keys.next()), Some("a/1".to_owned()));
//! assert_eq!(futures::executor::block_on(keys.next()), None);
//! ```
//!
//! # Memory
//!
//! A pool keeps the frames its recent peak needs and gives the rest back as
//! the peak decays ([`DECAY_HOLD`], [`DECAY_HALF_LIFE`]); `max_idle` caps
//! it, `prewarm` reserves frames up front, [`set_idle_budget`] caps idle
//! bytes across pools and [`trim_all`] frees what is cached now. See
//! [`FramePool`] for the details and [`PoolStats`] for what is counted.
//!
//! # Without std
//!
//! With `default-features = false` the crate is `no_std` + `alloc`, for
//! microcontrollers. The `std` feature (on by default) is the per-thread
//! caches and the clock; without it every call takes and gives back its
//! frame at its pool's depot under a [`critical-section`] lock (which the
//! program or its HAL implements), and idle frames decay as `tick` (only
//! without std) says time passes. Everything else is the same.
//!
//! [`critical-section`]: https://docs.rs/critical-section
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[doc(inline)]
pub use flowcoro_macros::pool;
/// # Example
///
/// Methods, trait impls and recursion (no `Box::pin` needed: the handle is a
/// pointer):
///
/// ```
/// use flowcoro::pooled;
///
/// trait Shape {
///     async fn area(&self) -> f64;
/// }
///
/// struct Square(f64);
///
/// impl Shape for Square {
///     #[pooled]
///     async fn area(&self) -> f64 {
///         self.0 * self.0
///     }
/// }
///
/// struct Tree(Vec<Tree>);
///
/// impl Tree {
///     #[pooled(name = "tree size", max_idle = 64)]
///     async fn size(&self) -> usize {
///         let mut n = 1;
///         for child in &self.0 {
///             n += child.size().await;
///         }
///         n
///     }
/// }
///
/// # fn spawn<F: std::future::Future + Send + 'static>(f: F) -> F::Output { futures::executor::block_on(f) }
/// let tree = Tree(vec![Tree(vec![]), Tree(vec![Tree(vec![])])]);
/// assert_eq!(futures::executor::block_on(tree.size()), 4);
///
/// // The future is `Send` because the `async fn`'s would be.
/// let area = spawn(async { Square(3.0).area().await });
/// assert_eq!(area, 9.0);
///
/// let stats = flowcoro::pools().into_iter().find(|s| s.name == "tree size").unwrap();
/// assert_eq!((stats.allocations, stats.live), (4, 0));
/// ```
pub use flowcoro_macros::pooled;
#[cfg(not(feature = "std"))]
pub use flowcoro_rt::tick;
pub use flowcoro_rt::{
    DECAY_HALF_LIFE, DECAY_HOLD, FramePool, LocalPooledDyn, LocalPooledStream, PoolStats, Pooled,
    PooledDyn, PooledStream, Report, StaticFrames, idle_budget, pools, report, set_idle_budget,
    trim_all,
};
// Magazine sizes, for tests and benches that size their loads by them: not
// API (smaller under Miri, and free to change).
#[doc(hidden)]
pub use flowcoro_rt::{MAGAZINE, MAGAZINE_MAX};

/// What `#[pooled]` expansions name. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use core::future::Future;
    pub use flowcoro_rt::{
        FramePool, LocalPooledDyn, LocalPooledStream, Pooled, PooledDyn, PooledStream,
        StaticFrames, fits,
    };
    pub use futures_core::Stream;

    /// Names lifetimes (and `Self`) that a return-position `impl Trait`
    /// captures: in editions before 2024 it captures only the lifetimes its
    /// bounds name, where an `async fn`'s future captures all of them.
    pub trait Captures<T: ?Sized> {}

    impl<T: ?Sized, U: ?Sized> Captures<T> for U {}

    /// Moved into the closure that builds a frame's future, and out of it
    /// when called: that makes the closure `FnOnce` only, which the pool
    /// calls as it is, where a closure that is also `Fn` would be called
    /// through a shim of its own in every function.
    #[derive(Debug)]
    pub struct Once;

    impl Once {
        /// Spends the token.
        #[inline(always)]
        pub fn spend(self) {}
    }

    /// Erases the future of a method of a `#[pooled]` trait or impl block.
    /// The `F: Send` bound is the check that the method's body is `Send`:
    /// rustc's error on it names what the body holds across an `.await`.
    #[inline(always)]
    pub fn into_dyn<'a, F: Future + Send + 'a>(handle: Pooled<F>) -> PooledDyn<'a, F::Output> {
        handle.into_dyn()
    }

    /// [`into_dyn`] under `#[pooled(?Send)]`.
    #[inline(always)]
    pub fn into_local_dyn<'a, F: Future + 'a>(handle: Pooled<F>) -> LocalPooledDyn<'a, F::Output> {
        handle.into_local_dyn()
    }

    /// Erases the stream of a `fn .. -> impl Stream` method of a `#[pooled]`
    /// trait or impl block. The `S: Send` bound is the check that the
    /// stream is `Send`, as for [`into_dyn`].
    #[inline(always)]
    pub fn into_dyn_stream<'a, S: Stream + Send + 'a>(
        handle: Pooled<S>,
    ) -> PooledStream<'a, S::Item> {
        handle.into_dyn_stream()
    }

    /// What `pool!` builds: a future or a stream. `pool!` calls
    /// `Probe::of(&handle).pool_takes_a_future_or_a_stream()` with both
    /// traits in scope; the method resolves (to the future's first) only if
    /// the value is one of them, and rustc's error otherwise names both
    /// bounds.
    #[derive(Debug)]
    pub struct Probe<T>(core::marker::PhantomData<T>);

    impl<T> Probe<T> {
        #[inline(always)]
        pub fn of(_: &Pooled<T>) -> Self {
            Probe(core::marker::PhantomData)
        }
    }

    pub trait ProbeFuture {
        #[inline(always)]
        fn pool_takes_a_future_or_a_stream(&self) {}
    }

    impl<F: Future> ProbeFuture for Probe<F> {}

    pub trait ProbeStream {
        #[inline(always)]
        fn pool_takes_a_future_or_a_stream(&self) {}
    }

    impl<S: Stream> ProbeStream for &Probe<S> {}

    /// [`into_dyn_stream`] under `#[pooled(?Send)]`.
    #[inline(always)]
    pub fn into_local_dyn_stream<'a, S: Stream + 'a>(
        handle: Pooled<S>,
    ) -> LocalPooledStream<'a, S::Item> {
        handle.into_local_dyn_stream()
    }
}
