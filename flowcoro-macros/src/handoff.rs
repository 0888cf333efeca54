//! The hand-off between two expansions of `#[pooled]`: entries of its
//! argument list that users never write, with their own type, parser and
//! printer.
//!
//! When `#[pooled]` leaves other attribute macros to expand first (see
//! `defer.rs`), it re-attaches itself below them with the user's options
//! it had, plus `__after` and, for a method of a `#[pooled]` trait or impl
//! block, `__within(..)`: what the method needs to know of its block.
//! [`parse_list`] takes those entries out of an argument list before the
//! user's options are parsed (`args.rs`), which never see them.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, Token};

use crate::args::{Context, Options};

/// What one expansion of `#[pooled]` tells the next.
#[derive(Clone, Default)]
pub(crate) struct Handoff {
    /// `__after`: this is the attribute re-attached below other attribute
    /// macros, which have expanded since.
    pub(crate) after: bool,
    /// `__within(..)`: a method of a `#[pooled]` trait or impl block,
    /// rewritten on its own after other attribute macros on it.
    pub(crate) within: Option<Within>,
}

/// What a method of a `#[pooled]` trait or impl block needs to know of the
/// block, to be rewritten alone: `__within(trait | impl; 'a, ..; T, ..; sync send)`.
#[derive(Clone)]
pub(crate) struct Within {
    /// A default body of a trait, or a method of a trait impl.
    pub(crate) in_trait: bool,
    /// The block's lifetime parameters, and its type parameters.
    pub(crate) lifetimes: Vec<syn::Lifetime>,
    pub(crate) types: Vec<Ident>,
    /// Whether the trait has `Sync` / `Send` among its supertraits.
    pub(crate) sync: bool,
    pub(crate) send: bool,
}

impl Handoff {
    /// This hand-off, with what `inner` carries on top.
    pub(crate) fn overridden_by(&self, inner: Handoff) -> Handoff {
        Handoff {
            after: inner.after || self.after,
            within: inner.within.or_else(|| self.within.clone()),
        }
    }

