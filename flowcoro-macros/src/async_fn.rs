//! `#[pooled]` on an `async fn` (free, or a method): a plain `fn` with the
//! same name, visibility, attributes, generics and parameters, returning
//! its future in a pooled frame.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{ItemFn, ReturnType};

use crate::args::Config;
use crate::frame::frame;
use crate::lifetimes;
use crate::stream_fn::{self, is_stream_fn};
use crate::support::{private_path, split_inner};

// Input:
//     #[attrs] vis async unsafe fn name<G>(self, a: A, (b, c): (B, C)) -> T where W { body }
// Output:
//     #[attrs] vis unsafe fn name<G>(self, a: A, __arg2: (B, C))
//         -> ::flowcoro::__private::Pooled<impl ::flowcoro::__private::Future<Output = T>>
//     where W
//     { /* the frame's prelude; its handle */ }
pub(crate) fn rewrite(item: ItemFn, config: &Config) -> TokenStream {
    if is_stream_fn(&item.sig) {
        return stream_fn::rewrite(item, config);
    }
    let mixed = Span::mixed_site();
    let ItemFn { attrs, vis, mut sig, block } = item;
    lifetimes::name_elided_in_impl_trait_args(&mut sig);
    let declared = lifetimes::declare_if_used(&mut sig, "async_recursion")
        .then(|| quote_spanned!(mixed=> #[allow(clippy::needless_lifetimes)]));
    let (outer, inner) = split_inner(attrs);
    let private = private_path(config);
    let frame = frame(&mut sig, *block, inner, config);

    // The capture rules of a return-position `impl Trait` follow the edition
    // of the `impl` token's span. This one comes from this crate (edition
    // 2024), so the future captures every lifetime in scope, named, elided
    // or hidden in a path, as the `async fn`'s future does, whatever the
    // edition of the calling crate.
    //
    // The last `>` carries the user's span (the declared type's end): a
    // signature whose first and last tokens are the user's is the user's,
    // so lints on the fn (`dead_code`, `unreachable_pub`) point at it, not
    // at the attribute.
    let impl_token = quote_spanned!(mixed=> impl);
    let output = &frame.output;
    let end = match &sig.output {
        ReturnType::Default => sig.paren_token.span.close(),
        ReturnType::Type(_, ty) => syn::spanned::Spanned::span(ty),
    };
    let close = quote_spanned!(end=> >);
    // `Send` / `Sync` options: declared in the signature, so a caller (the
    // fn's own body, when it spawns its recursive call) needs no inference
    // of them, and a body that is not is an error here.
    let send = config.send.map(|span| quote_spanned!(span=> + ::core::marker::Send));
    let sync = config.sync.map(|span| quote_spanned!(span=> + ::core::marker::Sync));
    sig.output = syn::parse_quote_spanned!(mixed=>
        -> #private::Pooled<#impl_token #private::Future<Output = #output> #send #sync #close
    );
    let body = frame.into_body(|handle| handle);
    quote!(#(#outer)* #declared #vis #sig #body)
}
