//! `#[pooled]` on a trait declaration and on impl blocks: `dyn`-compatible
//! `async fn`s whose futures live in pool frames.
//!
//! In a trait, each `async fn` becomes a `fn` returning
//! `PooledDyn<'pooled, T>` (or `LocalPooledDyn` with `?Send`), a named,
//! `dyn`-compatible type; a default body gets a pool of its own. In an impl
//! block of such a trait, each `async fn` gets the same signature and a pool
//! of its own, and builds its future as a `#[pooled]` fn does (see
//! [`crate::expand::frame`]). In an inherent impl block, each `async fn` is
//! rewritten as a `#[pooled]` fn is, with the type in its pool's name.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{
    Attribute, FnArg, GenericArgument, GenericParam, Ident, ImplItem, ImplItemFn, ItemFn, ItemImpl,
    ItemTrait, Lifetime, LifetimeParam, Meta, PathArguments, Receiver, ReturnType, Signature,
    Token, TraitItem, Type, WherePredicate,
};

use crate::args::{Config, Options};
use crate::expand::{self, Errors, Frame};
use crate::lifetimes;
use crate::validate;

// Input:
//     #[pooled]
//     trait Store: Sync {
//         async fn get(&self, key: &str) -> Option<u32>;
//         async fn len(&self) -> usize { 0 }
//         fn plain(&self);
//     }
// Output:
//     trait Store: Sync {
//         fn get<'life0, 'life1, 'pooled>(&'life0 self, key: &'life1 str)
//             -> ::flowcoro::__private::PooledDyn<'pooled, Option<u32>>
//         where 'life0: 'pooled, 'life1: 'pooled, Self: 'pooled;
//         fn len<'life0, 'pooled>(&'life0 self) -> ::flowcoro::__private::PooledDyn<'pooled, usize>
//         where 'life0: 'pooled, Self: 'pooled
//         {
//             let __pool = /* static POOL named "module::path::Store::len" */;
//             ::flowcoro::__private::sync_receiver::<Self>();
//             ::flowcoro::__private::into_dyn(/* the frame, as a #[pooled] fn builds it */)
//         }
//         fn plain(&self);
//     }
pub(crate) fn trait_decl(mut item: ItemTrait, config: &Config, errors: &mut Errors) -> TokenStream {
    block_options(config, errors);
    let scope = Scope {
        lifetimes: item.generics.lifetimes().map(|param| param.lifetime.clone()).collect(),
        types: item.generics.type_params().map(|param| param.ident.clone()).collect(),
    };
    let trait_name = tidy(item.ident.unraw().into_token_stream());
    for trait_item in &mut item.items {
        let TraitItem::Fn(method) = trait_item else { continue };
        let has_body = method.default.is_some();
        let Some(config) = method_options(&mut method.attrs, &method.sig, config, has_body, errors)
        else {
            continue;
        };
        let Some(lifetimes) = dyn_signature(&mut method.sig, &scope, errors) else { continue };
        let output = match method.default.take() {
            Some(block) => {
                let (outer, inner) = expand::split_inner(std::mem::take(&mut method.attrs));
                let suffix = format!("::{trait_name}::{}", method.sig.ident.unraw());
                let frame = expand::frame(&mut method.sig, block, inner, &config, &suffix);
                let checks = receiver_checks(&method.sig, &config);
                let output = frame.output.clone();
                let body = dyn_body(frame, &method.sig, &config, checks);
                method.default = Some(syn::parse2(body.into_token_stream()).expect("a block"));
                method.attrs = outer;
                output
            }
            None => {
                method.sig.asyncness = None;
                declared_output(&method.sig)
            }
        };
        finish_signature(&mut method.sig, lifetimes, output, &config);
    }
    item.into_token_stream()
}

