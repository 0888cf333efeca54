//! Trait and fn shapes as `#[async_trait]` users write them, with
//! `#[flowcoro::pooled]` in its place: the drop-in's contract.
//!
//! `tests/shapes.rs` calls every shape on tokio's multi-thread runtime,
//! statically and through `dyn` where the trait is `dyn`-compatible. CI
//! runs `cargo clippy -p flowcoro-shapes --tests -- -D warnings -D clippy::all
//! -D clippy::pedantic` over this crate: any lint the expansion draws fails
//! it. The shapes are written to draw none as plain `async fn`s, and
//! `lints_that_must_fire` holds user code whose own lints must still fire
//! (each is `#[expect]`ed, so a lint that goes quiet fails the check too).
#![allow(clippy::unused_async)] // plain `async fn`s stand beside the pooled ones

pub mod lints_that_must_fire;

use auto_impl::auto_impl;
use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::num::ParseIntError;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use flowcoro::pooled;
use futures::stream::{Stream, StreamExt};

/// Waits for one round of the executor, so that a body really suspends.
pub async fn tick() {
    struct Tick(bool);
    impl Future for Tick {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
            if self.0 {
                std::task::Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
    }
    Tick(false).await;
}

/// The store of a server: every receiver, default bodies that need `Self:
/// Sync` / `Send` without the trait asking for it, generic methods kept off
/// the vtable with `where Self: Sized`, argument patterns, a `#[cfg]`
/// argument, an output that is a future, `?` and borrowed outputs.
#[pooled]
pub trait Store {
    /// The value under `key`.
    async fn get(&self, key: &str) -> Option<String>;

    /// A name borrowed from `self`.
    async fn name(&self) -> &str;

    /// The length of the value under `key`: a default body holding `&self`.
    async fn len_of(&self, key: &str) -> usize {
        tick().await;
        self.get(key).await.map_or(0, |value| value.len())
    }

    /// Counts a call: a default body holding `&mut self`.
    async fn touch(&mut self) -> u32 {
        tick().await;
        1
    }

    /// A tuple argument, destructured in the impls.
    async fn pair(&self, (a, b): (u32, u32)) -> u32;

    /// A generic method: not in the vtable.
    async fn render<T: Display + Send>(&self, item: T) -> String
    where
        Self: Sized;

    /// A const generic method: not in the vtable.
    async fn zeros<const N: usize>(&self) -> [u8; N]
    where
        Self: Sized;

    /// An `impl Trait` argument: not in the vtable.
    async fn show(&self, item: impl Display + Send) -> String
    where
        Self: Sized;

    /// An argument that only exists under a `cfg`.
    async fn configured(&self, #[cfg(any())] hidden: u32, shown: u32) -> u32;

    /// A future as the output.
    async fn later(&self, x: u32) -> std::future::Ready<u32>;

    /// `?` in a default body.
    ///
    /// # Errors
    /// When the value under `key` is not a number.
    async fn number(&self, key: &str) -> Result<u32, ParseIntError> {
        let value = self.get(key).await.unwrap_or_default();
        let n: u32 = value.parse()?;
        Ok(n)
    }

    /// `self: Arc<Self>`.
    async fn shared(self: Arc<Self>) -> usize;

    /// `self: Pin<&mut Self>`.
    async fn pinned(self: Pin<&mut Self>) -> usize;

    /// `self: Box<Self>` with a default body.
    async fn boxed(self: Box<Self>) -> usize
    where
        Self: Send,
    {
        tick().await;
        7
    }
}

/// A map behind the store.
#[derive(Debug, Default)]
pub struct Memory {
    pub map: HashMap<String, String>,
    pub touches: u32,
}

#[pooled]
impl Store for Memory {
    async fn get(&self, key: &str) -> Option<String> {
        tick().await;
        self.map.get(key).cloned()
    }

    async fn name(&self) -> &str {
        "memory"
    }

    async fn touch(&mut self) -> u32 {
        tick().await;
        self.touches += 1;
        self.touches
    }

    async fn pair(&self, (a, b): (u32, u32)) -> u32 {
        tick().await;
        a + b
    }

    async fn render<T: Display + Send>(&self, item: T) -> String {
        tick().await;
        format!("<{item}>")
    }

    async fn zeros<const N: usize>(&self) -> [u8; N] {
        [0; N]
    }

    async fn show(&self, item: impl Display + Send) -> String {
        tick().await;
        item.to_string()
    }

    async fn configured(&self, #[cfg(any())] hidden: u32, shown: u32) -> u32 {
        shown * 2
    }

    async fn later(&self, x: u32) -> std::future::Ready<u32> {
        tick().await;
        std::future::ready(x + 1)
    }

    async fn shared(self: Arc<Self>) -> usize {
        tick().await;
        self.map.len()
    }

    async fn pinned(self: Pin<&mut Self>) -> usize {
        self.map.len() + 1
    }
}

/// A codec generic over what it encodes; an impl for every `T` whose unused
/// `_: &T` argument needs no `T: Sync`.
#[pooled]
pub trait Codec<T> {
    /// Encodes `item`.
    async fn encode(&self, item: &T) -> Vec<u8>;

    /// Checks `item` without looking at it.
    async fn accepts(&self, _: &T) -> bool;
}

/// Encodes anything by its `Debug` form.
#[derive(Debug, Clone, Copy)]
pub struct DebugCodec;

#[pooled]
impl<T: std::fmt::Debug + Sync> Codec<T> for DebugCodec {
    async fn encode(&self, item: &T) -> Vec<u8> {
        tick().await;
        format!("{item:?}").into_bytes()
    }

    async fn accepts(&self, _: &T) -> bool {
        tick().await;
        true
    }
}

/// Accepts everything, for any `T`, `Sync` or not.
#[derive(Debug, Clone, Copy)]
pub struct Anything;

/// A check that takes a `&T` it never reads.
#[pooled]
pub trait Check<T> {
    /// Whether `T` passes.
    async fn check(&self, _: &T) -> bool;
}

#[pooled]
impl<T> Check<T> for Anything {
    async fn check(&self, _: &T) -> bool {
        true
    }
}

/// A parser borrowing its input for a lifetime of the trait.
#[pooled]
pub trait Parser<'input> {
    /// The first word of `input`.
    async fn first_word(&self, input: &'input str) -> &'input str;
}

/// Splits on spaces.
#[derive(Debug)]
pub struct Words;

#[pooled]
impl<'input> Parser<'input> for Words {
    async fn first_word(&self, input: &'input str) -> &'input str {
        tick().await;
        input.split(' ').next().unwrap_or_default()
    }
}

/// Code written for async-trait that names its `'async_trait` lifetime.
#[pooled]
pub trait Labelled<T = ()> {
    /// A label, by default `"default"`.
    async fn label(&self) -> &str
    where
        T: 'async_trait,
    {
        "default"
    }
}

#[pooled]
impl<T> Labelled<T> for () {}

/// Associated types and consts beside pooled methods.
#[pooled]
pub trait Source: Send + Sync {
    /// What the source yields.
    type Item: Send;
    /// How many it yields at most.
    const LIMIT: usize;

    /// The next item.
    async fn next_item(&self) -> Option<Self::Item>;

    /// Up to `LIMIT` items: a default body, the supertraits already ask
    /// for `Sync`.
    async fn take_all(&self) -> Vec<Self::Item> {
        let mut out = Vec::new();
        while out.len() < Self::LIMIT {
            match self.next_item().await {
                Some(item) => out.push(item),
                None => break,
            }
        }
        out
    }
}

/// Counts up to three.
#[derive(Debug, Default)]
pub struct Counter(pub AtomicU32);

#[pooled]
impl Source for Counter {
    type Item = u32;
    const LIMIT: usize = 3;

    async fn next_item(&self) -> Option<u32> {
        tick().await;
        Some(self.0.fetch_add(1, Ordering::Relaxed))
    }
}

/// A trait whose futures hold an `Rc`: `?Send` on the trait and its impls.
#[pooled(?Send)]
pub trait Local {
    /// Reads the shared value.
    async fn read(&self) -> u32;

    /// Reads it twice, holding an `Rc` across an await.
    async fn twice(&self) -> u32 {
        let held = Rc::new(self.read().await);
        tick().await;
        *held * 2
    }
}

/// A value behind an `Rc`.
#[derive(Debug)]
pub struct Shared(pub Rc<u32>);

#[pooled(?Send)]
impl Local for Shared {
    async fn read(&self) -> u32 {
        tick().await;
        *self.0
    }
}

/// Traced work: `#[tracing::instrument]` on the methods of a pooled trait
/// and impl block, and above or below `#[pooled]` on free fns.
#[pooled]
pub trait Traced: Sync {
    /// Work in a span named after the method.
    async fn work(&self, steps: u32) -> u32;

    /// A default body in a span of its own.
    #[tracing::instrument(skip(self))]
    async fn checked(&self, steps: u32) -> u32 {
        tracing::info!("checking");
        tick().await;
        tracing::info!("checked");
        steps
    }
}

/// A worker with an id.
#[derive(Debug)]
pub struct Worker {
    pub id: u32,
}

#[pooled]
impl Traced for Worker {
    #[tracing::instrument(skip(self), fields(worker = self.id), ret)]
    async fn work(&self, steps: u32) -> u32 {
        for step in 0..steps {
            tracing::info!(step, "step");
            tick().await;
        }
        steps + self.id
    }
}

/// `#[pooled]` above `#[tracing::instrument]`.
///
/// # Errors
/// When `x` is odd.
#[pooled]
#[tracing::instrument(err)]
pub async fn traced_below(x: u32) -> Result<u32, String> {
    tracing::info!("before");
    tick().await;
    tracing::info!("after");
    if x % 2 == 0 { Ok(x) } else { Err(format!("{x} is odd")) }
}

/// `#[tracing::instrument]` above `#[pooled]`.
#[tracing::instrument]
#[pooled]
pub async fn traced_above(x: u32) -> u32 {
    tracing::info!("before");
    tick().await;
    tracing::info!("after");
    x + 1
}

/// A trait that `#[auto_impl]`, below `#[pooled]`, forwards through `&`,
/// `Arc` and `Box`: it reads the trait as `#[pooled]` leaves it, as it
/// reads async-trait's, including the default bodies that carry an
/// attribute of their own.
#[pooled]
#[auto_impl(&, Arc, Box)]
pub trait Named: Send + Sync {
    /// The name.
    async fn name(&self) -> String;

    /// A greeting, by default from the name.
    async fn greet(&self, who: &str) -> String {
        format!("{} greets {who}", self.name().await)
    }

    /// The name, loud; a `Box` keeps this default instead of forwarding.
    #[auto_impl(keep_default_for(Box))]
    async fn shout(&self) -> String {
        self.name().await.to_uppercase()
    }
}

/// A robot, which shouts in its own way.
#[derive(Debug)]
pub struct Robot;

#[pooled]
impl Named for Robot {
    async fn name(&self) -> String {
        tick().await;
        "robot".to_owned()
    }

    async fn shout(&self) -> String {
        "BEEP".to_owned()
    }
}

/// A count that a traced method moves on to another, through a `&mut` of
/// its `&mut self` (a body async-trait accepts and the `async fn` does not).
#[derive(Debug, Default)]
pub struct Tally(pub u32);

#[allow(clippy::mut_mut, reason = "the shape under test: a borrow of the receiver itself")]
fn switch<'a>(tally: &mut &'a mut Tally, other: &'a mut Tally) {
    *tally = other;
}

impl Tally {
    /// Counts one on `other` instead of `self`.
    #[tracing::instrument(skip(other))]
    #[pooled]
    pub async fn count_on<'a>(&'a mut self, other: &'a mut Tally) -> u32 {
        tracing::info!("switching");
        switch(&mut self, other);
        tick().await;
        self.0 += 1;
        self.0
    }
}

/// Free fns and inherent methods with the parameters that draw lints when
/// rebound: `_`-prefixed, `mut`, patterns, references, `impl Trait`.
#[pooled]
pub async fn parameters(
    _unused: String,
    mut count: u32,
    (a, b): (u32, u32),
    by_ref: &u32,
    _: &str,
    shown: impl Display,
) -> String {
    count += a + b + *by_ref;
    tick().await;
    format!("{shown}{count}")
}

/// A small `Copy` type behind a reference, which clippy's pedantic set
/// watches for.
#[pooled]
pub async fn small_by_ref(x: &u32) -> u32 {
    tick().await;
    *x + 1
}

/// An output that is a future itself.
#[pooled]
pub async fn make_later(x: u32) -> std::future::Ready<u32> {
    tick().await;
    std::future::ready(x)
}

/// Inherent methods, with the attribute on the block.
#[derive(Debug, Default)]
pub struct Listener {
    pub accepted: u32,
}

#[pooled]
impl Listener {
    /// Accepts one connection.
    pub async fn run(&mut self) -> u32 {
        tick().await;
        self.accepted += 1;
        self.accepted
    }
}

/// The same method name on another type, with the attribute on the method.
#[derive(Debug, Default)]
pub struct Handler;

impl Handler {
    /// Handles one request.
    #[pooled]
    pub async fn run(&self) -> u32 {
        tick().await;
        2
    }
}

/// And a free fn of that name.
#[pooled]
pub async fn run() -> u32 {
    tick().await;
    3
}

/// A `BoxFuture` site written with `pool!`: the future of a handler,
/// erased.
pub fn handler(x: u32) -> flowcoro::PooledDyn<'static, u32> {
    flowcoro::pool!(name = "shapes: handler"; async move {
        tick().await;
        x * 3
    })
    .into_dyn()
}

