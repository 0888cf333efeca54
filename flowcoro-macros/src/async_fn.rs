//! `#[pooled]` on an `async fn` (free, or a method): a plain `fn` with the
//! same name, visibility, attributes, generics and parameters, returning
//! its future in a pooled frame.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{ItemFn, ReturnType, Signature};

use crate::args::Config;
use crate::frame::{frame, split_inner};
use crate::lifetimes;
use crate::paths::private_path;
use crate::stream_fn::{self, is_stream_fn};

// Input:
//     #[attrs] vis async unsafe fn name<G>(self, a: A, (b, c): (B, C)) -> T where W { body }
// Output:
//     #[attrs] vis unsafe fn name<G>(self, a: A, __arg2: (B, C))
//         -> ::flowcoro::__private::Pooled<impl ::flowcoro::__private::Captures<(*const Self,)>
//                                          + ::flowcoro::__private::Future<Output = T>>
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
    let captures = captures(&mut sig, &private);
    let frame = frame(&mut sig, *block, inner, config);

    // The capture rules of a return-position `impl Trait` follow the edition
    // of its span, here the user's (its first and last tokens are theirs;
    // one token of the expansion at either end would make it this crate's,
    // edition 2021): from edition 2024 on, the future captures every
    // lifetime in scope, named, elided or hidden in a path, as the `async
    // fn`'s future does. Before, it captures those its bounds name:
    // `captures` names the arguments' lifetimes and `Self`.
    //
    // The last `>`s carry the user's span (the declared type's end): a
    // signature whose first and last tokens are the user's is the user's,
    // so lints on the fn (`dead_code`, `unreachable_pub`) point at it, not
    // at the attribute.
    let user = sig.fn_token.span;
    let impl_token = quote_spanned!(user=> impl);
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
        -> #private::Pooled<#impl_token #captures #private::Future<Output = #output #close #send #sync #close
    );
    let body = frame.into_body(|handle| handle);
    quote!(#(#outer)* #declared #vis #sig #body)
}

/// `Captures<(&'a (), .., *const Self)> +`: the lifetimes of `sig`'s
/// arguments, their elided ones named in place (and declared), and `Self`
/// if the arguments hold it, so the future may hold what they borrow in
/// every edition. Nothing if there is none.
//
// Input:  fn get(&self, key: &str, n: u32)
// Output: fn get<'life0, 'life1>(&'life0 self, key: &'life1 str, n: u32)
//         Captures<(&'life0 (), &'life1 (), *const Self)> +
fn captures(sig: &mut Signature, private: &TokenStream) -> Option<TokenStream> {
    let found = lifetimes::name_elided(sig, &[]);
    // The output's elided lifetimes are spelled out as the elision rules
    // read them, now that the inputs name theirs (an elided output beside a
    // named input draws `mismatched_lifetime_syntaxes`).
    if let ReturnType::Type(_, ty) = &mut sig.output {
        if let Some(source) = lifetimes::elision_source(sig.inputs.iter(), &found) {
            lifetimes::fill_elided(ty, &source);
        }
    }
    // The names are the expansion's: clippy asks for no elision of them.
    lifetimes::respan(sig, &found.named, Span::call_site());
    let declared = found.named.iter().map(|lifetime| {
        let mut lifetime = lifetime.clone();
        lifetime.set_span(Span::call_site());
        lifetime
    });
    lifetimes::declare(sig, declared.collect());
    let holds_self = sig.receiver().is_some() || lifetimes::mentions_self(&sig.inputs);
    if found.used.is_empty() && !holds_self {
        return None;
    }
    let mixed = Span::mixed_site();
    let used = found.used.iter();
    let self_ptr = holds_self.then(|| quote_spanned!(mixed=> *const Self));
    Some(quote_spanned!(mixed=> #private::Captures<(#(&#used (),)* #self_ptr)> +))
}
