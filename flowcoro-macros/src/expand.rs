//! The rewrite of an `async fn` into a plain `fn` that returns its future in
//! a pooled frame, and the pieces it shares with the `dyn` rewrites of
//! traits and impl blocks ([`crate::dyn_trait`]).

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{AttrStyle, Attribute, Block, ItemFn, ReturnType, Signature};

use crate::args::{Config, Options};
use crate::dyn_trait;
use crate::params;
use crate::validate::{self, Target};

/// The whole attribute: arguments, validation, rewrite. Errors found on the
/// way are emitted beside the item, which is still emitted (rewritten with
/// the valid options, or as written if it can't be); the result is `Err` only
/// if the item does not parse.
pub(crate) fn pooled(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let config = match syn::parse2::<Options>(args) {
        Ok(options) => {
            errors.extend(options.error);
            options.config
        }
        Err(err) => {
            errors.push(err);
            Config::default()
        }
    };
    let mut output = match validate::target(input)? {
        Target::AsyncFn(item) => {
            if let Some(span) = config.local {
                errors.push(not_here(span, "an `async fn`"));
            }
            let suffix = format!("::{}", item.sig.ident.unraw());
            rewrite(*item, &config, &suffix)
        }
        Target::Trait(item) => dyn_trait::trait_decl(*item, &config, &mut errors),
        Target::Impl(item) => dyn_trait::impl_block(*item, &config, &mut errors),
        Target::Rejected(item, err) => {
            errors.push(err);
            item
        }
    };
    output.extend(errors.0.map(syn::Error::into_compile_error));
    Ok(output)
}

/// The error of `?Send` where it means nothing.
pub(crate) fn not_here(span: Span, what: &str) -> syn::Error {
    let message = format!(
        "`?Send` applies to a `#[pooled]` trait and its impl blocks, not to {what}: \
         a `#[pooled]` fn's future is `Send` exactly when its body allows it"
    );
    syn::Error::new(span, message)
}

/// The errors of one expansion, combined into one.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(err),
            None => self.0 = Some(err),
        }
    }

    pub(crate) fn extend(&mut self, err: Option<syn::Error>) {
        if let Some(err) = err {
            self.push(err);
        }
    }
}

