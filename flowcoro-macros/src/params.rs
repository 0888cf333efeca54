//! How the parameters of the `async fn` move into its frame.
//!
//! rustc lowers `async fn f(a: A, (b, c): (B, C))` to a fn whose body is an
//! `async move` block that starts with `let a = a; let __arg1 = __arg1;
//! let (b, c) = __arg1;`: every parameter is moved into the future whole,
//! even when the body uses only part of it or none, and the parameters drop
//! in reverse order when the future completes or is dropped. The statements
//! built here do the same, so drop order and borrows match the `async fn`;
//! only a parameter whose move no one can observe (a reference, a plain
//! primitive) is left to the block's capture.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::{Attribute, FnArg, Pat, PatIdent, Token, Type};

/// Rewrites the parameters in place for the outer `fn` and returns the
/// statements that open the `async move` block.
//
// Input:  (self, mut a: A, (b, c): (B, C), _: D, ref e: E, r: &R, n: u32)
// Output: (self, a: A, __arg2: (B, C), __arg3: D, __arg4: E, r: &R, n: u32)
//         let _ = &self;
//         let mut a = a;
//         let __arg2 = __arg2; let (b, c) = __arg2;
//         let __arg3 = __arg3;
//         let __arg4 = __arg4; let e = &__arg4;
pub(crate) fn move_into_frame(inputs: &mut Punctuated<FnArg, Token![,]>) -> TokenStream {
    let mixed = Span::mixed_site();
    // The rebinding `let a = a;` is the `async fn`'s own lowering: lints
    // that read it as user code (shadowing a binding with itself, using an
    // `_a` binding) would fire where the `async fn` draws none. The
    // attribute covers that one statement, not the body.
    let quiet = quote_spanned! {mixed=>
        #[allow(
            clippy::shadow_same,
            clippy::redundant_locals,
            clippy::used_underscore_binding,
            clippy::no_effect_underscore_binding
        )]
    };
    let mut stmts = TokenStream::new();
    for (index, input) in inputs.iter_mut().enumerate() {
        let param = match input {
            FnArg::Receiver(receiver) => {
                // `self` can't be rebound with `let`. The block captures it
                // whole through this borrow (a block that only used `self.x`
                // would capture that field alone and drop the rest of `self`
                // when the fn returns); as a capture, it drops after the
                // block's locals, where the `async fn`'s first local would.
                let self_token = &receiver.self_token;
                stmts.extend(quote_spanned!(mixed=> let _ = &#self_token;));
                continue;
            }
            FnArg::Typed(param) => param,
        };
        // A reference has no drop glue, nor has what a pattern binds out of
        // one (a borrow, or a copy): when and whether it is moved into the
        // frame can't be observed, so the parameter stays in the signature
        // as written and the block captures what the body uses (as
        // async-trait does). An unused `_: &T` or `(_a, _b): &(T, T)` then
        // takes no room in the frame and asks no `T: Sync` of a `Send`
        // future.
        if matches!(&*param.ty, Type::Reference(_)) {
            continue;
        }
        // So has a primitive bound to a plain name (`n: u32`): moved or
        // copied, captured or not, nothing tells. Left to the capture, it
        // costs no move on entry, and in a debug build no stack slot in
        // every poll of the future: a level of recursion takes less stack.
        if is_plain_primitive(param) {
            continue;
        }
        let (cfgs, lints, others) = split_attrs(std::mem::take(&mut param.attrs));
        match &mut *param.pat {
            // A plain binding keeps its name in the signature (and docs).
            Pat::Ident(PatIdent { by_ref: None, subpat: None, mutability, ident, .. }) => {
                let mutability = mutability.take();
                stmts.extend(quote!(#(#cfgs)* #(#lints)* #quiet let #mutability #ident = #ident;));
            }
            // `ref x` / `ref mut x`: written as a borrow of the moved value,
            // since a `let ref x = ...;` draws a lint the `async fn` doesn't.
            Pat::Ident(PatIdent { by_ref: Some(_), subpat: None, mutability, ident, .. }) => {
                let arg = format_ident!("__arg{}", index, span = mixed);
                let mutability = mutability.take().map(|_| quote_spanned!(mixed=> mut));
                let ident = ident.clone();
                *param.pat = ident_pat(arg.clone());
                stmts.extend(quote_spanned! {mixed=>
                    #(#cfgs)* let #mutability #arg = #arg;
                    #(#cfgs)* #(#lints)* let #ident = &#mutability #arg;
                });
            }
            pat => {
                let arg = format_ident!("__arg{}", index, span = mixed);
                let pat = std::mem::replace(pat, ident_pat(arg.clone()));
                // A `ref mut` binding borrows the moved value mutably.
                let mutability = binds_ref_mut(&pat).then(|| quote_spanned!(mixed=> mut));
                stmts.extend(quote_spanned!(mixed=> #(#cfgs)* let #mutability #arg = #arg;));
                if !matches!(pat, Pat::Wild(_)) {
                    stmts.extend(quote_spanned!(mixed=> #(#cfgs)* #(#lints)* let #pat = #arg;));
                }
            }
        }
        param.attrs = cfgs.into_iter().chain(others).collect();
    }
    stmts
}

/// Whether `param` binds a primitive scalar (`bool`, `char`, an integer, a
/// float) to a plain, immutable name: a `Copy` value with no drop glue.
fn is_plain_primitive(param: &syn::PatType) -> bool {
    const PRIMITIVES: [&str; 16] = [
        "bool", "char", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
        "i128", "isize", "f32", "f64",
    ];
    let plain = matches!(
        &*param.pat,
        Pat::Ident(PatIdent { by_ref: None, subpat: None, mutability: None, .. })
    );
    let Type::Path(syn::TypePath { qself: None, path }) = &*param.ty else { return false };
    plain && path.get_ident().is_some_and(|ty| PRIMITIVES.iter().any(|name| ty == name))
}

fn ident_pat(ident: syn::Ident) -> Pat {
    Pat::Ident(PatIdent { attrs: Vec::new(), by_ref: None, mutability: None, ident, subpat: None })
}

/// Splits a parameter's attributes into `cfg`s (kept on the parameter and
/// repeated on its `let`s), lint levels (moved to the binding `let`, where
/// the lints they tame now fire) and the rest (kept on the parameter).
fn split_attrs(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>, Vec<Attribute>) {
    let (mut cfgs, mut lints, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for attr in attrs {
        let path = attr.path();
        if path.is_ident("cfg") || path.is_ident("cfg_attr") {
            cfgs.push(attr);
        } else if ["allow", "warn", "deny", "forbid", "expect"].iter().any(|l| path.is_ident(l)) {
            lints.push(attr);
        } else {
            others.push(attr);
        }
    }
    (cfgs, lints, others)
}

/// Whether a pattern has a `ref mut` binding.
fn binds_ref_mut(pat: &Pat) -> bool {
    fn scan(tokens: TokenStream) -> bool {
        let mut after_ref = false;
        tokens.into_iter().any(|tt| match tt {
            TokenTree::Ident(ident) => {
                let hit = after_ref && ident == "mut";
                after_ref = ident == "ref";
                hit
            }
            TokenTree::Group(group) => {
                after_ref = false;
                scan(group.stream())
            }
            _ => {
                after_ref = false;
                false
            }
        })
    }
    scan(quote!(#pat))
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;
    use syn::{FnArg, Token, parse_quote, punctuated::Punctuated};

    use super::{binds_ref_mut, move_into_frame};

    #[test]
    fn parameters_move_in_order() {
        let mut inputs: Punctuated<FnArg, Token![,]> = parse_quote!(
            self, mut a: A, (b, _c): (B, C), _: D, ref mut e: E, r: &R, _: &S, (_p, _q): &(P, Q), mut m: &M
        );
        let stmts = move_into_frame(&mut inputs).to_string();
        assert_eq!(
            inputs.to_token_stream().to_string(),
            "self , a : A , __arg2 : (B , C) , __arg3 : D , __arg4 : E , r : & R , _ : & S , \
             (_p , _q) : & (P , Q) , mut m : & M"
        );
        let quiet = "# [allow (clippy :: shadow_same , clippy :: redundant_locals , \
                     clippy :: used_underscore_binding , clippy :: no_effect_underscore_binding)]";
        assert_eq!(
            stmts,
            format!(
                "let _ = & self ; {quiet} let mut a = a ; \
                 let __arg2 = __arg2 ; let (b , _c) = __arg2 ; \
                 let __arg3 = __arg3 ; \
                 let mut __arg4 = __arg4 ; let e = & mut __arg4 ;"
            ),
            "references are left to the block to capture"
        );
    }

    #[test]
    fn token_scans() {
        assert!(binds_ref_mut(&parse_quote!((a, Some(ref mut b)))));
        assert!(!binds_ref_mut(&parse_quote!((ref a, mut b))));
    }
}
