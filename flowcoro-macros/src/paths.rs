//! Where generated code finds flowcoro: `::flowcoro`, or the path of the
//! `crate = "path"` option, its `__private` module, and such a path moved
//! to a user's span.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote_spanned};

use crate::args::Config;

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

/// Gives every token of `tokens` (a path into the runtime, and what follows
/// it) the span `span`. A `$crate` (from a `macro_rules!` wrapper's `crate
/// = $crate::..`) only moves: it resolves where its macro was defined, or
/// not at all.
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
