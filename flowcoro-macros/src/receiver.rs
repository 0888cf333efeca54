//! A `&mut self` receiver the body uses as a mutable binding.
//!
//! async-trait moves the receiver into its block as `let mut __self = self;`
//! and renames `self` in the body, so a body may borrow the reference
//! itself mutably (`&mut self`, to pass on a `&mut &mut Self`) or point it
//! elsewhere (`self = other;`), which the `async fn` rejects (its `self` is
//! not `mut`). To be a drop-in, a `#[pooled]` method whose body does one of
//! those gets the same binding; every other body keeps its `self` as
//! written, so its diagnostics name `self`.

use proc_macro2::{Ident, Spacing, TokenStream, TokenTree};
use syn::visit_mut::{self, VisitMut};
use syn::{Block, ExprPath, FnArg, Item, Macro, Receiver, Token, punctuated::Punctuated};

/// If the receiver is `&mut self` and `block` needs it as a `mut` binding,
/// renames `self` in `block` to `__self` (each use keeps its span, and the
/// binding `params` opens the block with is spanned as the receiver: all
/// are the user's tokens, so they resolve to each other) and returns the
/// binding's name.
pub(crate) fn rebind_mut_self(
    inputs: &Punctuated<FnArg, Token![,]>,
    block: &mut Block,
) -> Option<Ident> {
    let receiver = match inputs.first() {
        Some(FnArg::Receiver(receiver)) => receiver,
        _ => return None,
    };
    if !is_mut_reference(receiver) || !needs_mut_binding(quote::quote!(#block)) {
        return None;
    }
    let renamed = Ident::new("__self", receiver.self_token.span);
    RenameSelf(&renamed).visit_block_mut(block);
    Some(renamed)
}

fn is_mut_reference(receiver: &Receiver) -> bool {
    receiver.colon_token.is_none() && receiver.reference.is_some() && receiver.mutability.is_some()
}

/// Whether the tokens borrow `self` itself mutably (`mut self` not followed
/// by `.` or `::`) or assign to it (`self =`).
fn needs_mut_binding(tokens: TokenStream) -> bool {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.iter().enumerate().any(|(i, tt)| match tt {
        TokenTree::Group(group) => needs_mut_binding(group.stream()),
        TokenTree::Ident(ident) if ident == "self" => {
            let next = tokens.get(i + 1);
            let after_mut = i > 0 && matches!(&tokens[i - 1], TokenTree::Ident(m) if m == "mut");
            let field_or_path = matches!(next, Some(TokenTree::Punct(p)) if p.as_char() == '.' || p.as_char() == ':');
            let assigned = matches!(next, Some(TokenTree::Punct(p)) if p.as_char() == '=' && p.spacing() == Spacing::Alone);
            (after_mut && !field_or_path) || assigned
        }
        _ => false,
    })
}

/// Renames the body's `self` (not `self::path`, not inside nested items,
/// which have a `self` of their own).
struct RenameSelf<'a>(&'a Ident);

impl VisitMut for RenameSelf<'_> {
    fn visit_expr_path_mut(&mut self, expr: &mut ExprPath) {
        if expr.qself.is_none() && expr.path.leading_colon.is_none() && expr.path.is_ident("self") {
            let ident = &mut expr.path.segments[0].ident;
            *ident = Ident::new(&self.0.to_string(), ident.span());
        }
        visit_mut::visit_expr_path_mut(self, expr);
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}

    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        mac.tokens = rename_tokens(std::mem::take(&mut mac.tokens), self.0);
    }
}

/// The same in a macro's input, token by token: `self` unless a path
/// (`self::`) follows, and not past a nested `fn`, `impl` or `trait`.
fn rename_tokens(tokens: TokenStream, renamed: &Ident) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    for (i, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Ident(ident) if ["fn", "impl", "trait"].iter().any(|k| ident == k) => {
                out.extend(tokens[i..].iter().cloned());
                break;
            }
            TokenTree::Ident(ident) if ident == "self" => {
                let path =
                    matches!(tokens.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':');
                out.push(if path {
                    tt.clone()
                } else {
                    TokenTree::Ident(Ident::new(&renamed.to_string(), ident.span()))
                });
            }
            TokenTree::Group(group) => {
                let mut new = proc_macro2::Group::new(
                    group.delimiter(),
                    rename_tokens(group.stream(), renamed),
                );
                new.set_span(group.span());
                out.push(TokenTree::Group(new));
            }
            _ => out.push(tt.clone()),
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::{Block, FnArg, Token, parse_quote, punctuated::Punctuated};

    use super::{needs_mut_binding, rebind_mut_self};

    #[test]
    fn only_a_mut_use_of_the_reference_needs_the_binding() {
        assert!(needs_mut_binding(quote!({
            let _ = &mut self;
        })));
        assert!(needs_mut_binding(quote!({
            self = other;
        })));
        assert!(needs_mut_binding(quote!({ f(&mut self) })));
        assert!(!needs_mut_binding(quote!({
            let x = &mut self.x;
            self.go();
        })));
        assert!(!needs_mut_binding(quote!({ if self == other {} })));
        assert!(!needs_mut_binding(quote!({
            self::helper();
        })));
    }

    #[test]
    fn self_is_renamed_outside_nested_items_and_paths() {
        let inputs: Punctuated<FnArg, Token![,]> = parse_quote!(&mut self, x: u8);
        let mut block: Block = parse_quote!({
            let _ = &mut self;
            self.x = self::helper();
            println!("{}", self.x);
            fn nested(s: &S) -> &S {
                s
            }
        });
        assert!(rebind_mut_self(&inputs, &mut block).is_some());
        assert_eq!(
            quote!(#block).to_string(),
            quote!({
                let _ = &mut __self;
                __self.x = self::helper();
                println!("{}", __self.x);
                fn nested(s: &S) -> &S {
                    s
                }
            })
            .to_string()
        );
        let shared: Punctuated<FnArg, Token![,]> = parse_quote!(&self);
        let mut block: Block = parse_quote!({
            let _ = &mut self;
        });
        assert!(rebind_mut_self(&shared, &mut block).is_none(), "only `&mut self` is rebound");
    }
}
