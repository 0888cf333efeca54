//! The rewrite of an `async fn` into a plain `fn` that returns its future in
//! a pooled frame.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{AttrStyle, ItemFn, ReturnType};

use crate::args::{Config, Options};
use crate::params;
use crate::validate::{self, Target};

/// The whole attribute: arguments, validation, rewrite. Errors found on the
/// way are emitted beside the item, which is still emitted (rewritten with
/// the valid options, or as written if it can't be); the result is `Err` only
/// if the item does not parse.
pub(crate) fn pooled(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let (config, mut error) = match syn::parse2::<Options>(args) {
        Ok(options) => (options.config, options.error),
        Err(err) => (Config::default(), Some(err)),
    };
    let mut output = match validate::target(input)? {
        Target::AsyncFn(item) => rewrite(*item, &config),
        Target::Rejected(item, err) => {
            match &mut error {
                Some(first) => first.combine(err),
                None => error = Some(err),
            }
            item
        }
    };
    output.extend(error.map(syn::Error::into_compile_error));
    Ok(output)
}

// Input:
//     #[attrs] vis async unsafe fn name<G>(self, a: A, (b, c): (B, C)) -> T where W { body }
// Output:
//     #[attrs] vis unsafe fn name<G>(self, a: A, __arg2: (B, C))
//         -> ::flowcoro::__private::Pooled<impl ::flowcoro::__private::Future<Output = T>>
//     where W
//     {
//         let __pool: &'static ::flowcoro::__private::FramePool = {
//             static POOL: ::flowcoro::__private::FramePool =
//                 ::flowcoro::__private::FramePool::new("module::path::name");
//             &POOL
//         };
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
//     }
fn rewrite(item: ItemFn, config: &Config) -> TokenStream {
    let mixed = Span::mixed_site();
    let ItemFn { attrs, vis, mut sig, block } = item;
    let (outer, inner): (Vec<_>, Vec<_>) =
        attrs.into_iter().partition(|attr| matches!(attr.style, AttrStyle::Outer));

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
    let private = quote_spanned!(private_span=> #krate::__private);

    let pool_name = match &config.name {
        Some(name) => name.to_token_stream(),
        None => {
            let suffix = format!("::{}", sig.ident.unraw());
            quote_spanned!(mixed=> ::core::concat!(::core::module_path!(), #suffix))
        }
    };
    let max_idle = config.max_idle.as_ref().map(|n| quote_spanned!(mixed=> .with_max_idle(#n)));

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

    // The capture rules of a return-position `impl Trait` follow the edition
    // of the `impl` token's span. This one comes from this crate (edition
    // 2024), so the future captures every lifetime in scope, named, elided
    // or hidden in a path, as the `async fn`'s future does, whatever the
    // edition of the calling crate.
    let impl_token = quote_spanned!(mixed=> impl);
    sig.asyncness = None;
    sig.output = syn::parse_quote_spanned!(mixed=>
        -> #private::Pooled<#impl_token #private::Future<Output = #output>>
    );
    let moves = params::move_into_frame(&mut sig.inputs);

    let body = quote_spanned! {mixed=>
        #(#inner)*
        let __pool: &'static #private::FramePool = {
            static POOL: #private::FramePool = #private::FramePool::new(#pool_name)#max_idle;
            &POOL
        };
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
    // The user's braces around the new body keep the item's span in user
    // code, which rustc's dead-code lint (among others) looks at.
    let mut body = Group::new(Delimiter::Brace, body);
    body.set_span(block.brace_token.span.join());
    quote!(#(#outer)* #vis #sig #body)
}
