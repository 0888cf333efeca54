//! What every transform shares and none owns: the errors of one expansion,
//! the path generated code reaches the runtime by, and span helpers.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote_spanned};
use syn::{AttrStyle, Attribute};

use crate::args::Config;

/// The errors of one expansion, combined into one.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(err),
            None => self.0 = Some(err),
        }
    }

    pub(crate) fn extend(&mut self, err: Option<syn::Error>) {
        if let Some(err) = err {
            self.push(err);
        }
    }

    /// The errors as `compile_error!`s, to emit beside the item.
    pub(crate) fn into_tokens(self) -> TokenStream {
        self.0.map(syn::Error::into_compile_error).unwrap_or_default()
    }
}

/// `::flowcoro`, or the path of `crate = "path"`.
pub(crate) fn facade_path(config: &Config) -> TokenStream {
    match &config.krate {
        Some(path) => path.to_token_stream(),
        None => quote_spanned!(Span::mixed_site()=> ::flowcoro),
    }
}

/// `::flowcoro::__private`, or `path::__private` with `crate = "path"`.
pub(crate) fn private_path(config: &Config) -> TokenStream {
    let krate = facade_path(config);
    // With `crate = "..."`, the whole path carries the string's span, so an
    // error resolving it points at the string.
    let span = config.krate.as_ref().map_or(Span::mixed_site(), |path| {
        path.segments.last().map_or(Span::mixed_site(), |segment| segment.ident.span())
    });
    quote_spanned!(span=> #krate::__private)
}

/// The error of `?Send` where it means nothing.
pub(crate) fn not_here(span: Span, what: &str) -> syn::Error {
    let message = format!(
        "`?Send` applies to a `#[pooled]` trait and its impl blocks, not to {what}: \
         a `#[pooled]` fn's future is `Send` exactly when its body allows it"
    );
    syn::Error::new(span, message)
}

/// Gives every token of `tokens` the span `span`. A `$crate` (from a
/// `macro_rules!` wrapper's `crate = $crate::..`) only moves: it resolves
/// where its macro was defined, or not at all.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            match &tt {
                TokenTree::Group(group) => {
                    let mut new = Group::new(group.delimiter(), respan(group.stream(), span));
                    new.set_span(span);
                    tt = TokenTree::Group(new);
                }
                TokenTree::Ident(ident) if ident == "$crate" => {
                    tt.set_span(ident.span().located_at(span));
                }
                _ => tt.set_span(span),
            }
            tt
        })
        .collect()
}

/// `tokens` in braces with the span `span` (a user's block's, so that the
/// block counts as the user's code for rustc's and clippy's lints).
pub(crate) fn braced(tokens: TokenStream, span: Span) -> Group {
    let mut group = Group::new(Delimiter::Brace, tokens);
    group.set_span(span);
    group
}

/// Splits an item's attributes into outer ones (kept on the item) and inner
/// ones (`#![...]`, kept at the top of the new body). A bare `#[must_use]`
/// goes: the handle the new fn returns is `#[must_use]` already (and says
/// so to clippy, which would flag the attribute as doubled); one with a
/// reason stays.
pub(crate) fn split_inner(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>) {
    attrs
        .into_iter()
        .filter(|attr| !matches!(&attr.meta, syn::Meta::Path(path) if path.is_ident("must_use")))
        .partition(|attr| matches!(attr.style, AttrStyle::Outer))
}
