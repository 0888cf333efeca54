//! The frame builder: the body of an `async fn` as a future built in a
//! frame of a pool of its own. Every rewrite of an `async fn` (free, method,
//! `dyn` trait method) puts these pieces in the `fn` it emits, and sorts
//! the attributes it had between that `fn` and its body.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::{AttrStyle, Attribute, Block, ReturnType, Signature, Type};

use crate::args::Config;
use crate::paths::private_path;
use crate::{params, receiver};

/// A pooled body, in pieces.
pub(crate) struct Frame {
    /// The `async fn`'s output type `T` (empty for a stream fn's frame,
    /// whose declared `impl Stream` stays the fn's type).
    pub(crate) output: TokenStream,
    /// The body's inner attributes, the pool, and the closure that builds
    /// the future (`let __make = ...;`).
    pub(crate) prelude: TokenStream,
    /// The expression that builds the future in a frame: a `Pooled<F>`.
    pub(crate) handle: TokenStream,
    /// The span of the user's braces, for the new body's.
    pub(crate) brace: Span,
}

/// Makes `sig` the signature of the outer `fn` (no `async`, parameters
/// moved into the frame; the output is the caller's to set) and builds the
/// future of `block` in a frame of a pool of its own.
//
// Input:
//     async fn name(self, a: A, (b, c): (B, C), r: &R) -> T { body }
// Output:
//     fn name(self, a: A, __arg2: (B, C), r: &R)
//     prelude:
//         let __pool: &'static ::flowcoro::__private::FramePool = {
//             fn __flowcoro_site() {}
//             static POOL: ::flowcoro::__private::FramePool =
//                 ::flowcoro::__private::FramePool::at_site(&__flowcoro_site);
//             &POOL
//         };
//         let __once = ::flowcoro::__private::Once;
//         #[allow(clippy::async_yields_async)]
//         let __make = move || { __once.spend(); async move {
//             if false { let __ret: T = loop {}; return __ret; }
//             let _ = &self;
//             let a = a;
//             let __arg2 = __arg2;
//             let (b, c) = __arg2;
//             match () { () => { body } }
//         } };
//     handle:
//         ::flowcoro::__private::FramePool::alloc_with(__pool, __make)
//
// The closure moves `__once` out when called, so it is `FnOnce` only:
// the pool calls it as it is, with no `FnOnce`-for-`Fn` shim per function.
// The closure, the async block and the `match` carry the spans of the
// user's `async` keyword and braces: to rustc and clippy they are the
// user's code, so the lints that look at a body's last statement or at the
// expressions around the user's (`needless_return`, `useless_conversion`)
// see the body as in the `async fn`. The `match` arm is a temporary scope,
// as the `async fn`'s `DropTemps` is: temporaries of the body's last
// expression drop before the parameters, in every edition. clippy's match
// lints see no `match` there (its source text is the user's block).
pub(crate) fn frame(
    sig: &mut Signature,
    block: Block,
    inner: Vec<Attribute>,
    config: &Config,
) -> Frame {
    let mixed = Span::mixed_site();
    let private = private_path(config);
    let pool = pool_static(config);

    let (output, declared_span) = match &sig.output {
        ReturnType::Default => (quote_spanned!(mixed=> ()), sig.paren_token.span.close()),
        ReturnType::Type(_, ty) => (ty.to_token_stream(), syn::spanned::Spanned::span(ty)),
    };
    // The first `return` in the block fixes its output type, so an early
    // `return` of the wrong type is reported on the user's expression, as in
    // the `async fn`, `?` converts errors into the declared type, and the
    // body's last expression is coerced to it. It never runs, and holds no
    // value: a debug build gives it no stack (an `Option<T>` there would
    // cost each level of a recursion a `T`). An `impl Trait` can't be named,
    // and `!` needs none: then the output is the body's own.
    let never = matches!(&sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
    let typed_return = (!never && !has_impl_trait(output.clone())).then(|| {
        // rustc notes where the output type was fixed, at this `__ret`: on
        // the declared type. (The binding is scoped to this `if`.)
        let ret = syn::Ident::new("__ret", declared_span);
        quote_spanned! {mixed=>
            #[allow(unreachable_code)]
            if false {
                let #ret: #output = loop {};
                return #ret;
            }
        }
    });

    let user = sig.asyncness.map_or(sig.fn_token.span, |token| token.span);
    sig.asyncness = None;
    receiver::bind_mut_self(&mut sig.inputs, &block);
    let moves = params::move_into_frame(&mut sig.inputs);

    let brace = block.brace_token.span.join();
    let open = block.brace_token.span.open();
    let arms = braced(quote_spanned!(mixed=> () => #block), brace);
    let mut body = TokenStream::new();
    body.extend(typed_return);
    body.extend(moves);
    body.extend(quote_spanned!(open=> match));
    body.extend(quote_spanned!(mixed=> ()));
    body.extend(arms.into_token_stream());
    let body = braced(body, brace);
    let spend = quote_spanned!(mixed=> __once.spend(););
    let closure = quote_spanned!(user=> move || { #spend async move #body });

    let prelude = quote_spanned! {mixed=>
        #(#inner)*
        #pool
        // The future's output is the `async fn`'s, which may be a future
        // itself: here that is no missing `.await`.
        let __once = #private::Once;
        #[allow(clippy::async_yields_async)]
        let __make = #closure;
    };
    let handle = quote_spanned!(mixed=> #private::FramePool::alloc_with(__pool, __make));
    let handle = checked_fit(config, handle);
    Frame { output, prelude, handle, brace }
}

/// `let __pool: &'static FramePool = { .. };`: the pool of one function,
/// a `static` with the options of `config`.
pub(crate) fn pool_static(config: &Config) -> TokenStream {
    let mixed = Span::mixed_site();
    let private = private_path(config);
    // By default the pool is named after a function nested here, whose
    // path the runtime reads: it has the impl's type (and trait) in it, so
    // a method gets the same name wherever the attribute is, and no two
    // pools share a default name.
    let (site, pool) = match &config.name {
        Some(name) => (None, quote_spanned!(mixed=> #private::FramePool::new(#name))),
        None => (
            Some(quote_spanned!(mixed=> fn __flowcoro_site() {})),
            quote_spanned!(mixed=> #private::FramePool::at_site(&__flowcoro_site)),
        ),
    };
    let settings = settings(config);
    let (frames, with_frames) = static_frames(config);
    quote_spanned! {mixed=>
        let __pool: &'static #private::FramePool = {
            #site
            #frames
            static POOL: #private::FramePool = #pool #settings #with_frames;
            &POOL
        };
    }
}

/// The pool's settings as the builder calls after its constructor:
/// `.with_max_idle(N)`, `.with_prewarm(N)`.
pub(crate) fn settings(config: &Config) -> TokenStream {
    let mixed = Span::mixed_site();
    let max_idle = config.max_idle.as_ref().map(|n| quote_spanned!(mixed=> .with_max_idle(#n)));
    let prewarm = config.prewarm.as_ref().map(|n| quote_spanned!(mixed=> .with_prewarm(#n)));
    quote!(#max_idle #prewarm)
}

/// Bytes per static frame when `capacity` is given alone.
const DEFAULT_FRAME_SIZE: usize = 256;

/// With `capacity = N`: the `static FRAMES` the pool serves first, and the
/// builder call that gives them to it.
pub(crate) fn static_frames(config: &Config) -> (TokenStream, TokenStream) {
    let mixed = Span::mixed_site();
    let private = private_path(config);
    let Some(capacity) = &config.capacity else {
        return (TokenStream::new(), TokenStream::new());
    };
    let size = frame_size(config);
    (
        quote_spanned! {mixed=>
            static FRAMES: #private::StaticFrames<#capacity, #size> = #private::StaticFrames::new();
        },
        quote_spanned!(mixed=> .with_static_frames(&FRAMES)),
    )
}

/// With `capacity`: `handle`, checked at compile time to fit the static
/// frames.
pub(crate) fn checked_fit(config: &Config, handle: TokenStream) -> TokenStream {
    if config.capacity.is_none() {
        return handle;
    }
    let mixed = Span::mixed_site();
    let private = private_path(config);
    let size = frame_size(config);
    quote_spanned!(mixed=> #private::fits::<#size, _>(#handle))
}

fn frame_size(config: &Config) -> TokenStream {
    match &config.frame_size {
        Some(size) => size.to_token_stream(),
        None => {
            let size = syn::LitInt::new(&DEFAULT_FRAME_SIZE.to_string(), Span::mixed_site());
            size.to_token_stream()
        }
    }
}

impl Frame {
    /// The body of the outer `fn`, in the user's braces: the prelude, then
    /// the handle as `wrap` makes it the `fn`'s value.
    pub(crate) fn into_body(self, wrap: impl FnOnce(TokenStream) -> TokenStream) -> TokenStream {
        let Frame { prelude, handle, brace, .. } = self;
        let tail = wrap(handle);
        braced(quote!(#prelude #tail), brace).into_token_stream()
    }
}

/// Whether a type has an `impl Trait` in it (which a `let` can't name).
fn has_impl_trait(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => has_impl_trait(group.stream()),
        _ => false,
    })
}

/// `tokens` in braces with the span `span` (a user's block's, so that the
/// block counts as the user's code for rustc's and clippy's lints).
fn braced(tokens: TokenStream, span: Span) -> Group {
    let mut group = Group::new(Delimiter::Brace, tokens);
    group.set_span(span);
    group
}

/// Splits an item's attributes into outer ones (kept on the item) and inner
/// ones (`#![...]`, kept at the top of the new body). A bare `#[must_use]`
/// goes: the handle the new fn returns is `#[must_use]` already (and says
/// so to clippy, which would flag the attribute as doubled); one with a
/// reason stays.
pub(crate) fn split_inner(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>) {
    attrs
        .into_iter()
        .filter(|attr| !matches!(&attr.meta, syn::Meta::Path(path) if path.is_ident("must_use")))
        .partition(|attr| matches!(attr.style, AttrStyle::Outer))
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::has_impl_trait;

    #[test]
    fn an_impl_trait_is_found_at_any_depth() {
        assert!(has_impl_trait(quote!(Vec<impl Sized>)));
        assert!(!has_impl_trait(quote!(Box<dyn Fn() -> u8>)));
    }
}
