//! Parsing of the attribute's arguments: `#[pooled(?Send, key = value, ...)]`.
//!
//! Each option is checked on its own, so one bad option does not hide the
//! others: the result is the [`Config`] built from the valid ones plus one
//! error per invalid one, and the function is still emitted with it.
//!
//! Two more keys are the attribute's own, never written by users: when
//! `#[pooled]` leaves other attribute macros to expand first (see
//! `defer.rs`), it re-attaches itself below them with the options it had,
//! plus `__after` and, for a method of a `#[pooled]` trait or impl block,
//! `__within(..)`: what the method needs to know of its block.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Ident, LitInt, LitStr, Path, Token};

/// The valid keys, as error messages list them.
const KEYS: &str = "`?Send`, `Send`, `Sync`, `crate`, `name`, `max_idle`, `prewarm`";

/// What the options ask for; `None` keeps the default.
#[derive(Clone, Default)]
pub(crate) struct Config {
    /// `crate = "path"`: where the facade lives (default `::flowcoro`).
    pub(crate) krate: Option<Path>,
    /// `name = "label"`: the pool's name (default `module::path::fn`).
    pub(crate) name: Option<LitStr>,
    /// `max_idle = N`: frames the pool keeps cached.
    pub(crate) max_idle: Option<LitInt>,
    /// `prewarm = N`: frames reserved on the first call.
    pub(crate) prewarm: Option<LitInt>,
    /// `?Send`: a trait's futures need not be `Send` (where the `?` is).
    pub(crate) local: Option<Span>,
    /// `Send`: a fn's future is declared `Send` in its signature.
    pub(crate) send: Option<Span>,
    /// `Sync`: a fn's future is declared `Sync` in its signature.
    pub(crate) sync: Option<Span>,
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

impl Config {
    /// These options, with each one `inner` sets replacing this one's.
    pub(crate) fn overridden_by(&self, inner: Config) -> Config {
        Config {
            krate: inner.krate.or_else(|| self.krate.clone()),
            name: inner.name.or_else(|| self.name.clone()),
            max_idle: inner.max_idle.or_else(|| self.max_idle.clone()),
            prewarm: inner.prewarm.or_else(|| self.prewarm.clone()),
            local: inner.local.or(self.local),
            send: inner.send.or(self.send),
            sync: inner.sync.or(self.sync),
            after: inner.after || self.after,
            within: inner.within.or_else(|| self.within.clone()),
        }
    }

