//! The attribute as a whole: its arguments (the user's options, and the
//! hand-off of an earlier expansion), the item it is on, and which
//! transform rewrites it. Errors found on the way are emitted beside the
//! item, which is still emitted (rewritten with the valid options, or as
//! written if it can't be); the result is `Err` only if the item does not
//! parse.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ItemFn;

use crate::args::Config;
use crate::defer;
use crate::dyn_sig::{Role, Scope};
use crate::errors::Errors;
use crate::handoff::{self, Handoff};
use crate::method::{self, Method};
use crate::validate::{self, Target};
use crate::{async_fn, impl_block, trait_decl};

/// `#[pooled(args)] input`, expanded.
pub(crate) fn pooled(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let (handoff, config) = match handoff::parse_list(args) {
        Ok((handoff, options)) => {
            errors.extend(options.error);
            (handoff, options.config)
        }
        Err(err) => {
            errors.push(err);
            (Handoff::default(), Config::default())
        }
    };
    let mut output = match validate::target(input, handoff.after)? {
        Target::AsyncFn(item) => async_fn_item(*item, config, &handoff, &mut errors),
        Target::Trait(item) => trait_decl::rewrite(*item, &config, &handoff, &mut errors),
        Target::Impl(item) => impl_block::rewrite(*item, &config, &handoff, &mut errors),
        Target::Rejected(item, err) => {
            errors.push(err);
            item
        }
    };
    output.extend(errors.into_tokens());
    Ok(output)
}

/// An `async fn`: free, a method, or a method of a `#[pooled]` trait or
/// impl block that waited for its other attribute macros.
fn async_fn_item(
    mut item: ItemFn,
    config: Config,
    handoff: &Handoff,
    errors: &mut Errors,
) -> TokenStream {
    if let Some(within) = &handoff.within {
        let scope = Scope::from_within(within);
        let role = if within.in_trait { Role::Trait { default: true } } else { Role::Impl };
        let ItemFn { attrs, vis, sig, block } = item;
        let parts = Method { attrs, vis, defaultness: None, sig, block: *block };
        return method::rewrite(parts, &scope, &config, role);
    }
    let mut config = config;
    // `?Send` on a fn asks what a `#[pooled]` fn does anyway: its future is
    // `Send` exactly when its body is (`#[async_recursion(?Send)]` carries
    // over as it is). With `Send`, it contradicts.
    if let (Some(relaxed), Some(_)) = (config.local.take(), config.send) {
        errors.push(syn::Error::new(relaxed, "`?Send` and `Send` contradict each other"));
        config.send = None;
    }
    if defer::wanted(&item.attrs, handoff) {
        // A fn outside a `#[pooled]` block: nothing of a block to hand on.
        defer::reattach(&mut item.attrs, &config, None);
        return item.into_token_stream();
    }
    async_fn::rewrite(item, &config)
}
