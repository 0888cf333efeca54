//! The user's options: `#[pooled(?Send, key = value, ...)]` and
//! `pool!(key = value, ...; ..)`, parsed into a [`Config`].
//!
//! Each option is checked on its own, so one bad option does not hide the
//! others: the result is the [`Config`] built from the valid ones plus one
//! error per invalid one, and the item is still emitted with it. Every
//! error names the macro it was written for ([`Context`]).
//!
//! The entries `#[pooled]` hands to a later expansion of itself are not
//! options, and never reach this parser: see `handoff.rs`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitInt, LitStr, Path, Token};

/// The macro an option list is written for: its errors name it, and list
/// the keys it takes.
#[derive(Clone, Copy, Default)]
pub(crate) enum Context {
    /// `#[pooled(..)]`, on an item or on a method of a `#[pooled]` block.
    #[default]
    Attribute,
    /// `pool!(..; expr)`.
    Macro,
}

impl Context {
    /// The macro, as error messages name it.
    fn who(self) -> &'static str {
        match self {
            Context::Attribute => "`#[pooled]`",
            Context::Macro => "`pool!`",
        }
    }

    /// The keys, as error messages list them. `pool!` lists those it
    /// uses: the bounds mean nothing to it.
    fn keys(self) -> &'static str {
        match self {
            Context::Attribute => {
                "`?Send`, `Send`, `Sync`, `crate`, `name`, `max_idle`, `prewarm`, `capacity`, \
                 `frame_size`"
            }
            Context::Macro => "`crate`, `name`, `max_idle`, `prewarm`, `capacity`, `frame_size`",
        }
    }
}

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
    /// `capacity = N`: frames in static memory, served first.
    pub(crate) capacity: Option<LitInt>,
    /// `frame_size = B`: the bytes of each static frame.
    pub(crate) frame_size: Option<LitInt>,
    /// `?Send`: a trait's futures need not be `Send` (where the `?` is).
    pub(crate) local: Option<Span>,
    /// `Send`: a fn's future is declared `Send` in its signature.
    pub(crate) send: Option<Span>,
    /// `Sync`: a fn's future is declared `Sync` in its signature.
    pub(crate) sync: Option<Span>,
}

impl Config {
    /// These options, with each one `inner` sets replacing this one's.
    pub(crate) fn overridden_by(&self, inner: Config) -> Config {
        Config {
            krate: inner.krate.or_else(|| self.krate.clone()),
            name: inner.name.or_else(|| self.name.clone()),
            max_idle: inner.max_idle.or_else(|| self.max_idle.clone()),
            prewarm: inner.prewarm.or_else(|| self.prewarm.clone()),
            capacity: inner.capacity.or_else(|| self.capacity.clone()),
            frame_size: inner.frame_size.or_else(|| self.frame_size.clone()),
            local: inner.local.or(self.local),
            send: inner.send.or(self.send),
            sync: inner.sync.or(self.sync),
        }
    }

