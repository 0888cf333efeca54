//! `#[pooled]` on a trait declaration: its `async fn`s return
//! `PooledDyn<'pooled, T>` (or `LocalPooledDyn` with `?Send`), a named type,
//! so the trait is `dyn`-compatible; a default body gets a pool of its own.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{ItemTrait, TraitItem, TypeParamBound, Visibility};

use crate::args::Config;
use crate::defer;
use crate::dyn_sig::{Role, Scope};
use crate::errors::Errors;
use crate::handoff::Handoff;
use crate::method::{self, Method, block_options, bounds_on_a_dyn_method};

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
//         { /* a frame of a pool named `module::path::Store::len`, erased */ }
//         fn plain(&self);
//     }
//
// Without the `Sync` supertrait, `len` would ask `Self: Sync` itself (its
// future holds `&self`): see `dyn_sig::rewrite`.
pub(crate) fn rewrite(
    mut item: ItemTrait,
    config: &Config,
    handoff: &Handoff,
    errors: &mut Errors,
) -> TokenStream {
    block_options(config, errors);
    let mut config = config.clone();
    bounds_on_a_dyn_method(&mut config, errors);
    let config = &config;
    let mut scope = Scope::of(&item.generics);
    scope.sync = has_supertrait(&item, "Sync");
    scope.send = has_supertrait(&item, "Send");
    let now = defer::others_follow(&item.attrs);
    for trait_item in &mut item.items {
        let TraitItem::Fn(method) = trait_item else { continue };
        let has_body = method.default.is_some();
        let Some((mut config, handoff)) =
            method::options(&mut method.attrs, &method.sig, config, handoff, has_body, errors)
        else {
            continue;
        };
        bounds_on_a_dyn_method(&mut config, errors);
        let Some(block) = method.default.take() else {
            method::declare(&mut method.sig, &scope, &config);
            continue;
        };
        if !now && defer::wanted(&method.attrs, &handoff) {
            defer::reattach(&mut method.attrs, &config, Some(scope.to_within(true)));
            method.default = Some(block);
            continue;
        }
        let parts = Method {
            attrs: std::mem::take(&mut method.attrs),
            vis: Visibility::Inherited,
            defaultness: None,
            sig: method.sig.clone(),
            block,
        };
        *trait_item = TraitItem::Verbatim(method::rewrite(
            parts,
            &scope,
            &config,
            Role::Trait { default: true },
        ));
    }
    item.into_token_stream()
}

/// Whether the trait has `name` (`Sync`, `Send`) among its supertraits.
fn has_supertrait(item: &ItemTrait, name: &str) -> bool {
    item.supertraits.iter().any(|bound| {
        matches!(bound, TypeParamBound::Trait(bound)
            if bound.path.segments.last().is_some_and(|segment| segment.ident == name))
    })
}
