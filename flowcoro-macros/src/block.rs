//! `pool!(async move { .. })`: an async block's state machine (or any
//! future or stream) in a frame of a pool that belongs to the call site.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::Expr;

use crate::args::{Config, Options};
use crate::support::{Errors, private_path};

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
        Some(tokens) => match syn::parse2::<Options>(tokens) {
            Ok(options) => {
                errors.extend(options.error.map(as_pool));
                options.config
            }
            Err(err) => {
                errors.push(as_pool(err));
                Config::default()
            }
        },
    };
    if let Some(span) = config.local {
        let message = "`?Send` means nothing to `pool!`: the block's future is `Send` exactly \
                       when its body allows it";
        errors.push(syn::Error::new(span, message));
    }
    if config.after || config.within.is_some() || config.send.is_some() || config.sync.is_some() {
        errors.push(syn::Error::new(
            Span::call_site(),
            "`pool!` options are `name`, `max_idle`, `prewarm` and `crate`",
        ));
    }
    let expr = match syn::parse2::<Expr>(block) {
        Ok(expr) => expr,
        Err(err) => {
            errors.push(err);
            return with_errors(errors, quote!(()));
        }
    };
    with_errors(errors, expand(&expr, &config))
}

/// `expr`, with the errors beside it, as one expression.
fn with_errors(errors: Errors, expr: TokenStream) -> TokenStream {
    let errors = errors.into_tokens();
    if errors.is_empty() {
        return expr;
    }
    quote!({ #errors #expr })
}

/// An options error as `pool!`'s, not `#[pooled]`'s.
fn as_pool(err: syn::Error) -> syn::Error {
    let mut out: Option<syn::Error> = None;
    for one in err {
        let message = one
            .to_string()
            .replace("`#[pooled]` option", "`pool!` option")
            .replace("`#[pooled]`", "`pool!`")
            .replace("`?Send`, `Send`, `Sync`, `crate`", "`crate`");
        let one = syn::Error::new(one.span(), message);
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

fn expand(expr: &Expr, config: &Config) -> TokenStream {
    let mixed = Span::mixed_site();
    let private = private_path(config);
    let name = match &config.name {
        Some(name) => name.to_token_stream(),
        None => quote_spanned! {mixed=>
            ::core::concat!(::core::module_path!(), ":", ::core::line!(), ":", ::core::column!())
        },
    };
    let max_idle = config.max_idle.as_ref().map(|n| quote_spanned!(mixed=> .with_max_idle(#n)));
    let prewarm = config.prewarm.as_ref().map(|n| quote_spanned!(mixed=> .with_prewarm(#n)));
    let static_pool = quote_spanned! {mixed=>
        static POOL: #private::FramePool = #private::FramePool::new(#name) #max_idle #prewarm;
    };
    if let Expr::Async(_) = expr {
        return quote_spanned! {mixed=>
            {
                #static_pool
                #private::FramePool::alloc_with(&POOL, || #expr)
            }
        };
    }
    // Any other expression may be a future or a stream: the probe's method
    // resolves for either, and for anything else rustc says that neither
    // trait holds, on the expression.
    let span = syn::spanned::Spanned::span(expr);
    let method = syn::Ident::new("pool_takes_a_future_or_a_stream", span);
    let probe = quote_spanned!(mixed=> (&#private::Probe::of(&__handle)).#method());
    quote_spanned! {mixed=>
        {
            #static_pool
            let __handle = #private::FramePool::place_with(&POOL, || #expr);
            #[allow(unused_imports)]
            use #private::{ProbeFuture as _, ProbeStream as _};
            #probe;
            __handle
        }
    }
}