// Input:
//     #[attrs] vis async unsafe fn name<G>(self, a: A, (b, c): (B, C)) -> T where W { body }
// Output:
//     #[attrs] vis unsafe fn name<G>(self, a: A, __arg2: (B, C))
//         -> ::flowcoro::__private::Pooled<impl ::flowcoro::__private::Future<Output = T>>
//     where W
//     { /* `frame`'s prelude and handle */ }
pub(crate) fn rewrite(item: ItemFn, config: &Config, name_suffix: &str) -> TokenStream {
    let mixed = Span::mixed_site();
    let ItemFn { attrs, vis, mut sig, block } = item;
    let (outer, inner) = split_inner(attrs);
    let private = private_path(config);
    let frame = frame(&mut sig, *block, inner, config, name_suffix);

    // The capture rules of a return-position `impl Trait` follow the edition
    // of the `impl` token's span. This one comes from this crate (edition
    // 2024), so the future captures every lifetime in scope, named, elided
    // or hidden in a path, as the `async fn`'s future does, whatever the
    // edition of the calling crate.
    let impl_token = quote_spanned!(mixed=> impl);
    let output = &frame.output;
    sig.output = syn::parse_quote_spanned!(mixed=>
        -> #private::Pooled<#impl_token #private::Future<Output = #output>>
    );
    let Frame { prelude, handle, .. } = frame;
    let body = frame.brace.wrap(quote!(#prelude #handle));
    quote!(#(#outer)* #vis #sig #body)
}

/// Splits an item's attributes into outer ones (kept on the item) and inner
/// ones (`#![...]`, kept at the top of the new body).
pub(crate) fn split_inner(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>) {
    attrs.into_iter().partition(|attr| matches!(attr.style, AttrStyle::Outer))
}

/// `::flowcoro::__private`, or `path::__private` with `crate = "path"`.
pub(crate) fn private_path(config: &Config) -> TokenStream {
    let mixed = Span::mixed_site();
    let krate = match &config.krate {
        Some(path) => path.to_token_stream(),
        None => quote_spanned!(mixed=> ::flowcoro),
    };
    // With `crate = "..."`, the whole path carries the string's span, so an
    // error resolving it points at the string.
    let private_span = config
        .krate
        .as_ref()
        .map_or(mixed, |path| path.segments.last().map_or(mixed, |segment| segment.ident.span()));
    quote_spanned!(private_span=> #krate::__private)
}

/// The braces of the user's body, to put around the new one: they keep the
/// item's span in user code, which rustc's dead-code lint (among others)
/// looks at.
pub(crate) struct Brace(Span);

impl Brace {
    pub(crate) fn wrap(&self, body: TokenStream) -> Group {
        let mut group = Group::new(Delimiter::Brace, body);
        group.set_span(self.0);
        group
    }
}

/// A pooled body, in pieces: each rewrite puts them in its own `fn`.
pub(crate) struct Frame {
    /// The `async fn`'s output type `T`.
    pub(crate) output: TokenStream,
    /// The body's inner attributes, then `let __pool = ...;`.
    pub(crate) prelude: TokenStream,
    /// The expression that builds the future in a frame: a `Pooled<F>`.
    pub(crate) handle: TokenStream,
    pub(crate) brace: Brace,
}

/// Makes `sig` the signature of the outer `fn` (no `async`, parameters
/// moved into the frame; the output is the caller's to set) and builds the
/// future of `block` in a frame of a pool of its own, named
/// `module::path` + `name_suffix` unless the options name it.
//
// Input:
//     async fn name(self, a: A, (b, c): (B, C)) -> T { body }
// Output:
//     fn name(self, a: A, __arg2: (B, C))
//     prelude:
//         let __pool: &'static ::flowcoro::__private::FramePool = {
//             static POOL: ::flowcoro::__private::FramePool =
//                 ::flowcoro::__private::FramePool::new("module::path::name");
//             &POOL
//         };
//     handle:
//         ::flowcoro::__private::FramePool::alloc_with(__pool, move || async move {
//             if let Some(__ret) = None::<T> { return __ret; }
//             let _ = &self;
//             let a = a;
//             let __arg2 = __arg2;
//             let (b, c) = __arg2;
//             let __ret: T = match () { () => { body } };
//             #[allow(unreachable_code)]
//             __ret
//         })
pub(crate) fn frame(
    sig: &mut Signature,
    block: Block,
    inner: Vec<Attribute>,
    config: &Config,
    name_suffix: &str,
) -> Frame {
    let mixed = Span::mixed_site();
    let private = private_path(config);
    let pool_name = match &config.name {
        Some(name) => name.to_token_stream(),
        None => quote_spanned!(mixed=> ::core::concat!(::core::module_path!(), #name_suffix)),
    };
    let max_idle = config.max_idle.as_ref().map(|n| quote_spanned!(mixed=> .with_max_idle(#n)));
    let prewarm = config.prewarm.as_ref().map(|n| quote_spanned!(mixed=> .with_prewarm(#n)));

    let (output, declared_span) = match &sig.output {
        ReturnType::Default => (quote_spanned!(mixed=> ()), sig.paren_token.span.close()),
        ReturnType::Type(_, ty) => (ty.to_token_stream(), syn::spanned::Spanned::span(ty)),
    };
    // The first `return` in the block fixes its output type, so an early
    // `return` of the wrong type is reported on the user's expression, as in
    // the `async fn`, and `?` converts errors into the declared type. It
    // never runs. A `let` can't name an `impl Trait`: without the annotation
    // the output is inferred from the body.
    let (typed_return, ret_ty) = if params::has_impl_trait(output.clone()) {
        (None, None)
    } else {
        // rustc notes where the output type was fixed, at this `__ret`: on
        // the declared type. (The binding is scoped to this `if let`.)
        let ret = syn::Ident::new("__ret", declared_span);
        let typed_return = quote_spanned! {mixed=>
            if let ::core::option::Option::Some(#ret) = ::core::option::Option::None::<#output> {
                return #ret;
            }
        };
        (Some(typed_return), Some(quote_spanned!(mixed=> : #output)))
    };

    sig.asyncness = None;
    let moves = params::move_into_frame(&mut sig.inputs);

    let prelude = quote_spanned! {mixed=>
        #(#inner)*
        let __pool: &'static #private::FramePool = {
            static POOL: #private::FramePool = #private::FramePool::new(#pool_name)#max_idle #prewarm;
            &POOL
        };
    };
    let handle = quote_spanned! {mixed=>
        #private::FramePool::alloc_with(__pool, move || async move {
            #typed_return
            #moves
            // As a match arm, not a `let` initializer, a body that
            // diverges draws no lint that the `async fn` would not.
            let __ret #ret_ty = match () { () => #block };
            #[allow(unreachable_code)]
            __ret
        })
    };
    Frame { output, prelude, handle, brace: Brace(block.brace_token.span.join()) }
}
