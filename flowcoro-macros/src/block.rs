//! `pool!(async move { .. })`: an async block's state machine (or any
//! future or stream) in a frame of a pool that belongs to the call site.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::Expr;
use syn::parse::Parser;

use crate::args::{Config, Context, Options};
use crate::errors::Errors;
use crate::paths::private_path;

// Input:
//     pool!(name = "auth", max_idle = 64; async move { body })
// Output:
//     {
//         static POOL: ::flowcoro::__private::FramePool =
//             ::flowcoro::__private::FramePool::new("auth").with_max_idle(64);
//         ::flowcoro::__private::FramePool::alloc_with(&POOL, || async move { body })
//     }
//
// Without `name`, the pool is named `module::path:line:column` after the
// call site. The block is built directly in its frame. Another expression
// (a stream, a future) is built in the frame by `place_with`, beside a
// probe that it is a future or a stream:
//     {
//         static POOL: .. = ..;
//         let __handle = ::flowcoro::__private::FramePool::place_with(&POOL, || expr);
//         use ::flowcoro::__private::{ProbeFuture as _, ProbeStream as _};
//         (&::flowcoro::__private::Probe::of(&__handle)).pool_takes_a_future_or_a_stream();
//         __handle
//     }
pub(crate) fn pool(input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let (options, block) = split(input);
    let config = match options {
        None => Config::default(),
        Some(tokens) => options_of(tokens, &mut errors),
    };
    let expr = match syn::parse2::<Expr>(block) {
        Ok(expr) => expr,
        Err(err) => {
            errors.push(err);
            return with_errors(errors, quote!(()));
        }
    };
    with_errors(errors, expand(&expr, &config))
}

/// The options before the `;`. Beside their own errors, one for each of
/// what `pool!` takes no part in: `?Send` and the bounds. (`#[pooled]`'s
/// private hand-off is not parsed here: to `pool!` it is an unknown
/// option.)
fn options_of(tokens: TokenStream, errors: &mut Errors) -> Config {
    let config = match Options::parser(Context::Macro).parse2(tokens) {
        Ok(options) => {
            errors.extend(options.error.map(at_first_tokens));
            options.config
        }
        Err(err) => {
            errors.push(at_first_tokens(err));
            return Config::default();
        }
    };
    if let Some(span) = config.local {
        let message = "`?Send` means nothing to `pool!`: the block's future is `Send` exactly \
                       when its body allows it";
        errors.push(syn::Error::new(span, message));
    }
    if config.send.is_some() || config.sync.is_some() {
        errors.push(syn::Error::new(
            Span::call_site(),
            "`pool!` options are `name`, `max_idle`, `prewarm`, `capacity`, `frame_size` and `crate`",
        ));
    }
    config
}

/// `expr`, with the errors beside it, as one expression.
fn with_errors(errors: Errors, expr: TokenStream) -> TokenStream {
    let errors = errors.into_tokens();
    if errors.is_empty() {
        return expr;
    }
    quote!({ #errors #expr })
}

/// Each error of `pool!`'s options on one span, as [`syn::Error::span`]
/// gives it: a stable compiler can't join spans, so an error about several
/// tokens (`name = "a" "b"`) points at the first of them.
fn at_first_tokens(err: syn::Error) -> syn::Error {
    let mut out: Option<syn::Error> = None;
    for one in err {
        let one = syn::Error::new(one.span(), one.to_string());
        match &mut out {
            Some(first) => first.combine(one),
            None => out = Some(one),
        }
    }
    out.expect("a syn::Error holds at least one message")
}

/// The options before the first `;` at the top level, if any, and the block.
fn split(input: TokenStream) -> (Option<TokenStream>, TokenStream) {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let at = tokens.iter().position(|tt| matches!(tt, TokenTree::Punct(p) if p.as_char() == ';'));
    match at {
        Some(at) => {
            let options = tokens[..at].iter().cloned().collect();
            let block = tokens[at + 1..].iter().cloned().collect();
            (Some(options), block)
        }
        None => (None, tokens.into_iter().collect()),
    }
}

/// The pool's `static` and the frame built from `expr`.
fn expand(expr: &Expr, config: &Config) -> TokenStream {
    let mixed = Span::mixed_site();
    let private = private_path(config);
    let name = match &config.name {
        Some(name) => name.to_token_stream(),
        None => quote_spanned! {mixed=>
            ::core::concat!(::core::module_path!(), ":", ::core::line!(), ":", ::core::column!())
        },
    };
    let settings = crate::frame::settings(config);
    let (frames, with_frames) = crate::frame::static_frames(config);
    let static_pool = quote_spanned! {mixed=>
        #frames
        static POOL: #private::FramePool = #private::FramePool::new(#name) #settings #with_frames;
    };
    if let Expr::Async(_) = expr {
        let handle = quote_spanned!(mixed=> #private::FramePool::alloc_with(&POOL, || #expr));
        let handle = crate::frame::checked_fit(config, handle);
        return quote_spanned! {mixed=>
            {
                #static_pool
                #handle
            }
        };
    }
    // Any other expression may be a future or a stream: the probe's method
    // resolves for either, and for anything else rustc says that neither
    // trait holds, on the expression.
    let placed = quote_spanned!(mixed=> #private::FramePool::place_with(&POOL, || #expr));
    let checked = crate::frame::checked_fit(config, placed);
    let span = syn::spanned::Spanned::span(expr);
    let method = syn::Ident::new("pool_takes_a_future_or_a_stream", span);
    let probe = quote_spanned!(mixed=> (&#private::Probe::of(&__handle)).#method());
    quote_spanned! {mixed=>
        {
            #static_pool
            let __handle = #checked;
            #[allow(unused_imports)]
            use #private::{ProbeFuture as _, ProbeStream as _};
            #probe;
            __handle
        }
    }
}
