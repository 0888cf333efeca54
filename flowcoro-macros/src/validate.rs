//! What the attribute accepts: an `async fn` with a body (or a `fn`
//! returning `impl Stream`), free or in an impl; a trait declaration; an
//! impl block. Anything else is re-emitted unchanged beside an error that
//! says where the attribute belongs.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Item, ItemFn, ItemImpl, ItemTrait, TraitItemFn};

use crate::stream_fn::is_stream_fn;

/// The item under the attribute, sorted.
pub(crate) enum Target {
    /// An `async fn` with a body, or a `fn` returning `impl Stream`: what
    /// the rewrite takes.
    AsyncFn(Box<ItemFn>),
    /// A trait declaration: its `async fn`s become `dyn`-compatible.
    Trait(Box<ItemTrait>),
    /// An impl block: of a `#[pooled]` trait, or inherent.
    Impl(Box<ItemImpl>),
    /// Anything else: the item as written, and why it is refused.
    Rejected(TokenStream, syn::Error),
}

const REQUIRES_ASYNC_FN: &str = "`#[pooled]` requires an `async fn`";

/// Sorts the annotated item. Fails only when it does not parse as an item.
/// `after`: this is the copy of the attribute that waited for the item's
/// other attribute macros (see `defer.rs` and `handoff.rs`).
pub(crate) fn target(input: TokenStream, after: bool) -> syn::Result<Target> {
    let item = match syn::parse2(input)? {
        Item::Fn(f) if f.sig.asyncness.is_some() || is_stream_fn(&f.sig) => {
            return Ok(Target::AsyncFn(Box::new(f)));
        }
        Item::Trait(t) => return Ok(Target::Trait(Box::new(t))),
        Item::Impl(i) => return Ok(Target::Impl(Box::new(i))),
        item => item,
    };
    let (head, message): (TokenStream, String) = match &item {
        Item::Fn(f) => {
            let (fn_token, ident) = (&f.sig.fn_token, &f.sig.ident);
            let message = if after || runs_its_body(f) {
                format!(
                    "{REQUIRES_ASYNC_FN}, and another attribute on `{ident}` has already made it a \
                     plain `fn` that runs its body to completion (as `#[tokio::main]` and \
                     `#[tokio::test]` do); keep that attribute on `{ident}` and put \
                     `#[pooled]` on the `async fn`s it calls"
                )
            } else {
                format!(
                    "{REQUIRES_ASYNC_FN}; make it `async fn {ident}` (or return `impl Stream<Item \
                     = T>` from it to pool the stream it returns)"
                )
            };
            (quote!(#fn_token #ident), message)
        }
        Item::Verbatim(tokens) => match syn::parse2::<TraitItemFn>(tokens.clone()) {
            Ok(f) if f.default.is_none() => {
                let (fn_token, ident) = (&f.sig.fn_token, &f.sig.ident);
                let message = format!(
                    "{REQUIRES_ASYNC_FN} with a body; to make `async fn {ident}` \
                     `dyn`-compatible, put `#[pooled]` on the trait and on its impl blocks"
                );
                (quote!(#fn_token #ident), message)
            }
            _ => (tokens.clone(), REQUIRES_ASYNC_FN.to_owned()),
        },
        other => (head(other), REQUIRES_ASYNC_FN.to_owned()),
    };
    let error = syn::Error::new_spanned(head, message);
    Ok(Target::Rejected(item.into_token_stream(), error))
}

/// The tokens that name an item (`struct Foo`, `mod bar`...), where the error
/// goes instead of underlining the whole item.
fn head(item: &Item) -> TokenStream {
    fn pair(a: &dyn ToTokens, b: &dyn ToTokens) -> TokenStream {
        quote!(#a #b)
    }
    match item {
        Item::Const(i) => pair(&i.const_token, &i.ident),
        Item::Enum(i) => pair(&i.enum_token, &i.ident),
        Item::ExternCrate(i) => pair(&i.extern_token, &i.ident),
        Item::ForeignMod(i) => i.abi.to_token_stream(),
        Item::Macro(i) => pair(&i.mac.path, &i.mac.bang_token),
        Item::Mod(i) => pair(&i.mod_token, &i.ident),
        Item::Static(i) => pair(&i.static_token, &i.ident),
        Item::Struct(i) => pair(&i.struct_token, &i.ident),
        Item::TraitAlias(i) => pair(&i.trait_token, &i.ident),
        Item::Type(i) => pair(&i.type_token, &i.ident),
        Item::Union(i) => pair(&i.union_token, &i.ident),
        Item::Use(i) => pair(&i.use_token, &i.tree),
        _ => item.to_token_stream(),
    }
}

/// Whether a plain `fn` looks like the output of an attribute that turned an
/// `async fn` into one (`#[tokio::main]`, `#[tokio::test]`): its body blocks
/// on an `async` block.
fn runs_its_body(f: &ItemFn) -> bool {
    fn scan(tokens: TokenStream, seen: &mut (bool, bool)) {
        for tt in tokens {
            match tt {
                proc_macro2::TokenTree::Ident(ident) => {
                    seen.0 |= ident == "block_on";
                    seen.1 |= ident == "async";
                }
                proc_macro2::TokenTree::Group(group) => scan(group.stream(), seen),
                _ => {}
            }
        }
    }
    let mut seen = (false, false);
    scan(f.block.to_token_stream(), &mut seen);
    seen.0 && seen.1
}