/// Frames in static memory, on a fn and a `pool!` site.
#[pooled(capacity = 4, frame_size = 128)]
pub async fn sensor_read(channel: u8) -> u32 {
    tick().await;
    u32::from(channel) * 2
}

/// A `pool!` site with static frames.
pub fn static_handler(x: u32) -> flowcoro::PooledDyn<'static, u32> {
    flowcoro::pool!(capacity = 2, frame_size = 64; async move { x + 1 }).into_dyn()
}

/// A borrowing block.
pub async fn borrowing(words: &[&str]) -> usize {
    flowcoro::pool!(async { words.iter().map(|w| w.len()).sum() }).await
}

/// A listing through `dyn`: the `BoxStream` method of storage traits, with
/// a default and a pooled `async fn` beside it.
#[pooled]
pub trait Listing: Send + Sync {
    /// The keys under `prefix`.
    fn list<'a>(&'a self, prefix: &'a str) -> impl Stream<Item = String> + Send + 'a;

    /// Every key.
    fn list_all(&self) -> impl Stream<Item = String> + Send {
        self.list("")
    }

    /// How many keys there are under `prefix`.
    async fn count(&self, prefix: &str) -> usize {
        self.list(prefix).count().await
    }
}

/// A listing of fixed keys.
#[derive(Debug, Default)]
pub struct Keys(pub Vec<String>);

#[pooled]
impl Listing for Keys {
    fn list<'a>(&'a self, prefix: &'a str) -> impl Stream<Item = String> + Send + 'a {
        futures::stream::iter(self.0.iter().filter(move |k| k.starts_with(prefix)).cloned())
    }
}

/// A free stream fn whose body only calls a fn.
#[pooled]
pub fn no_keys() -> impl Stream<Item = String> + Send {
    futures::stream::empty()
}

/// A stream fn that borrows, with an early return.
#[pooled]
pub fn first_words(text: &str, limit: usize) -> impl Stream<Item = &str> + Send + '_ {
    let words = text.split_whitespace();
    if limit == 0 {
        return futures::stream::iter(words.take(0));
    }
    futures::stream::iter(words.take(limit))
}

/// A stream method of a type.
impl Keys {
    /// The keys, longest first.
    #[pooled]
    pub fn by_length(&self) -> impl Stream<Item = &str> + '_ {
        let mut keys: Vec<&str> = self.0.iter().map(String::as_str).collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        futures::stream::iter(keys)
    }
}
