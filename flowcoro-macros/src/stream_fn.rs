//! `#[pooled]` on a plain `fn` returning `impl Stream`: the stream its body
//! returns is built in a frame of the function's pool. The body still runs
//! when the function is called, as written: only where its value lives
//! changes.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{
    AssocType, Attribute, Block, GenericArgument, ItemFn, PathArguments, ReturnType, Signature,
    Type, TypeParamBound,
};

use crate::args::Config;
use crate::frame::{Frame, pool_static, split_inner};
use crate::paths::{private_path, respan};

/// Whether `sig` is a plain `fn` returning `impl .. Stream<..> ..`, the
/// other shape the attribute pools.
pub(crate) fn is_stream_fn(sig: &Signature) -> bool {
    sig.asyncness.is_none() && stream_bound(&sig.output).is_some()
}

/// The bounds of an `impl Trait` output (none for any other output).
fn impl_bounds(output: &ReturnType) -> impl Iterator<Item = &TypeParamBound> {
    let bounds = match output {
        ReturnType::Type(_, ty) => match &**ty {
            Type::ImplTrait(ty) => Some(ty.bounds.iter()),
            _ => None,
        },
        ReturnType::Default => None,
    };
    bounds.into_iter().flatten()
}

/// The `Stream` bound of an `impl Trait` output, if it has one.
pub(crate) fn stream_bound(output: &ReturnType) -> Option<&syn::TraitBound> {
    impl_bounds(output).find_map(|bound| match bound {
        TypeParamBound::Trait(bound)
            if bound.path.segments.last().is_some_and(|segment| segment.ident == "Stream") =>
        {
            Some(bound)
        }
        _ => None,
    })
}

/// The lifetime an `impl Stream` output is bounded by (`+ 'a`), if any.
pub(crate) fn lifetime_bound(output: &ReturnType) -> Option<syn::Lifetime> {
    impl_bounds(output).find_map(|bound| match bound {
        TypeParamBound::Lifetime(lifetime) => Some(lifetime.clone()),
        _ => None,
    })
}

/// The `T` of `impl Stream<Item = T>`, if the output names it.
pub(crate) fn item(output: &ReturnType) -> Option<Type> {
    let bound = stream_bound(output)?;
    let PathArguments::AngleBracketed(args) = &bound.path.segments.last()?.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        GenericArgument::AssocType(AssocType { ident, generics: None, ty, .. })
            if ident == "Item" =>
        {
            Some(ty.clone())
        }
        _ => None,
    })
}

/// The body of a stream fn as a stream built in a frame: the body runs in
/// a closure called at once, whose value is written into the frame.
//
// Input:
//     fn name(&self, n: u32) -> impl Stream<Item = T> + '_ { body }
// Output:
//     prelude:
//         let __pool: &'static ::flowcoro::__private::FramePool = { .. };
//     handle:
//         ::flowcoro::__private::FramePool::alloc_stream_with(__pool, move || { body })
//
// The parameters stay as written: the closure captures what the body
// uses, as the body did, and the others drop when the fn returns, as they
// did. `return` in the body returns from the closure, with the stream.
pub(crate) fn frame(
    sig: &Signature,
    block: Block,
    inner: Vec<Attribute>,
    config: &Config,
) -> Frame {
    let mixed = Span::mixed_site();
    let private = private_path(config);
    let pool = pool_static(config);
    let brace = block.brace_token.span.join();
    let prelude = quote!(#(#inner)* #pool);
    // The closure carries the span of the user's `fn`: to rustc and clippy
    // it is the user's code, whose body is the fn's, so the lints that look
    // at a body's last statement (`needless_return`) read it as written.
    let closure = quote_spanned!(sig.fn_token.span=> move || #block);
    // The call carries the span of the declared `impl Stream`: a body whose
    // value is no stream is reported there, as rustc reports it in the
    // plain `fn`.
    let declared = match &sig.output {
        ReturnType::Type(_, ty) => syn::spanned::Spanned::span(ty),
        ReturnType::Default => mixed,
    };
    let call = respan(quote!(#private::FramePool::alloc_stream_with), declared);
    let pool_ref = quote_spanned!(mixed=> __pool);
    let handle = quote_spanned!(declared=> #call(#pool_ref, #closure));
    let handle = crate::frame::checked_fit(config, handle);
    Frame { output: TokenStream::new(), prelude, handle, brace }
}

// Input:
//     #[attrs] vis fn name<G>(args) -> impl Stream<Item = T> + Send + 'a where W { body }
// Output:
//     #[attrs] vis fn name<G>(args)
//         -> ::flowcoro::__private::Pooled<impl Stream<Item = T> + Send + 'a>
//     where W
//     { /* the pool; the stream built in its frame */ }
//
// The `impl` stays the user's, with the capture rules of the user's
// edition: it is the type they declared, now behind the handle.
pub(crate) fn rewrite(item: ItemFn, config: &Config) -> TokenStream {
    let mixed = Span::mixed_site();
    let ItemFn { attrs, vis, mut sig, block } = item;
    let (outer, inner) = split_inner(attrs);
    let private = private_path(config);
    let frame = frame(&sig, *block, inner, config);
    if let ReturnType::Type(_, ty) = &mut sig.output {
        if let Type::ImplTrait(ty) = &mut **ty {
            let bounds = [(config.send, "Send"), (config.sync, "Sync")];
            for (span, bound) in bounds.into_iter().filter_map(|(span, b)| Some((span?, b))) {
                let bound = syn::Ident::new(bound, span);
                ty.bounds.push(syn::parse_quote_spanned!(span=> ::core::marker::#bound));
            }
        }
        let end = syn::spanned::Spanned::span(ty);
        let close = quote_spanned!(end=> >);
        sig.output = syn::parse_quote_spanned!(mixed=> -> #private::Pooled<#ty #close);
    }
    let body = frame.into_body(|handle| handle);
    quote!(#(#outer)* #vis #sig #body)
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;
    use syn::{Signature, parse_quote};

    use super::{is_stream_fn, item};

    #[test]
    fn stream_fns_are_told_by_their_output() {
        let sig: Signature =
            parse_quote!(fn f(&self) -> impl futures::Stream<Item = u8> + Send + '_);
        assert!(is_stream_fn(&sig));
        assert_eq!(item(&sig.output).unwrap().to_token_stream().to_string(), "u8");
        let sig: Signature = parse_quote!(fn f() -> impl Send + Stream);
        assert!(is_stream_fn(&sig));
        assert!(item(&sig.output).is_none());
        for sig in [
            parse_quote!(async fn f() -> impl Stream<Item = u8>),
            parse_quote!(fn f() -> BoxStream<'static, u8>),
            parse_quote!(fn f() -> impl Iterator<Item = u8>),
            parse_quote!(fn f()),
        ] {
            assert!(!is_stream_fn(&sig), "{}", sig.to_token_stream());
        }
    }
}