// Input:
//     #[pooled]
//     impl Store for Map {
//         async fn get(&self, key: &str) -> Option<u32> { body }
//     }
// Output:
//     impl Store for Map {
//         fn get<'life0, 'life1, 'pooled>(&'life0 self, key: &'life1 str)
//             -> ::flowcoro::__private::PooledDyn<'pooled, Option<u32>>
//         where 'life0: 'pooled, 'life1: 'pooled, Self: 'pooled
//         {
//             let __pool = /* static POOL named "module::path::<Map as Store>::get" */;
//             ::flowcoro::__private::into_dyn(/* the frame, as a #[pooled] fn builds it */)
//         }
//     }
//
// An inherent impl block: each `async fn` as under `#[pooled]`, its pool
// named `module::path::Type::method`.
pub(crate) fn impl_block(mut item: ItemImpl, config: &Config, errors: &mut Errors) -> TokenStream {
    block_options(config, errors);
    let self_ty = tidy(item.self_ty.to_token_stream());
    let Some((_, trait_path, _)) = &item.trait_ else {
        if let Some(span) = config.local {
            errors.push(expand::not_here(span, "an inherent impl block"));
        }
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else { continue };
            let Some(config) = method_options(&mut method.attrs, &method.sig, config, true, errors)
            else {
                continue;
            };
            let ImplItemFn { attrs, vis, sig, block, .. } = method.clone();
            let suffix = format!("::{self_ty}::{}", sig.ident.unraw());
            let item = ItemFn { attrs, vis, sig, block: Box::new(block) };
            *impl_item = ImplItem::Verbatim(expand::rewrite(item, &config, &suffix));
        }
        return item.into_token_stream();
    };
    let prefix = format!("::<{self_ty} as {}>", tidy(trait_path.to_token_stream()));
    let scope = Scope {
        lifetimes: item.generics.lifetimes().map(|param| param.lifetime.clone()).collect(),
        types: item.generics.type_params().map(|param| param.ident.clone()).collect(),
    };
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else { continue };
        let Some(config) = method_options(&mut method.attrs, &method.sig, config, true, errors)
        else {
            continue;
        };
        let Some(lifetimes) = dyn_signature(&mut method.sig, &scope, errors) else { continue };
        let block = std::mem::replace(&mut method.block, syn::parse_quote!({}));
        let (outer, inner) = expand::split_inner(std::mem::take(&mut method.attrs));
        let suffix = format!("{prefix}::{}", method.sig.ident.unraw());
        let frame = expand::frame(&mut method.sig, block, inner, &config, &suffix);
        let output = frame.output.clone();
        let body = dyn_body(frame, &method.sig, &config, TokenStream::new());
        method.block = syn::parse2(body.into_token_stream()).expect("a block");
        method.attrs = outer;
        finish_signature(&mut method.sig, lifetimes, output, &config);
    }
    item.into_token_stream()
}

/// What is in scope around a method: the trait's or impl's generics.
struct Scope {
    lifetimes: Vec<Lifetime>,
    types: Vec<Ident>,
}

/// A method's lifetimes once its elided ones have names: the parameters the
/// `fn` will declare and what must outlive the future.
struct DynLifetimes {
    /// `'pooled`: how long the future may live.
    pooled: Lifetime,
    /// The method's lifetime parameters, in order of appearance.
    params: Vec<LifetimeParam>,
    /// What must outlive `'pooled`.
    bounds: Vec<WherePredicate>,
}

