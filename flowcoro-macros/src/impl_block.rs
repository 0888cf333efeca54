//! `#[pooled]` on an impl block: of a `#[pooled]` trait, each `async fn`
//! gets the trait's rewritten signature and a pool of its own; of a type
//! (inherent), each `async fn` is pooled as if it had the attribute.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{ImplItem, ImplItemFn, ItemFn, ItemImpl};

use crate::args::Config;
use crate::async_fn;
use crate::defer;
use crate::dyn_sig::{Role, Scope};
use crate::errors::Errors;
use crate::handoff::Handoff;
use crate::method::{self, Method, block_options, bounds_on_a_dyn_method};

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
//         { /* a frame of a pool named `<module::path::Map as module::path::Store>::get`, erased */ }
//     }
pub(crate) fn rewrite(
    mut item: ItemImpl,
    config: &Config,
    handoff: &Handoff,
    errors: &mut Errors,
) -> TokenStream {
    block_options(config, errors);
    let in_trait = item.trait_.is_some();
    let mut config = config.clone();
    if in_trait {
        bounds_on_a_dyn_method(&mut config, errors);
    }
    let config = &config;
    if !in_trait {
        if let Some(span) = config.local {
            errors.push(relaxed_on_an_inherent_block(span));
        }
    }
    let scope = Scope::of(&item.generics);
    // An inherent block is no async-trait shape: its methods keep waiting
    // for their own attribute macros whatever the block carries.
    let now = in_trait && defer::others_follow(&item.attrs);
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else { continue };
        let Some((mut config, handoff)) =
            method::options(&mut method.attrs, &method.sig, config, handoff, true, errors)
        else {
            continue;
        };
        if in_trait {
            bounds_on_a_dyn_method(&mut config, errors);
        } else {
            config.local = None;
        }
        if !now && defer::wanted(&method.attrs, &handoff) {
            // A method of an inherent block is rewritten alone as a fn:
            // nothing of the block to hand on.
            defer::reattach(&mut method.attrs, &config, in_trait.then(|| scope.to_within(false)));
            continue;
        }
        let ImplItemFn { attrs, vis, defaultness, sig, block } = method.clone();
        let rewritten = if in_trait {
            let parts = Method { attrs, vis, defaultness, sig, block };
            method::rewrite(parts, &scope, &config, Role::Impl)
        } else {
            // `default fn` (specialization) is not stable: not kept.
            let _ = defaultness;
            async_fn::rewrite(ItemFn { attrs, vis, sig, block: Box::new(block) }, &config)
        };
        *impl_item = ImplItem::Verbatim(rewritten);
    }
    item.into_token_stream()
}

/// The error of `?Send` on an inherent impl block, where it means nothing.
fn relaxed_on_an_inherent_block(span: Span) -> syn::Error {
    let message = "`?Send` applies to a `#[pooled]` trait and its impl blocks, not to an \
                   inherent impl block: a `#[pooled]` fn's future is `Send` exactly when its \
                   body allows it";
    syn::Error::new(span, message)
}
