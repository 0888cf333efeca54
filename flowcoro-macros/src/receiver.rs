//! A `&mut self` receiver the body uses as a mutable binding.
//!
//! async-trait moves the receiver into its block as a `mut` binding, so a
//! body may borrow the reference itself mutably (`&mut self`, to pass on a
//! `&mut &mut Self`) or point it elsewhere (`self = other;`), which the
//! `async fn` rejects (its `self` is not `mut`). To be a drop-in, a
//! `#[pooled]` method whose body does one of those takes its receiver as
//! `mut self: &mut Self`: the same reference, in a `mut` binding that the
//! block captures. `self` keeps its name, so the body, the macros in it and
//! the attributes that expanded before (`#[tracing::instrument]` records
//! it as `self`) read as written. Every other receiver is left as it is.

use proc_macro2::{Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Block, FnArg, Token, punctuated::Punctuated};

/// Makes a `&mut self` receiver `mut self: &mut Self` if `block` needs it
/// as a `mut` binding.
//
// Input:  (&'life0 mut self, ..) { touch(&mut self); }
// Output: (mut self: &'life0 mut Self, ..)
pub(crate) fn bind_mut_self(inputs: &mut Punctuated<FnArg, Token![,]>, block: &Block) {
    let Some(FnArg::Receiver(receiver)) = inputs.first_mut() else {
        return;
    };
    if receiver.colon_token.is_some()
        || receiver.mutability.is_none()
        || !needs_mut_binding(block.to_token_stream())
    {
        return;
    }
    // `mut self` by value has no reference: its binding is `mut` already.
    let Some((and, lifetime)) = receiver.reference.take() else {
        return;
    };
    let span = receiver.self_token.span;
    // A real reference type: the lifetimes pass names its borrow as it
    // does the shorthand's.
    *receiver.ty = syn::Type::Reference(syn::TypeReference {
        and_token: and,
        lifetime,
        mutability: receiver.mutability,
        elem: Box::new(syn::parse_quote_spanned!(span=> Self)),
    });
    receiver.colon_token = Some(Token![:](span));
    // `mutability` now reads as the binding's: `mut self`. The scan above
    // also reads nested items, whose `&mut self` is their own: then the
    // binding goes unmutated, and that is no lint of the user's.
    receiver.attrs.push(syn::parse_quote_spanned!(Span::mixed_site()=> #[allow(unused_mut)]));
}

/// Whether the tokens borrow `self` itself mutably (`mut self` not followed
/// by `.` or `::`) or assign to it (`self =`).
fn needs_mut_binding(tokens: TokenStream) -> bool {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.iter().enumerate().any(|(i, tt)| match tt {
        TokenTree::Group(group) => needs_mut_binding(group.stream()),
        TokenTree::Ident(ident) if ident == "self" => {
            let next = match tokens.get(i + 1) {
                Some(TokenTree::Punct(p)) => Some((p.as_char(), p.spacing())),
                _ => None,
            };
            let after_mut = i > 0 && matches!(&tokens[i - 1], TokenTree::Ident(m) if m == "mut");
            let field_or_path = matches!(next, Some(('.' | ':', _)));
            let assigned = next == Some(('=', Spacing::Alone));
            (after_mut && !field_or_path) || assigned
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use quote::{ToTokens, quote};
    use syn::{Block, FnArg, Token, parse_quote, punctuated::Punctuated};

    use super::{bind_mut_self, needs_mut_binding};

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
    fn a_receiver_the_body_needs_mut_gets_a_mut_binding() {
        let block: Block = parse_quote!({
            touch(&mut self);
        });
        let mut inputs: Punctuated<FnArg, Token![,]> = parse_quote!(&'a mut self, x: u8);
        bind_mut_self(&mut inputs, &block);
        assert_eq!(
            inputs.to_token_stream().to_string(),
            quote!(#[allow(unused_mut)] mut self: &'a mut Self, x: u8).to_string()
        );
        for receiver in [quote!(&self), quote!(mut self), quote!(self: Box<Self>)] {
            let mut inputs: Punctuated<FnArg, Token![,]> = parse_quote!(#receiver);
            bind_mut_self(&mut inputs, &block);
            assert_eq!(inputs.to_token_stream().to_string(), receiver.to_string());
        }
        let mut inputs: Punctuated<FnArg, Token![,]> = parse_quote!(&mut self);
        bind_mut_self(
            &mut inputs,
            &parse_quote!({
                self.x += 1;
            }),
        );
        assert_eq!(inputs.to_token_stream().to_string(), quote!(&mut self).to_string());
    }
}