/// Refuses what `dyn` can't call (then the method stays as written), and
/// names the elided lifetimes of the arguments.
fn dyn_signature(sig: &mut Signature, scope: &Scope, errors: &mut Errors) -> Option<DynLifetimes> {
    if let Err(err) = validate::dyn_method(sig) {
        errors.push(err);
        return None;
    }
    let call_site = Span::call_site();
    let found = lifetimes::name_elided(sig, &scope.lifetimes);
    let declared: Vec<LifetimeParam> = sig.generics.lifetimes().cloned().collect();
    let mut taken: Vec<Lifetime> = scope.lifetimes.clone();
    taken.extend(found.used.iter().cloned());
    taken.extend(declared.iter().map(|param| param.lifetime.clone()));
    let pooled = lifetimes::fresh("pooled", &taken, call_site);

    // Parameters in order of appearance, so that a trait and an impl that
    // name different lifetimes in the same places get the same list.
    let is_declared = |l: &Lifetime| declared.iter().find(|param| param.lifetime == *l);
    let mut params: Vec<LifetimeParam> = Vec::new();
    for lifetime in &found.used {
        if let Some(param) = is_declared(lifetime) {
            params.push(param.clone());
        } else if found.named.contains(lifetime) {
            params.push(LifetimeParam::new(lifetime.clone()));
        }
    }
    for param in &declared {
        if !params.iter().any(|p| p.lifetime == param.lifetime) {
            params.push(param.clone());
        }
    }

    let mut outlives: Vec<&Lifetime> = Vec::new();
    for lifetime in found.used.iter().chain(declared.iter().map(|param| &param.lifetime)) {
        if !outlives.contains(&lifetime) {
            outlives.push(lifetime);
        }
    }
    let mut bounds: Vec<WherePredicate> = outlives
        .into_iter()
        .map(|lifetime| syn::parse_quote_spanned!(call_site=> #lifetime: #pooled))
        .collect();
    let arg_types: Vec<&Type> = sig
        .inputs
        .iter()
        .map(|input| match input {
            FnArg::Receiver(receiver) => &*receiver.ty,
            FnArg::Typed(arg) => &*arg.ty,
        })
        .collect();
    for ty in &scope.types {
        if arg_types.iter().any(|arg| lifetimes::mentions(arg, ty)) {
            bounds.push(syn::parse_quote_spanned!(call_site=> #ty: #pooled));
        }
    }
    bounds.push(syn::parse_quote_spanned!(call_site=> Self: #pooled));
    Some(DynLifetimes { pooled, params, bounds })
}

/// Declares the lifetimes and bounds, and returns the erased handle.
fn finish_signature(
    sig: &mut Signature,
    lifetimes: DynLifetimes,
    output: TokenStream,
    config: &Config,
) {
    let call_site = Span::call_site();
    let DynLifetimes { pooled, params, bounds } = lifetimes;
    let mut new_params: Punctuated<GenericParam, Token![,]> =
        params.into_iter().map(GenericParam::Lifetime).collect();
    new_params.push(GenericParam::Lifetime(LifetimeParam::new(pooled.clone())));
    sig.generics.params = new_params;
    sig.generics.lt_token.get_or_insert_with(|| Token![<](call_site));
    sig.generics.gt_token.get_or_insert_with(|| Token![>](call_site));
    sig.generics.make_where_clause().predicates.extend(bounds);
    sig.asyncness = None;
    let private = expand::private_path(config);
    let handle = handle_type(config);
    let mixed = Span::mixed_site();
    sig.output = syn::parse_quote_spanned!(mixed=> -> #private::#handle<#pooled, #output>);
}

fn handle_type(config: &Config) -> Ident {
    let name = if config.local.is_some() { "LocalPooledDyn" } else { "PooledDyn" };
    Ident::new(name, Span::mixed_site())
}

/// The declared output type of an `async fn`.
fn declared_output(sig: &Signature) -> TokenStream {
    match &sig.output {
        ReturnType::Default => quote_spanned!(Span::mixed_site()=> ()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    }
}

/// The body of a `dyn` method: the frame, erased. Without `?Send`, the
/// erasure requires a `Send` future, and the error on a body that is not
/// points at the method's name, with rustc's note on the culprit.
fn dyn_body(frame: Frame, sig: &Signature, config: &Config, checks: TokenStream) -> Group {
    let span = sig.ident.span();
    let private = respan(expand::private_path(config), span);
    let convert = if config.local.is_some() { "into_local_dyn" } else { "into_dyn" };
    let convert = Ident::new(convert, span);
    let Frame { prelude, handle, brace, .. } = frame;
    let call = quote_spanned!(span=> #private::#convert(#handle));
    brace.wrap(quote!(#prelude #checks #call))
}

/// In a default body, without `?Send`: the future holds the receiver, which
/// is `Send` only if `Self` is `Sync` (`&self`, `Arc<Self>`) or `Send`
/// (`&mut self`, `self`, `Box<Self>`). `Self` is any implementor there, so
/// these checks say which supertrait the trait needs.
fn receiver_checks(sig: &Signature, config: &Config) -> TokenStream {
    let Some(FnArg::Receiver(receiver)) = sig.inputs.first() else { return TokenStream::new() };
    if config.local.is_some() {
        return TokenStream::new();
    }
    let (sync, send) = receiver_needs(receiver);
    let span = receiver.self_token.span;
    let private = respan(expand::private_path(config), span);
    let mut checks = TokenStream::new();
    if sync {
        checks.extend(quote_spanned!(span=> #private::sync_receiver::<Self>();));
    }
    if send {
        checks.extend(quote_spanned!(span=> #private::send_receiver::<Self>();));
    }
    checks
}

/// Whether a receiver is `Send` only if `Self` is `Sync`, and only if `Self`
/// is `Send`.
fn receiver_needs(receiver: &Receiver) -> (bool, bool) {
    fn needs(ty: &Type) -> (bool, bool) {
        match ty {
            Type::Reference(r) if is_self(&r.elem) => {
                (r.mutability.is_none(), r.mutability.is_some())
            }
            Type::Path(path) if path.qself.is_none() => {
                if is_self(ty) {
                    return (false, true);
                }
                let Some(last) = path.path.segments.last() else { return (false, false) };
                let PathArguments::AngleBracketed(args) = &last.arguments else {
                    return (false, false);
                };
                let Some(GenericArgument::Type(inner)) = args.args.first() else {
                    return (false, false);
                };
                match last.ident.to_string().as_str() {
                    "Pin" => needs(inner),
                    "Box" if is_self(inner) => (false, true),
                    "Arc" if is_self(inner) => (true, true),
                    _ => (false, false),
                }
            }
            Type::Paren(paren) => needs(&paren.elem),
            _ => (false, false),
        }
    }
    fn is_self(ty: &Type) -> bool {
        matches!(ty, Type::Path(path) if path.qself.is_none() && path.path.is_ident("Self"))
    }
    needs(&receiver.ty)
}

/// Options of a whole trait or impl block: `name` names one pool.
fn block_options(config: &Config, errors: &mut Errors) {
    if let Some(name) = &config.name {
        let message = "`#[pooled]` option `name` names one pool: on a trait or impl block, \
                       put `#[pooled(name = \"...\")]` on one of its `async fn`s";
        errors.push(syn::Error::new(name.span(), message));
    }
}

/// Takes the `#[pooled(...)]` attributes off a method of a `#[pooled]` trait
/// or impl block and returns the block's options with theirs on top, or
/// `None` if the method is not an `async fn` (then it is left alone).
fn method_options(
    attrs: &mut Vec<Attribute>,
    sig: &Signature,
    block: &Config,
    has_body: bool,
    errors: &mut Errors,
) -> Option<Config> {
    let (own, rest): (Vec<Attribute>, Vec<Attribute>) =
        std::mem::take(attrs).into_iter().partition(is_pooled);
    *attrs = rest;
    let mut config = Config::default();
    for attr in &own {
        let options = match &attr.meta {
            Meta::Path(_) => Options::default(),
            Meta::List(list) => match syn::parse2::<Options>(list.tokens.clone()) {
                Ok(options) => options,
                Err(err) => {
                    errors.push(err);
                    continue;
                }
            },
            Meta::NameValue(meta) => {
                let message = "expected `#[pooled]` or `#[pooled(option, ...)]`";
                errors.push(syn::Error::new_spanned(meta, message));
                continue;
            }
        };
        errors.extend(options.error);
        config = config.overridden_by(options.config);
    }
    let ident = &sig.ident;
    if sig.asyncness.is_none() {
        if let Some(attr) = own.first() {
            let message = format!("`#[pooled]` requires an `async fn`; make it `async fn {ident}`");
            errors.push(syn::Error::new_spanned(attr, message));
        }
        return None;
    }
    if let Some(span) = config.local.take() {
        let message = "`?Send` goes on the trait and on its impl blocks, for all their methods";
        errors.push(syn::Error::new(span, message));
    }
    if !has_body && (config.name.is_some() || config.max_idle.is_some() || config.prewarm.is_some())
    {
        let message = format!(
            "`#[pooled]` options on a trait method apply to its default body, and `{ident}` \
             has none; put them on `{ident}` in the impl blocks"
        );
        errors.push(syn::Error::new_spanned(&own[0], message));
    }
    Some(block.overridden_by(config))
}

/// Whether an attribute is `#[pooled]` (under any path).
fn is_pooled(attr: &Attribute) -> bool {
    attr.path().segments.last().is_some_and(|segment| segment.ident == "pooled")
}

/// Gives every token of `tokens` the span `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(group) = &tt {
                let mut new = Group::new(group.delimiter(), respan(group.stream(), span));
                new.set_span(span);
                tt = TokenTree::Group(new);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// A type or path as a person writes it: `Vec<u8>`, `&'a mut T`,
/// `dyn Trait + Send`, `[u8; 4]`.
fn tidy(tokens: TokenStream) -> String {
    let mut out = String::new();
    let mut word = false;
    for tt in tokens {
        match tt {
            TokenTree::Ident(ident) => {
                if word {
                    out.push(' ');
                }
                out.push_str(&ident.unraw().to_string());
                word = true;
            }
            TokenTree::Literal(lit) => {
                if word {
                    out.push(' ');
                }
                out.push_str(&lit.to_string());
                word = true;
            }
            TokenTree::Punct(punct) => {
                match punct.as_char() {
                    '+' | '=' => out.push_str(&format!(" {} ", punct.as_char())),
                    ',' | ';' => out.push_str(&format!("{} ", punct.as_char())),
                    c => out.push(c),
                }
                word = false;
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::Brace => ("{", "}"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push_str(open);
                out.push_str(&tidy(group.stream()));
                out.push_str(close);
                word = false;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::tidy;

    #[test]
    fn tidy_types() {
        assert_eq!(tidy(quote!(Vec<u8>)), "Vec<u8>");
        assert_eq!(tidy(quote!(&'a mut r#T)), "&'a mut T");
        assert_eq!(tidy(quote!(Box<dyn Trait + Send>)), "Box<dyn Trait + Send>");
        assert_eq!(tidy(quote!([u8; 4])), "[u8; 4]");
        assert_eq!(tidy(quote!(path::Trait<Item = (u8, u16)>)), "path::Trait<Item = (u8, u16)>");
    }
}
