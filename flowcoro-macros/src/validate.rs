//! What the attribute accepts: an `async fn` with a body, free or in an impl.
//! Anything else is re-emitted unchanged beside an error that says where the
//! attribute belongs.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Item, ItemFn, TraitItemFn};

/// The item under the attribute, sorted.
pub(crate) enum Target {
    /// An `async fn` with a body: what the rewrite takes.
    AsyncFn(Box<ItemFn>),
    /// Anything else: the item as written, and why it is refused.
    Rejected(TokenStream, syn::Error),
}

const REQUIRES_ASYNC_FN: &str = "`#[pooled]` requires an `async fn`";

/// Sorts the annotated item. Fails only when it does not parse as an item.
pub(crate) fn target(input: TokenStream) -> syn::Result<Target> {
    let item = match syn::parse2(input)? {
        Item::Fn(f) if f.sig.asyncness.is_some() => return Ok(Target::AsyncFn(Box::new(f))),
        item => item,
    };
    let (head, message): (TokenStream, String) = match &item {
        Item::Fn(f) => {
            let (fn_token, ident) = (&f.sig.fn_token, &f.sig.ident);
            (quote!(#fn_token #ident), format!("{REQUIRES_ASYNC_FN}; make it `async fn {ident}`"))
        }
        Item::Trait(t) => {
            let (trait_token, ident) = (&t.trait_token, &t.ident);
            let message = "`#[pooled]` does not apply to a trait declaration; \
                           put it on the `async fn`s of the trait's impls"
                .to_owned();
            (quote!(#trait_token #ident), message)
        }
        Item::Impl(i) => {
            let (impl_token, self_ty) = (&i.impl_token, &i.self_ty);
            let message = "`#[pooled]` does not apply to an impl block; \
                           put it on each `async fn` of the impl"
                .to_owned();
            (quote!(#impl_token #self_ty), message)
        }
        Item::Verbatim(tokens) => match syn::parse2::<TraitItemFn>(tokens.clone()) {
            Ok(f) if f.default.is_none() => {
                let (fn_token, ident) = (&f.sig.fn_token, &f.sig.ident);
                let message = format!(
                    "{REQUIRES_ASYNC_FN} with a body; in a trait declaration, \
                     keep `async fn {ident}` plain and put `#[pooled]` on its impls"
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