    /// These options as the attribute's arguments again, for the copy of
    /// the attribute that runs after the others.
    pub(crate) fn to_args(&self) -> TokenStream {
        let mixed = Span::mixed_site();
        let mut args = TokenStream::new();
        if self.local.is_some() {
            args.extend(quote_spanned!(mixed=> ?Send,));
        }
        if let Some(span) = self.send {
            args.extend(quote_spanned!(span=> Send,));
        }
        if let Some(span) = self.sync {
            args.extend(quote_spanned!(span=> Sync,));
        }
        if let Some(path) = &self.krate {
            // As tokens, not a string: a `$crate` in it keeps its meaning.
            args.extend(quote_spanned!(mixed=> crate = #path,));
        }
        if let Some(name) = &self.name {
            args.extend(quote_spanned!(mixed=> name = #name,));
        }
        if let Some(n) = &self.max_idle {
            args.extend(quote_spanned!(mixed=> max_idle = #n,));
        }
        if let Some(n) = &self.prewarm {
            args.extend(quote_spanned!(mixed=> prewarm = #n,));
        }
        args.extend(quote_spanned!(mixed=> __after,));
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

/// The parsed arguments: the valid options and the errors of the others.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) config: Config,
    pub(crate) error: Option<syn::Error>,
    /// Known keys seen so far, whatever their value, to report duplicates.
    seen: Vec<String>,
}

impl Parse for Options {
    // Input:  ?Send, crate = "path", name = "label", max_idle = 64, prewarm = 16
    // Output: Options { config: Config { krate, name, max_idle, prewarm, local }, error }
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = Options::default();
        while !input.is_empty() {
            if input.peek(Token![?]) {
                let question: Token![?] = input.parse()?;
                options.apply_unbound(question, input.call(Ident::parse_any).ok());
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
                continue;
            }
            let key = input.call(Ident::parse_any).map_err(|err| {
                syn::Error::new(err.span(), format!("expected a `#[pooled]` option: one of {KEYS}"))
            })?;
            if key == "__after" {
                options.config.after = true;
            } else if key == "__within" {
                let content;
                syn::parenthesized!(content in input);
                options.config.within = Some(content.call(parse_within)?);
            } else {
                let value = if input.peek(Token![=]) {
                    let eq: Token![=] = input.parse()?;
                    Some((eq, value_tokens(input)?))
                } else {
                    None
                };
                options.apply(key, value);
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(options)
    }
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

impl Options {
    /// Records one `key = value`, or the error it makes.
    fn apply(&mut self, key: Ident, value: Option<(Token![=], TokenStream)>) {
        let name = key.unraw().to_string();
        if matches!(name.as_str(), "Send" | "Sync") {
            return self.apply_bound(&key, value);
        }
        if !matches!(name.as_str(), "crate" | "name" | "max_idle" | "prewarm") {
            let message = format!("unknown `#[pooled]` option `{name}`; expected one of {KEYS}");
            return self.fail(syn::Error::new(key.span(), message));
        }
        if self.seen.contains(&name) {
            let message = format!("duplicate `#[pooled]` option `{name}`");
            return self.fail(syn::Error::new(key.span(), message));
        }
        self.seen.push(name.clone());
        let example = match name.as_str() {
            "crate" => "crate = \"path::to::flowcoro\"",
            "name" => "name = \"label\"",
            "prewarm" => "prewarm = 16",
            _ => "max_idle = 64",
        };
        let value = match value {
            Some((eq, tokens)) if tokens.is_empty() => {
                let message = format!("`#[pooled]` option `{name}` needs a value: `{example}`");
                return self.fail(syn::Error::new_spanned(eq, message));
            }
            Some((_, tokens)) => tokens,
            None => {
                let message = format!("`#[pooled]` option `{name}` needs a value: `{example}`");
                return self.fail(syn::Error::new(key.span(), message));
            }
        };
        let result = match name.as_str() {
            "crate" => parse_crate(value, example).map(|path| self.config.krate = Some(path)),
            "name" => parse_name(value, example).map(|lit| self.config.name = Some(lit)),
            "prewarm" => {
                parse_count(&name, value, example).map(|lit| self.config.prewarm = Some(lit))
            }
            _ => parse_count(&name, value, example).map(|lit| self.config.max_idle = Some(lit)),
        };
        if let Err(err) = result {
            self.fail(err);
        }
    }

    /// Records `Send` or `Sync`: bounds the fn's future declares.
    fn apply_bound(&mut self, key: &Ident, value: Option<(Token![=], TokenStream)>) {
        let name = key.to_string();
        if let Some((eq, _)) = value {
            let message =
                format!("`#[pooled]` option `{name}` takes no value: `#[pooled({name})]`");
            return self.fail(syn::Error::new(eq.span, message));
        }
        if self.seen.contains(&name) {
            let message = format!("duplicate `#[pooled]` option `{name}`");
            return self.fail(syn::Error::new(key.span(), message));
        }
        self.seen.push(name.clone());
        if name == "Send" {
            self.config.send = Some(key.span());
        } else {
            self.config.sync = Some(key.span());
        }
    }

    /// Records `?Send`, or the error of another `?Bound`.
    fn apply_unbound(&mut self, question: Token![?], bound: Option<Ident>) {
        let Some(bound) = bound.filter(|bound| bound == "Send") else {
            let message = "expected `?Send`: the only relaxed bound of `#[pooled]`";
            return self.fail(syn::Error::new(question.span, message));
        };
        if self.config.local.is_some() {
            return self
                .fail(syn::Error::new(bound.span(), "duplicate `#[pooled]` option `?Send`"));
        }
        self.config.local = Some(question.span);
    }

    fn fail(&mut self, err: syn::Error) {
        match &mut self.error {
            Some(first) => first.combine(err),
            None => self.error = Some(err),
        }
    }
}

/// The tokens of one option's value: everything up to the next top-level comma.
fn value_tokens(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    let mut tokens = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        tokens.extend([input.parse::<TokenTree>()?]);
    }
    Ok(tokens)
}

/// A string literal, or an error on `value` that shows the expected form.
fn string(value: TokenStream, example: &str) -> syn::Result<LitStr> {
    syn::parse2::<LitStr>(value.clone()).map_err(|_| {
        let message = format!("expected a string literal: `{example}`");
        syn::Error::new_spanned(value, message)
    })
}

/// `crate = "path"`: the path must name a module, e.g. `::flowcoro` or
/// `crate::reexports::flowcoro`. Its tokens carry the literal's span, so an
/// unresolved path is reported on the string. The path may also be written
/// as it is, unquoted: a library's `macro_rules!` wrapper then passes
/// `crate = $crate::flowcoro`, which resolves wherever the wrapper is used.
fn parse_crate(value: TokenStream, example: &str) -> syn::Result<Path> {
    if syn::parse2::<LitStr>(value.clone()).is_err() {
        if let Ok(path) = Path::parse_mod_style.parse2(value.clone()) {
            return Ok(path);
        }
        let message = format!("expected a path to the flowcoro crate: `{example}`");
        return Err(syn::Error::new_spanned(value, message));
    }
    let lit = string(value, example)?;
    lit.parse_with(Path::parse_mod_style).map_err(|_| {
        let message =
            format!("`#[pooled]` option `crate` must be a path to the flowcoro crate: `{example}`");
        syn::Error::new(lit.span(), message)
    })
}

fn parse_name(value: TokenStream, example: &str) -> syn::Result<LitStr> {
    let lit = string(value, example)?;
    if lit.value().is_empty() {
        let message = format!("`#[pooled]` option `name` must not be empty: `{example}`");
        return Err(syn::Error::new(lit.span(), message));
    }
    Ok(lit)
}

/// `max_idle = N` or `prewarm = N`: an integer that fits a `usize`,
/// re-emitted unsuffixed.
fn parse_count(key: &str, value: TokenStream, example: &str) -> syn::Result<LitInt> {
    let not_a_count = |tokens: &dyn ToTokens| {
        let message = format!("`#[pooled]` option `{key}` must be a `usize` literal: `{example}`");
        syn::Error::new_spanned(tokens, message)
    };
    let lit = syn::parse2::<LitInt>(value.clone()).map_err(|_| not_a_count(&value))?;
    if !matches!(lit.suffix(), "" | "usize") {
        return Err(not_a_count(&lit));
    }
    let count: usize = lit.base10_parse().map_err(|_| not_a_count(&lit))?;
    Ok(LitInt::new(&count.to_string(), lit.span()))
}

#[cfg(test)]
mod tests {
    use super::Options;

    fn parse(args: &str) -> Options {
        syn::parse_str(args).expect("the option list parses")
    }

    fn errors(options: &Options) -> Vec<String> {
        options.error.iter().flat_map(|e| e.clone().into_iter().map(|e| e.to_string())).collect()
    }

    #[test]
    fn valid_options() {
        let options =
            parse(r#"?Send, crate = "::re::flowcoro", name = "label", max_idle = 8usize,"#);
        assert!(options.error.is_none());
        let config = options.config;
        assert!(config.local.is_some());
        assert_eq!(config.krate.expect("crate").segments.len(), 2);
        assert_eq!(config.name.expect("name").value(), "label");
        assert_eq!(config.max_idle.expect("max_idle").to_string(), "8");
        assert!(parse("").config.name.is_none());
        assert!(parse("").config.local.is_none());
    }

    #[test]
    fn relaxed_bounds() {
        assert_eq!(
            errors(&parse("?Sync, ?Send, ?Send")),
            [
                "expected `?Send`: the only relaxed bound of `#[pooled]`",
                "duplicate `#[pooled]` option `?Send`",
            ]
        );
        assert!(parse("?Sync, ?Send").config.local.is_some());
    }

    #[test]
    fn each_bad_option_is_reported_and_the_rest_kept() {
        let options = parse(r#"name = "a", size = 1, name = "b", max_idle = -1, crate = 1"#);
        assert_eq!(options.config.name.as_ref().expect("first name kept").value(), "a");
        assert_eq!(
            errors(&options),
            [
                "unknown `#[pooled]` option `size`; expected one of `?Send`, `Send`, `Sync`, `crate`, `name`, `max_idle`, `prewarm`",
                "duplicate `#[pooled]` option `name`",
                "`#[pooled]` option `max_idle` must be a `usize` literal: `max_idle = 64`",
                "expected a path to the flowcoro crate: `crate = \"path::to::flowcoro\"`",
            ]
        );
    }

    #[test]
    fn declared_bounds() {
        let options = parse("Send, Sync");
        assert!(options.error.is_none());
        assert!(options.config.send.is_some() && options.config.sync.is_some());
        assert_eq!(
            errors(&parse("Send, Send, Sync = 1")),
            [
                "duplicate `#[pooled]` option `Send`",
                "`#[pooled]` option `Sync` takes no value: `#[pooled(Sync)]`",
            ]
        );
    }

    #[test]
    fn a_broken_list_fails_whole() {
        assert!(syn::parse_str::<Options>(r#""x""#).is_err());
        assert!(syn::parse_str::<Options>(r#"name = "a"; max_idle = 2"#).is_ok());
        assert!(syn::parse_str::<Options>(r#"name = "a" max_idle"#).is_ok());
    }
}