    /// The hand-off as entries of the attribute's arguments, each followed
    /// by a comma, to go after the user's options.
    pub(crate) fn to_args(&self) -> TokenStream {
        let mixed = Span::mixed_site();
        let mut args = TokenStream::new();
        if self.after {
            args.extend(quote_spanned!(mixed=> __after,));
        }
        if let Some(within) = &self.within {
            let kind = if within.in_trait { quote!(trait) } else { quote!(impl) };
            let lifetimes = &within.lifetimes;
            let types = &within.types;
            let sync = within.sync.then(|| quote!(sync));
            let send = within.send.then(|| quote!(send));
            args.extend(quote_spanned! {mixed=>
                __within(#kind; #(#lifetimes),*; #(#types),*; #sync #send),
            });
        }
        args
    }
}

/// Parses an argument list of `#[pooled]`: its hand-off entries here, the
/// user's options with [`Options::parser`]. (`pool!` has no hand-off: its
/// list goes to the options parser whole.)
///
/// A list that can't be split into entries fails whole, with the error of
/// its first broken entry, whichever parser finds it: on a broken hand-off
/// entry, the user's options are those before it, so an error in them
/// comes first.
pub(crate) fn parse_list(tokens: TokenStream) -> syn::Result<(Handoff, Options)> {
    let mut user = TokenStream::new();
    let handoff = (|input: ParseStream<'_>| split(input, &mut user)).parse2(tokens);
    let options = Options::parser(Context::Attribute).parse2(user)?;
    Ok((handoff?, options))
}

/// Parses the hand-off entries of a list, and copies the other entries,
/// each with its comma, to `user`, as written.
//
// Input:  name = "label", __after, ?Send, __within(impl; 'a; T;)
// Output: Handoff { after: true, within: Some(..) }; user: name = "label", ?Send,
fn split(input: ParseStream<'_>, user: &mut TokenStream) -> syn::Result<Handoff> {
    let mut handoff = Handoff::default();
    while !input.is_empty() {
        let key = input.cursor().ident().map(|(key, _)| key);
        let own = match key {
            Some(key) if key == "__after" => {
                input.call(Ident::parse_any)?;
                handoff.after = true;
                true
            }
            Some(key) if key == "__within" => {
                input.call(Ident::parse_any)?;
                let content;
                syn::parenthesized!(content in input);
                handoff.within = Some(content.call(parse_within)?);
                true
            }
            _ => {
                copy_entry(input, user)?;
                false
            }
        };
        if input.is_empty() {
            break;
        }
        let comma: Token![,] = input.parse()?;
        if !own {
            user.extend(quote!(#comma));
        }
    }
    Ok(handoff)
}

/// Copies the tokens of one entry, up to the next top-level comma, to `user`.
fn copy_entry(input: ParseStream<'_>, user: &mut TokenStream) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        user.extend([input.parse::<TokenTree>()?]);
    }
    Ok(())
}

/// The inside of `__within(trait | impl; 'a, ..; T, ..; sync send)`.
fn parse_within(input: ParseStream<'_>) -> syn::Result<Within> {
    let in_trait = if input.peek(Token![trait]) {
        input.parse::<Token![trait]>()?;
        true
    } else {
        input.parse::<Token![impl]>()?;
        false
    };
    input.parse::<Token![;]>()?;
    let mut lifetimes = Vec::new();
    while input.peek(syn::Lifetime) {
        lifetimes.push(input.parse()?);
        if !input.peek(Token![;]) {
            input.parse::<Token![,]>()?;
        }
    }
    input.parse::<Token![;]>()?;
    let mut types = Vec::new();
    while input.peek(Ident) {
        types.push(input.call(Ident::parse_any)?);
        if !input.peek(Token![;]) {
            input.parse::<Token![,]>()?;
        }
    }
    input.parse::<Token![;]>()?;
    let (mut sync, mut send) = (false, false);
    while !input.is_empty() {
        let flag: Ident = input.parse()?;
        sync |= flag == "sync";
        send |= flag == "send";
    }
    Ok(Within { in_trait, lifetimes, types, sync, send })
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::{Handoff, Within, parse_list};

    fn parse(tokens: proc_macro2::TokenStream) -> syn::Result<(Handoff, crate::args::Options)> {
        parse_list(tokens)
    }

    #[test]
    fn the_handoff_is_taken_out_of_the_options() {
        let (handoff, options) =
            parse(quote!(name = "a", __after, Send, __within(trait; 'a, 'b; T; sync),))
                .expect("parses");
        assert!(handoff.after);
        let within = handoff.within.expect("within");
        assert!(within.in_trait && within.sync && !within.send);
        assert_eq!((within.lifetimes.len(), within.types.len()), (2, 1));
        assert!(options.error.is_none());
        assert!(options.config.name.is_some() && options.config.send.is_some());
        let (handoff, _) = parse(quote!(name = "a")).expect("parses");
        assert!(!handoff.after && handoff.within.is_none());
    }

    #[test]
    fn the_handoff_prints_as_it_parses() {
        let within = Within {
            in_trait: false,
            lifetimes: vec![syn::parse_quote!('a)],
            types: vec![syn::parse_quote!(T)],
            sync: false,
            send: true,
        };
        let printed = Handoff { after: true, within: Some(within) }.to_args();
        assert_eq!(printed.to_string(), "__after , __within (impl ; 'a ; T ; send) ,");
        let (handoff, options) = parse(printed).expect("parses");
        assert!(handoff.after && options.error.is_none());
        assert!(handoff.within.is_some_and(|within| !within.in_trait && within.send));
    }

    #[test]
    fn the_first_broken_entry_fails_the_list() {
        let message = |tokens| parse(tokens).err().expect("fails").to_string();
        assert_eq!(message(quote!(__after x, "y")), "expected `,`");
        assert_eq!(message(quote!("y", __after x)), message(quote!("y")));
        assert_eq!(message(quote!(name = "a", __within(struct))), "expected `impl`");
        assert_eq!(message(quote!(__within, name = "a")), "expected parentheses");
    }
}