    /// These options as the attribute's arguments again, each followed by
    /// a comma, for the copy of the attribute that runs after the others.
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
        if let Some(n) = &self.capacity {
            args.extend(quote_spanned!(mixed=> capacity = #n,));
        }
        if let Some(n) = &self.frame_size {
            args.extend(quote_spanned!(mixed=> frame_size = #n,));
        }
        args
    }
}

/// The parsed options: the valid ones and the errors of the others.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) config: Config,
    pub(crate) error: Option<syn::Error>,
    /// The macro the options are written for.
    context: Context,
    /// Known keys seen so far, whatever their value, to report duplicates.
    seen: Vec<String>,
}

impl Options {
    /// A parser of an option list written for `context`. It fails (as a
    /// whole) only on a list it can't split into options; a bad option is
    /// an error in [`Options::error`].
    pub(crate) fn parser(context: Context) -> impl Parser<Output = Options> {
        move |input: ParseStream<'_>| Options::parse_list(input, context)
    }

    // Input:  ?Send, crate = "path", name = "label", max_idle = 64, prewarm = 16
    // Output: Options { config: Config { krate, name, max_idle, prewarm, local }, error }
    fn parse_list(input: ParseStream<'_>, context: Context) -> syn::Result<Options> {
        let mut options = Options::parse_items(input, context)?;
        if let (Some(size), None) = (&options.config.frame_size, &options.config.capacity) {
            let message = format!(
                "{} option `frame_size` sizes the static frames of `capacity`: \
                 `capacity = 4, frame_size = {}`",
                context.who(),
                size.base10_digits()
            );
            options.fail(syn::Error::new(size.span(), message));
        }
        Ok(options)
    }

    fn parse_items(input: ParseStream<'_>, context: Context) -> syn::Result<Options> {
        let mut options = Options { context, ..Options::default() };
        while !input.is_empty() {
            if input.peek(Token![?]) {
                let question: Token![?] = input.parse()?;
                options.apply_unbound(question, input.call(Ident::parse_any).ok());
            } else {
                let key = input.call(Ident::parse_any).map_err(|err| {
                    let message =
                        format!("expected a {} option: one of {}", context.who(), context.keys());
                    syn::Error::new(err.span(), message)
                })?;
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

    /// Records one `key = value`, or the error it makes.
    fn apply(&mut self, key: Ident, value: Option<(Token![=], TokenStream)>) {
        let who = self.context.who();
        let name = key.unraw().to_string();
        if matches!(name.as_str(), "Send" | "Sync") {
            return self.apply_bound(&key, value);
        }
        if !matches!(
            name.as_str(),
            "crate" | "name" | "max_idle" | "prewarm" | "capacity" | "frame_size"
        ) {
            let keys = self.context.keys();
            let message = format!("unknown {who} option `{name}`; expected one of {keys}");
            return self.fail(syn::Error::new(key.span(), message));
        }
        if self.seen.contains(&name) {
            return self.fail(self.duplicate(key.span(), &name));
        }
        self.seen.push(name.clone());
        let example = match name.as_str() {
            "crate" => "crate = \"path::to::flowcoro\"",
            "name" => "name = \"label\"",
            "prewarm" => "prewarm = 16",
            "capacity" => "capacity = 4",
            "frame_size" => "frame_size = 256",
            _ => "max_idle = 64",
        };
        let needs_a_value = format!("{who} option `{name}` needs a value: `{example}`");
        let value = match value {
            Some((eq, tokens)) if tokens.is_empty() => {
                return self.fail(syn::Error::new_spanned(eq, needs_a_value));
            }
            Some((_, tokens)) => tokens,
            None => return self.fail(syn::Error::new(key.span(), needs_a_value)),
        };
        let context = self.context;
        let result = match name.as_str() {
            "crate" => {
                parse_crate(value, example, context).map(|path| self.config.krate = Some(path))
            }
            "name" => parse_name(value, example, context).map(|lit| self.config.name = Some(lit)),
            "prewarm" => parse_count(&name, value, example, context)
                .map(|lit| self.config.prewarm = Some(lit)),
            "capacity" => parse_count(&name, value, example, context)
                .map(|lit| self.config.capacity = Some(lit)),
            "frame_size" => parse_count(&name, value, example, context)
                .map(|lit| self.config.frame_size = Some(lit)),
            _ => parse_count(&name, value, example, context)
                .map(|lit| self.config.max_idle = Some(lit)),
        };
        if let Err(err) = result {
            self.fail(err);
        }
    }

    /// Records `Send` or `Sync`: bounds the fn's future declares.
    fn apply_bound(&mut self, key: &Ident, value: Option<(Token![=], TokenStream)>) {
        let name = key.to_string();
        if let Some((eq, _)) = value {
            // The example is the attribute's in either context: only
            // `#[pooled]` takes these bounds.
            let message = format!(
                "{} option `{name}` takes no value: `#[pooled({name})]`",
                self.context.who()
            );
            return self.fail(syn::Error::new(eq.span, message));
        }
        if self.seen.contains(&name) {
            return self.fail(self.duplicate(key.span(), &name));
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
            let message =
                format!("expected `?Send`: the only relaxed bound of {}", self.context.who());
            return self.fail(syn::Error::new(question.span, message));
        };
        if self.config.local.is_some() {
            return self.fail(self.duplicate(bound.span(), "?Send"));
        }
        self.config.local = Some(question.span);
    }

    /// The error of an option given twice.
    fn duplicate(&self, span: Span, name: &str) -> syn::Error {
        syn::Error::new(span, format!("duplicate {} option `{name}`", self.context.who()))
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
fn parse_crate(value: TokenStream, example: &str, context: Context) -> syn::Result<Path> {
    if syn::parse2::<LitStr>(value.clone()).is_err() {
        if let Ok(path) = Path::parse_mod_style.parse2(value.clone()) {
            return Ok(path);
        }
        let message = format!("expected a path to the flowcoro crate: `{example}`");
        return Err(syn::Error::new_spanned(value, message));
    }
    let lit = string(value, example)?;
    lit.parse_with(Path::parse_mod_style).map_err(|_| {
        let message = format!(
            "{} option `crate` must be a path to the flowcoro crate: `{example}`",
            context.who()
        );
        syn::Error::new(lit.span(), message)
    })
}

/// `name = "label"`: a string that is not empty.
fn parse_name(value: TokenStream, example: &str, context: Context) -> syn::Result<LitStr> {
    let lit = string(value, example)?;
    if lit.value().is_empty() {
        let message = format!("{} option `name` must not be empty: `{example}`", context.who());
        return Err(syn::Error::new(lit.span(), message));
    }
    Ok(lit)
}

/// `max_idle = N` or `prewarm = N`: an integer that fits a `usize`,
/// re-emitted unsuffixed.
fn parse_count(
    key: &str,
    value: TokenStream,
    example: &str,
    context: Context,
) -> syn::Result<LitInt> {
    let not_a_count = |tokens: &dyn ToTokens| {
        let who = context.who();
        let message = format!("{who} option `{key}` must be a `usize` literal: `{example}`");
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
    use syn::parse::Parser;

    use super::{Context, Options};

    fn parse_in(context: Context, args: &str) -> Options {
        Options::parser(context).parse_str(args).expect("the option list parses")
    }

    fn parse(args: &str) -> Options {
        parse_in(Context::Attribute, args)
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
                "unknown `#[pooled]` option `size`; expected one of `?Send`, `Send`, `Sync`, `crate`, `name`, `max_idle`, `prewarm`, `capacity`, `frame_size`",
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
    fn errors_name_the_macro_they_are_written_for() {
        let options = parse_in(
            Context::Macro,
            r#"size = 1, name = "", name = "b", max_idle = "4", crate = "1", ?Sync, ?Send, ?Send, Send = 1, prewarm"#,
        );
        assert_eq!(
            errors(&options),
            [
                "unknown `pool!` option `size`; expected one of `crate`, `name`, `max_idle`, `prewarm`, `capacity`, `frame_size`",
                "`pool!` option `name` must not be empty: `name = \"label\"`",
                "duplicate `pool!` option `name`",
                "`pool!` option `max_idle` must be a `usize` literal: `max_idle = 64`",
                "`pool!` option `crate` must be a path to the flowcoro crate: `crate = \"path::to::flowcoro\"`",
                "expected `?Send`: the only relaxed bound of `pool!`",
                "duplicate `pool!` option `?Send`",
                "`pool!` option `Send` takes no value: `#[pooled(Send)]`",
                "`pool!` option `prewarm` needs a value: `prewarm = 16`",
            ]
        );
        let broken = Options::parser(Context::Macro).parse_str(r#""x""#).err().expect("fails");
        assert_eq!(
            broken.to_string(),
            "expected a `pool!` option: one of `crate`, `name`, `max_idle`, `prewarm`, `capacity`, `frame_size`"
        );
    }

    #[test]
    fn the_private_hand_off_is_an_unknown_option_to_pool() {
        assert_eq!(
            errors(&parse_in(Context::Macro, "__after")),
            [
                "unknown `pool!` option `__after`; expected one of `crate`, `name`, `max_idle`, `prewarm`, `capacity`, `frame_size`"
            ]
        );
        let broken = Options::parser(Context::Macro).parse_str("__within(impl; ; ;)");
        assert!(broken.is_err(), "an option with parentheses breaks the list");
    }

    #[test]
    fn a_broken_list_fails_whole() {
        let parse = |args| Options::parser(Context::Attribute).parse_str(args);
        assert!(parse(r#""x""#).is_err());
        assert!(parse(r#"name = "a"; max_idle = 2"#).is_ok());
        assert!(parse(r#"name = "a" max_idle"#).is_ok());
    }
}
