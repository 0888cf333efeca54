//! The `#[pooled]` attribute and the `pool!` macro of
//! [flowcoro](https://docs.rs/flowcoro): they put the state machine of each
//! call of an `async fn` (or of each run of an `async` block) in a frame of
//! a pool of its own instead of the heap.
//!
//! Use them through the `flowcoro` crate, whose docs have runnable
//! examples; the code they generate reaches the runtime through `flowcoro`.
//!
//! # Modules
//!
//! The crate reads top down: `lib.rs` holds the entry points, and each
//! module imports only modules listed below it.
//!
//! - `dispatch`: `#[pooled]` as a whole: its arguments, its item, the transform for it.
//! - `block`: `pool!`: a future or stream built in a frame of its call site's pool.
//! - `validate`: what `#[pooled]` accepts, and the error on anything else.
//! - `trait_decl`: `#[pooled]` on a trait: its `async fn`s return a named, erased handle.
//! - `impl_block`: `#[pooled]` on an impl block, of a `#[pooled]` trait or inherent.
//! - `method`: one `async fn` of a `#[pooled]` trait or impl block: its options, its rewrite.
//! - `async_fn`: `#[pooled]` on an `async fn`: a plain `fn` returning a pooled future.
//! - `dyn_sig`: the signature of a `#[pooled]` trait's method, returning an erased handle.
//! - `stream_fn`: `#[pooled]` on a `fn` returning `impl Stream`: the stream in a frame.
//! - `frame`: the pooled body of a rewritten `async fn`, and which attributes go in it.
//! - `params`: how the parameters move into the frame.
//! - `receiver`: a `&mut self` the body needs as a `mut` binding.
//! - `lifetimes`: the elided lifetimes of a signature named, and other lifetime passes.
//! - `defer`: letting other attribute macros expand first, then rewriting what they made.
//! - `handoff`: what one expansion of `#[pooled]` tells a later one: `__after`, `__within`.
//! - `paths`: where generated code finds flowcoro (`::flowcoro`, or `crate = "path"`).
//! - `args`: the user's options, parsed, with errors that name the macro they are for.
//! - `errors`: the errors of one expansion, combined and emitted beside its output.
#![forbid(unsafe_code)]

mod args;
mod async_fn;
mod block;
mod defer;
mod dispatch;
mod dyn_sig;
mod errors;
mod frame;
mod handoff;
mod impl_block;
mod lifetimes;
mod method;
mod params;
mod paths;
mod receiver;
mod stream_fn;
mod trait_decl;
mod validate;

use proc_macro::TokenStream;

