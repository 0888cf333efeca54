//! The `#[pooled]` attribute of [flowcoro](https://docs.rs/flowcoro): it
//! puts the state machine of each call of an `async fn` in a frame of that
//! function's pool instead of the heap.
//!
//! Use it through the `flowcoro` crate, whose docs have runnable examples;
//! the code it generates reaches the runtime through `flowcoro`.
#![forbid(unsafe_code)]

mod args;
mod expand;
mod params;
mod validate;

use proc_macro::TokenStream;

/// Places the future of each call of an `async fn` in a frame of a pool that
/// belongs to that function, instead of leaving it to the caller (on the
/// stack, or in a `Box` when it is spawned or recursive).
///
/// Goes on an `async fn` with a body: free, inherent method or method of a
/// trait impl (also of a trait declared with `async fn`), generic or not,
/// with any receiver, borrowed arguments, argument patterns and
/// `impl Trait` arguments, `unsafe` or not. The function becomes a plain
/// `fn` with the same name, visibility, attributes, generics, where-clause
/// and parameters that returns `flowcoro::Pooled<impl Future<Output = T>>`:
/// a pointer-sized, `Unpin` handle, `Send` or `Sync` exactly when the
/// `async fn`'s future would be.
///
/// The caller sees what the `async fn` did: nothing runs before the first
/// poll; every argument moves into the future, and arguments and locals drop
/// in the same order, also when the future is dropped early; `?`, `return`
/// and `Self` work; panics propagate; recursion (direct or mutual) needs no
/// `Box`, since the handle is a pointer. Each call costs one frame taken from
/// the pool (a per-thread cache hit in steady state) and given back when the
/// future completes or is dropped.
///
/// # Options
///
/// `#[pooled(key = value, ...)]`, each key at most once:
///
/// - `crate = "path"`: where the `flowcoro` crate is, for crates that
///   re-export it (default `::flowcoro`).
/// - `name = "label"`: the pool's name in [`pools`](https://docs.rs/flowcoro/latest/flowcoro/fn.pools.html)
///   and `report` (default: the module path and the function's name,
///   `my_crate::module::name`).
/// - `max_idle = N`: how many frames the pool keeps cached when they come
///   back (default `flowcoro::DEFAULT_MAX_IDLE`).
///
/// # Expansion
///
/// ```text
/// #[pooled]
/// pub async fn name<G>(self, a: A, (b, c): (B, C)) -> T where W { body }
/// ```
///
/// becomes
///
/// ```text
/// pub fn name<G>(self, a: A, __arg2: (B, C))
///     -> ::flowcoro::__private::Pooled<impl ::flowcoro::__private::Future<Output = T>>
/// where W
/// {
///     let __pool: &'static ::flowcoro::__private::FramePool = {
///         static POOL: ::flowcoro::__private::FramePool =
///             ::flowcoro::__private::FramePool::new("my_crate::module::name");
///         &POOL
///     };
///     ::flowcoro::__private::FramePool::alloc_with(__pool, move || async move {
///         // Fixes the block's output type to `T`; never runs.
///         if let Some(__ret) = None::<T> { return __ret; }
///         let _ = &self; // captures `self` whole
///         let a = a;
///         let __arg2 = __arg2;
///         let (b, c) = __arg2;
///         let __ret: T = match () { () => { body } };
///         __ret
///     })
/// }
/// ```
///
/// The `impl Future` captures every lifetime in scope (edition 2024 rules)
/// in user crates of any edition, as an `async fn`'s future does. A generic
/// function has one pool for all its instantiations.
///
/// # Notes
///
/// - The default pool name of a method is `module::path::method`: the
///   attribute sees the method, not the type of its impl. Use `name` to tell
///   apart methods of one name in one module.
/// - `#[must_use]` on the function applies to the returned handle (which is
///   `#[must_use]` already), not to the future's output.
/// - Clippy lints that look at `async fn` bodies as such (`unused_async`,
///   `needless_return` on the final `return`) don't see this one's body.
///
/// # Errors
///
/// On anything but an `async fn` with a body, and on an unknown, repeated or
/// malformed option, the attribute reports a compile error on the offending
/// tokens and still emits the item (rewritten with the valid options where
/// it can be).
#[proc_macro_attribute]
pub fn pooled(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::pooled(args.into(), input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}
