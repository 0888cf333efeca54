//! One `async fn` (or stream fn) of a `#[pooled]` trait or impl block: its
//! options (its own on top of the block's, and those such a method can't
//! take), and its rewrite, in the block or alone (after other attribute
//! macros on it expanded, see `defer.rs`).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{Attribute, Block, Ident, Meta, Signature, Visibility};

use crate::args::{Config, Options};
use crate::dyn_sig::{self, Role, Scope};
use crate::errors::Errors;
use crate::frame::{frame, split_inner};
use crate::handoff::{self, Handoff};
use crate::paths::{private_path, respan};
use crate::stream_fn::{self, is_stream_fn};

/// Takes the `#[pooled(...)]` attributes off a method of a `#[pooled]` trait
/// or impl block and returns the block's options and hand-off with theirs
/// on top, or `None` if the method is not an `async fn` (then it is left
/// alone).
pub(crate) fn options(
    attrs: &mut Vec<Attribute>,
    sig: &Signature,
    block: &Config,
    block_handoff: &Handoff,
    has_body: bool,
    errors: &mut Errors,
) -> Option<(Config, Handoff)> {
    let (own, rest): (Vec<Attribute>, Vec<Attribute>) =
        std::mem::take(attrs).into_iter().partition(is_pooled);
    *attrs = rest;
    let mut config = Config::default();
    let mut handoff = Handoff::default();
    for attr in &own {
        let (own_handoff, options) = match &attr.meta {
            Meta::Path(_) => (Handoff::default(), Options::default()),
            Meta::List(list) => match handoff::parse_list(list.tokens.clone()) {
                Ok(parsed) => parsed,
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
        handoff = handoff.overridden_by(own_handoff);
    }
    let ident = &sig.ident;
    if sig.asyncness.is_none() && !is_stream_fn(sig) {
        if let Some(attr) = own.first() {
            let message = format!(
                "`#[pooled]` requires an `async fn` or a `fn` returning `impl Stream`; make it \
                 `async fn {ident}`"
            );
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
    Some((block.overridden_by(config), block_handoff.overridden_by(handoff)))
}

/// `Send` and `Sync` declare bounds of a fn's own future; a method of a
/// `#[pooled]` trait or impl block returns an erased handle, `Send` unless
/// the block is `?Send`, and never `Sync`.
pub(crate) fn bounds_on_a_dyn_method(config: &mut Config, errors: &mut Errors) {
    if let Some(span) = config.sync.take() {
        let message = "`Sync` applies to a `#[pooled]` fn's own future; a method of a `#[pooled]` \
                       trait or impl block returns a `PooledDyn`, which is not `Sync`";
        errors.push(syn::Error::new(span, message));
    }
    if let Some(span) = config.send.take() {
        let message = "`Send` applies to a `#[pooled]` fn's own future; a method of a `#[pooled]` \
                       trait or impl block returns a `PooledDyn`, `Send` already (unless the \
                       block is `?Send`)";
        errors.push(syn::Error::new(span, message));
    }
}

/// Whether an attribute is `#[pooled]` (under any path).
fn is_pooled(attr: &Attribute) -> bool {
    attr.path().segments.last().is_some_and(|segment| segment.ident == "pooled")
}

/// A method with a body, as the pieces of an `ImplItemFn` / `TraitItemFn`.
pub(crate) struct Method {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) defaultness: Option<syn::token::Default>,
    pub(crate) sig: Signature,
    pub(crate) block: Block,
}

// Input:
//     async fn get(&self, key: &str) -> Option<u32> { body }
// Output:
//     fn get<'life0, 'life1, 'pooled>(&'life0 self, key: &'life1 str)
//         -> ::flowcoro::__private::PooledDyn<'pooled, Option<u32>>
//     where 'life0: 'pooled, 'life1: 'pooled, Self: 'pooled
//     {
//         /* the frame's prelude: a pool of its own */
//         ::flowcoro::__private::into_dyn(/* the frame's handle */)
//     }
pub(crate) fn rewrite(method: Method, scope: &Scope, config: &Config, role: Role) -> TokenStream {
    let Method { attrs, vis, defaultness, mut sig, block } = method;
    let (outer, inner) = split_inner(attrs);
    let stream = is_stream_fn(&sig);
    let frame = if stream {
        stream_fn::frame(&sig, block, inner, config)
    } else {
        frame(&mut sig, block, inner, config)
    };
    dyn_sig::rewrite(&mut sig, scope, config, role, stream);
    // Without `?Send`, the erasure requires a `Send` future; the error on a
    // body that is not points at the method's name, with rustc's note on
    // the culprit.
    let span = sig.ident.span();
    let private = respan(private_path(config), span);
    let convert = Ident::new(dyn_sig::Erased::of(stream, config).convert, span);
    let body = frame.into_body(|handle| quote_spanned!(span=> #private::#convert(#handle)));
    quote!(#(#outer)* #vis #defaultness #sig #body)
}

/// A bodyless trait method: only its signature changes.
pub(crate) fn declare(sig: &mut Signature, scope: &Scope, config: &Config) {
    let stream = is_stream_fn(sig);
    dyn_sig::rewrite(sig, scope, config, Role::Trait { default: false }, stream);
}

/// Options of a whole trait or impl block: `name` names one pool.
pub(crate) fn block_options(config: &Config, errors: &mut Errors) {
    if let Some(name) = &config.name {
        let message = "`#[pooled]` option `name` names one pool: on a trait or impl block, \
                       put `#[pooled(name = \"...\")]` on one of its `async fn`s";
        errors.push(syn::Error::new(name.span(), message));
    }
}