/// Places the future of each call of an `async fn` in a frame of a pool that
/// belongs to that function, instead of leaving it to the caller (on the
/// stack, or in a `Box` when it is spawned, stored or recursive).
///
/// Goes on an `async fn` with a body (and on a `fn` returning `impl
/// Stream`, [below](#on-a-fn-returning-impl-stream)): free, inherent method
/// or method of a trait impl (also of a trait declared with `async fn`),
/// generic or not, with any receiver, borrowed arguments, argument patterns and
/// `impl Trait` arguments, `unsafe` or not. The function becomes a plain
/// `fn` with the same name, visibility, attributes, generics, where-clause
/// and parameters that returns `flowcoro::Pooled<impl Future<Output = T>>`:
/// a two-word, `Unpin` handle, `Send` or `Sync` exactly when the `async
/// fn`'s future would be.
///
/// It also goes on a trait declaration and its impl blocks, to make the
/// trait's `async fn`s callable through `dyn` without a `Box` per call (the
/// drop-in for `#[async_trait]`, see
/// [below](#on-a-trait-and-its-impl-blocks)), and on an inherent impl block,
/// where it pools each `async fn` of the block as if each had the attribute.
///
/// Code written for async-recursion may name its future's lifetime
/// `'async_recursion` in arguments (`node: Option<&'async_recursion Node>`):
/// it is declared on the fn, and the future may hold it like any other.
///
/// The caller sees what the `async fn` did: nothing runs before the first
/// poll; every argument moves into the future (a reference only if the body
/// uses it: it has nothing to drop), and arguments and locals drop in the
/// same order, also when the future is dropped early; `?`, `return` and
/// `Self` work; panics propagate; recursion (direct or mutual) needs no
/// `Box`, since the handle is a pointer. Each call costs one frame taken from
/// the pool (a per-thread cache hit in steady state) and given back when the
/// future completes or is dropped.
///
/// # Options
///
/// `#[pooled(key = value, ...)]`, each key at most once:
///
/// - `?Send`: on a trait and its impl blocks, the futures need not be `Send`
///   (see below). On a fn it changes nothing (its future is `Send` exactly
///   when its body is), so `#[async_recursion(?Send)]` carries over as it is.
/// - `Send`, `Sync`: on a fn, its future is declared `Send` (`Sync`) in the
///   signature, `Pooled<impl Future<Output = T> + Send>`, and a body that is
///   not is an error that names what it holds. `Send` is what a fn that
///   spawns its own recursive call needs (`tokio::spawn(walk(n - 1))`):
///   without it rustc would have to infer the future's `Send` from a body
///   that itself needs it, and stops with E0283, "cannot satisfy `impl
///   Future<Output = T>: Send`". (`#[async_recursion]` and
///   `#[async_recursion(Sync)]` declare them too.)
/// - `crate = "path"`: where the `flowcoro` crate is, for crates that
///   re-export it (default `::flowcoro`); the path may be written unquoted
///   too, so that a library's `macro_rules!` wrapper can pass
///   `crate = $crate::flowcoro` to the crates that implement its traits.
/// - `name = "label"`: the pool's name in [`pools`](https://docs.rs/flowcoro/latest/flowcoro/fn.pools.html)
///   and `report` (default: the function's path, with the type and trait of
///   a method: `app::server::run`, `app::server::Listener::run`,
///   `<app::Map as app::Store>::get`, wherever the attribute is).
/// - `max_idle = N`: a cap on the frames the pool keeps cached when they
///   come back, per layout class (default: none; the bound follows the
///   pool's recent peak of live frames and decays after it).
/// - `prewarm = N`: frames the pool reserves in one batch on the first call,
///   so the first `N` concurrent calls need no allocation.
/// - `capacity = N`, `frame_size = B` (default 256): `N` frames of `B`
///   bytes in static memory (a `static` beside the pool), served first and
///   never freed; past `N` live calls, frames come from the heap as usual.
///   A future whose frame (rounded up to 64-byte lines, plus a word) is
///   larger than `B` is a compile-time error. For microcontrollers.
///
/// # Expansion
///
/// ```text
/// #[pooled]
/// pub async fn name<G>(self, a: A, (b, c): (B, C), r: &R) -> T where W { body }
/// ```
///
/// becomes
///
/// ```text
/// pub fn name<'life0, G>(self, a: A, __arg2: (B, C), r: &'life0 R)
///     -> ::flowcoro::__private::Pooled<impl ::flowcoro::__private::Captures<(&'life0 (), *const Self)>
///                                      + ::flowcoro::__private::Future<Output = T>>
/// where W
/// {
///     let __pool: &'static ::flowcoro::__private::FramePool = {
///         fn __flowcoro_site() {}  // its path names the pool
///         static POOL: ::flowcoro::__private::FramePool =
///             ::flowcoro::__private::FramePool::at_site(&__flowcoro_site);
///         &POOL
///     };
///     let __once = ::flowcoro::__private::Once;   // makes the closure `FnOnce` only
///     let __make = move || { __once.spend(); async move {
///         if false { let __ret: T = loop {}; return __ret; } // fixes the type; never runs
///         let _ = &self;                                   // captures `self` whole
///         let a = a;
///         let __arg2 = __arg2;
///         let (b, c) = __arg2;
///         match () { () => { body } }                      // drops temporaries first
///     } };
///     ::flowcoro::__private::FramePool::alloc_with(__pool, __make)
/// }
/// ```
///
/// The future is built directly in its frame. The `impl Future` has the
/// user's span, so the capture rules are those of the user's edition: in
/// 2024 it captures every lifetime in scope, as an `async fn`'s future
/// does; before, a `Captures<(&'life0 (), .., *const Self)>` bound names
/// the arguments' lifetimes (elided ones named) and `Self`, so only a
/// lifetime hidden in a path (`Ref<T>`) must be written (`Ref<'_, T>`). A generic function has one pool
/// for all its instantiations.
///
/// The closure, the async block and the `match` carry the spans of the
/// user's `async` keyword and body, so rustc and clippy read the body as in
/// the `async fn`: its own lints fire (`needless_return`,
/// `useless_conversion`, `unused_variables`...), and the expansion draws
/// none (under rustc's defaults and clippy's `all` and `pedantic`).
///
/// # On a fn returning `impl Stream`
///
/// On a plain `fn` (free, method, or method of a `#[pooled]` trait or impl
/// block) whose return type is `impl Stream<Item = T> [+ Send] [+ 'a]`, the
/// attribute pools the stream the body returns: the fn returns
/// `flowcoro::Pooled<impl Stream<Item = T> ..>` (the declared type, behind
/// the handle), and in a `#[pooled]` trait `flowcoro::PooledStream<'a, T>`
/// (`LocalPooledStream` under `?Send`), the drop-in for `BoxStream<'a, T>`.
/// The body runs when the fn is called, as written; its value is built in a
/// frame of the fn's pool:
///
/// ```text
/// #[pooled]
/// fn rows(&self, n: usize) -> impl Stream<Item = Row> + Send + '_ { body }
/// ```
///
/// becomes
///
/// ```text
/// fn rows(&self, n: usize)
///     -> ::flowcoro::__private::Pooled<impl Stream<Item = Row> + Send + '_>
/// {
///     let __pool: &'static ::flowcoro::__private::FramePool = { /* as above */ };
///     ::flowcoro::__private::FramePool::alloc_stream_with(__pool, move || { body })
/// }
/// ```
///
/// In a trait, the handle's lifetime is the declared bound (`+ 'a`, `+ '_`,
/// `+ 'static`: a `'static` listing outlives the borrow of `self` and can
/// be spawned, as a `BoxStream<'static, T>`), or without one, a lifetime
/// every argument outlives, as for an `async fn`; the item type must be
/// named (`impl Stream<Item = T>`). A body whose value is not a stream is an
/// error on the declared type.
///
/// # With other attribute macros
///
/// An attribute macro below `#[pooled]` (`#[tracing::instrument]`, ...)
/// expands first: `#[pooled]` re-attaches itself after it and pools what it
/// made. So `#[tracing::instrument]` sees the `async fn` and instruments its
/// future, above or below `#[pooled]`, on a method of a `#[pooled]` impl
/// block and on a default method of a `#[pooled]` trait alike: the span is
/// entered on every poll of the body. An attribute that turns the `async fn`
/// into a plain `fn` (`#[tokio::main]`, `#[tokio::test]`) leaves nothing to
/// pool: that is an error that says so.
///
/// # On a trait and its impl blocks
///
/// ```text
/// #[pooled]
/// trait Store {
///     async fn get(&self, key: &str) -> Option<u32>;
///     async fn len(&self) -> usize { 0 }
/// }
///
/// #[pooled]
/// impl Store for Map {
///     async fn get(&self, key: &str) -> Option<u32> { body }
/// }
/// ```
///
/// becomes
///
/// ```text
/// trait Store {
///     fn get<'life0, 'life1, 'pooled>(&'life0 self, key: &'life1 str)
///         -> ::flowcoro::__private::PooledDyn<'pooled, Option<u32>>
///     where 'life0: 'pooled, 'life1: 'pooled, Self: 'pooled;
///
///     fn len<'life0, 'pooled>(&'life0 self) -> ::flowcoro::__private::PooledDyn<'pooled, usize>
///     where 'life0: 'pooled, Self: ::core::marker::Sync + 'pooled
///     {
///         // A pool named `module::path::Store::len`, shared by every impl
///         // that keeps the default.
///         ::flowcoro::__private::into_dyn(/* the frame, as above */)
///     }
/// }
///
/// impl Store for Map {
///     fn get<'life0, 'life1, 'pooled>(&'life0 self, key: &'life1 str)
///         -> ::flowcoro::__private::PooledDyn<'pooled, Option<u32>>
///     where 'life0: 'pooled, 'life1: 'pooled, Self: 'pooled
///     {
///         // A pool named `<module::path::Map as module::path::Store>::get`.
///         ::flowcoro::__private::into_dyn(/* the frame, as above */)
///     }
/// }
/// ```
///
/// `flowcoro::PooledDyn<'a, T>` is a type-erased
/// `Future<Output = T> + Send + 'a`, so the trait is `dyn`-compatible (with `&self`, `&mut self`,
/// `self: Box<Self>`, `self: Arc<Self>`, `self: Pin<&mut Self>`...
/// receivers) and `Box<dyn Store>` or `&dyn Store` calls take a frame of the
/// impl method's pool, not a `Box`. Each elided lifetime of the arguments
/// gets a name, and the future may live as long as all of them (and
/// `Self`); code written for async-trait that names its `'async_trait`
/// lifetime in bounds keeps working. Associated types, associated consts
/// and methods that are not `async` are left as written.
///
/// - Without `?Send`, each future must be `Send`; a body that is not (an
///   `Rc` held across an `.await`) is an error on the method's name, which
///   says what is held. A default body holds `self`: it asks `Self: Sync`
///   (for `&self`, `Arc<Self>`) or `Self: Send` (for `&mut self`, `self`,
///   `Box<Self>`) on the method, unless the trait has it as a supertrait, as
///   async-trait does; only a call of that default on a type (or `dyn`)
///   without it is an error.
/// - With `#[pooled(?Send)]` on the trait and on its impl blocks, the
///   methods return `flowcoro::LocalPooledDyn`, which needs no `Send`.
/// - A method may carry its own `#[pooled(name = "...", max_idle = N)]`.
/// - Generic methods (type and const parameters, `impl Trait` arguments) are
///   accepted as async-trait accepts them: one pool per method serves every
///   instantiation, and they can't be called through `dyn` (keep them off
///   the vtable with `where Self: Sized`, or rustc says the trait is not
///   `dyn`-compatible).
/// - An impl block of a `#[pooled]` trait needs the attribute too. Without
///   it, rustc reports that the lifetime parameters or bounds of the method
///   do not match the trait declaration (E0195), on the method.
/// - Lifetimes hidden in a path (`Ref<T>` for `Ref<'_, T>`) can't be named
///   by the attribute: write them `'_`.
///
/// # Notes
///
/// - A bare `#[must_use]` on the function is dropped: the returned handle is
///   `#[must_use]` already. It does not carry over to the future's output.
/// - Clippy's `unused_async` and `missing_errors_doc`, which look at the
///   `async fn` signature, don't see this one's.
///
/// # Errors
///
/// On anything but an `async fn` with a body, a trait or an impl block, on
/// an unknown, repeated, malformed or misplaced option, and on an `async fn`
/// another attribute made a plain `fn`, the attribute reports a compile
/// error on the offending tokens and still emits the item (rewritten with
/// the valid options where it can be).
#[proc_macro_attribute]
pub fn pooled(args: TokenStream, input: TokenStream) -> TokenStream {
    dispatch::pooled(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Places an `async` block's state machine in a frame of a pool that
/// belongs to this call site, and returns it as a
/// `flowcoro::Pooled<impl Future>`: the `Box::pin(async move { .. })` of a
/// `BoxFuture` without the allocation. `.into_dyn()` makes it a
/// `flowcoro::PooledDyn<'a, T>`, the drop-in for `BoxFuture<'a, T>`.
///
/// It takes any other expression whose value is a future or a stream too
/// (`async_stream::stream! { .. }`, `stream::iter(..)`, a combinator chain):
/// the value is built in the frame, and `.into_dyn_stream()` makes a stream
/// a `flowcoro::PooledStream<'a, T>`, the drop-in for `BoxStream<'a, T>`. A
/// value that is neither is an error that names both traits.
///
/// ```text
/// pool!(async move { body })
/// pool!(name = "auth", max_idle = 64; async move { body })
/// pool!(name = "rows"; stream::iter(rows).map(decode))
/// ```
///
/// Options, before a `;`: `name = "label"` (default: the module path, line
/// and column of the call), `max_idle = N`, `prewarm = N`, `capacity = N`,
/// `frame_size = B`, `crate = "path"`, as for `#[pooled]`. Each call site has a pool of its own (a
/// `static` in the expansion), also in a generic fn, a closure or another
/// macro's expansion; two sites with the same `name` are two pools.
#[proc_macro]
pub fn pool(input: TokenStream) -> TokenStream {
    block::pool(input.into()).into()
}
