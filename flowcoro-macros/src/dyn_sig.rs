//! The signature of a method of a `#[pooled]` trait or trait impl: named
//! lifetimes, what must outlive the future, and the erased handle it
//! returns. A trait and its impl blocks are rewritten alike, so their
//! signatures match.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote_spanned};
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};
use syn::{
    FnArg, GenericArgument, GenericParam, Generics, Ident, Lifetime, LifetimeParam, Pat, PatIdent,
    PathArguments, Receiver, ReturnType, Signature, Token, TraitBound, TraitBoundModifier, Type,
    TypeImplTrait, TypeParamBound, TypeParen, TypePtr, TypeReference, WherePredicate,
};

use crate::args::Config;
use crate::handoff::Within;
use crate::lifetimes;
use crate::paths::private_path;
use crate::stream_fn;

/// What is in scope around a method: the trait's or impl's generics, and
/// (for a trait) which auto traits it has as supertraits.
pub(crate) struct Scope {
    pub(crate) lifetimes: Vec<Lifetime>,
    pub(crate) types: Vec<Ident>,
    pub(crate) sync: bool,
    pub(crate) send: bool,
}

impl Scope {
    pub(crate) fn of(generics: &Generics) -> Scope {
        Scope {
            lifetimes: generics.lifetimes().map(|param| param.lifetime.clone()).collect(),
            types: generics.type_params().map(|param| param.ident.clone()).collect(),
            sync: false,
            send: false,
        }
    }

    pub(crate) fn from_within(within: &Within) -> Scope {
        Scope {
            lifetimes: within.lifetimes.clone(),
            types: within.types.clone(),
            sync: within.sync,
            send: within.send,
        }
    }

    /// The scope as `__within(..)` carries it to a method rewritten alone.
    pub(crate) fn to_within(&self, in_trait: bool) -> Within {
        Within {
            in_trait,
            lifetimes: self.lifetimes.clone(),
            types: self.types.clone(),
            sync: self.sync,
            send: self.send,
        }
    }
}

/// What a method is in the trait/impl pair.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A trait method with a default body (`true`) or without.
    Trait { default: bool },
    /// A method of an impl block of the trait.
    Impl,
}

/// The lifetime the future may live for: `'pooled`, or async-trait's
/// `'async_trait` where the signature names it (code written for
/// async-trait bounds its parameters by it).
fn future_lifetime(sig: &Signature, taken: &[Lifetime], span: Span) -> Lifetime {
    let declared = sig.generics.lifetimes().any(|param| param.lifetime.ident == "async_trait");
    if lifetimes::names(sig, "async_trait") && !declared {
        return Lifetime::new("'async_trait", span);
    }
    lifetimes::fresh("pooled", taken, span)
}

// Input:
//     async fn f<'a, T: Bound, const N: usize>(&self, key: &str, x: &'a T, y: impl Tr) -> R;
// Output:
//     fn f<'life0, 'life1, 'a, 'pooled, T: Bound, const N: usize>(
//         &'life0 self, key: &'life1 str, x: &'a T, y: impl Tr + 'pooled,
//     ) -> ::flowcoro::__private::PooledDyn<'pooled, R>
//     where 'life0: 'pooled, 'life1: 'pooled, 'a: 'pooled, T: 'pooled, Self: 'pooled;
//
// A stream method (`fn f(..) -> impl Stream<Item = R> + ..`) returns
// `PooledStream<'pooled, R>` alike; if its `impl Stream` is bounded by a
// lifetime (`+ 'a`, `+ '_`, `+ 'static`), the handle is for that lifetime
// and no `'pooled` is added: the declared bound says what the stream holds.
//
// A default body (without `?Send`) also asks `Self: Sync` (for `&self`) or
// `Self: Send` (for `&mut self`, `self`, `Box<Self>`...) on the method,
// unless the trait has it as a supertrait: its future holds the receiver.
pub(crate) fn rewrite(
    sig: &mut Signature,
    scope: &Scope,
    config: &Config,
    role: Role,
    stream: bool,
) {
    // Generated generics point at the method, so that a mismatch between a
    // trait and an impl (E0195) is reported on the offending method.
    let span = sig.ident.span();
    let receiver_bounds = receiver_bounds(sig, scope, config, role);

    let found = lifetimes::name_elided(sig, &scope.lifetimes);
    // The output's elided lifetimes are spelled out as the elision rules
    // read them (the receiver's, or the one input lifetime), now that the
    // inputs name theirs: an elided output beside a named input draws
    // `mismatched_lifetime_syntaxes`.
    if let ReturnType::Type(_, ty) = &mut sig.output {
        if let Some(source) = lifetimes::elision_source(sig.inputs.iter(), &found) {
            lifetimes::fill_elided(ty, &source);
        }
    }
    let output = match &sig.output {
        _ if stream => stream_fn::item(&sig.output).map_or_else(
            || {
                let message = "a `#[pooled]` stream method must name its item type: \
                               `impl Stream<Item = T>`";
                let span = syn::spanned::Spanned::span(&sig.output);
                quote_spanned!(span=> ::core::compile_error!(#message))
            },
            |item| item.to_token_stream(),
        ),
        ReturnType::Default => quote_spanned!(Span::mixed_site()=> ()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    let declared: Vec<LifetimeParam> = sig.generics.lifetimes().cloned().collect();
    let mut taken: Vec<Lifetime> = scope.lifetimes.clone();
    taken.extend(found.used.iter().cloned());
    taken.extend(declared.iter().map(|param| param.lifetime.clone()));
    // A stream method that bounds its `impl Stream` by a lifetime (`+ 'a`,
    // `+ '_`, `+ 'static`) returns a handle for that lifetime, as declared:
    // a `'static` listing can be spawned. Without one, the stream may hold
    // every argument, as a future does.
    let declared_bound = stream.then(|| stream_fn::lifetime_bound(&sig.output)).flatten();
    let bounded = declared_bound.is_some();
    let pooled = declared_bound.unwrap_or_else(|| future_lifetime(sig, &taken, span));

    // Lifetime parameters in order of appearance, so that a trait and an
    // impl that name different lifetimes in the same places get the same
    // list; then the future's; then the type and const parameters.
    let is_declared = |l: &Lifetime| declared.iter().find(|param| param.lifetime == *l);
    let mut params: Vec<GenericParam> = Vec::new();
    let mut listed: Vec<Lifetime> = Vec::new();
    for lifetime in &found.used {
        if listed.contains(lifetime) || (*lifetime == pooled && !bounded) {
            continue;
        }
        if let Some(param) = is_declared(lifetime) {
            params.push(GenericParam::Lifetime(param.clone()));
        } else if found.named.contains(lifetime) {
            params.push(GenericParam::Lifetime(LifetimeParam::new(lifetime.clone())));
        } else {
            continue;
        }
        listed.push(lifetime.clone());
    }
    for param in &declared {
        if !listed.contains(&param.lifetime) {
            params.push(GenericParam::Lifetime(param.clone()));
            listed.push(param.lifetime.clone());
        }
    }
    if !bounded {
        params.push(GenericParam::Lifetime(LifetimeParam::new(pooled.clone())));
    }
    // A type parameter's bounds move to the where clause, beside the
    // future's lifetime (one place for them, as async-trait does).
    let mut type_bounds: Vec<WherePredicate> = Vec::new();
    for param in std::mem::take(&mut sig.generics.params) {
        match param {
            GenericParam::Lifetime(_) => {}
            GenericParam::Type(mut ty) => {
                let ident = &ty.ident;
                if bounded {
                    // The declared bound says what the stream holds.
                } else if ty.attrs.is_empty() {
                    let bounds = std::mem::take(&mut ty.bounds);
                    let span = ty.colon_token.take().map_or(ident.span(), |colon| colon.span);
                    type_bounds.push(syn::parse_quote_spanned!(span=> #ident: #pooled + #bounds));
                } else {
                    ty.bounds.push(TypeParamBound::Lifetime(pooled.clone()));
                }
                params.push(GenericParam::Type(ty));
            }
            GenericParam::Const(c) => params.push(GenericParam::Const(c)),
        }
    }

    // What the future may hold: every lifetime of the arguments, the type
    // parameters (the method's, and the block's that the arguments name),
    // and `Self`.
    let mut bounds: Vec<WherePredicate> = Vec::new();
    let mut outlives: Vec<&Lifetime> = Vec::new();
    for lifetime in found.used.iter().chain(declared.iter().map(|param| &param.lifetime)) {
        if !outlives.contains(&lifetime) && *lifetime != pooled {
            outlives.push(lifetime);
        }
    }
    for lifetime in outlives.into_iter().filter(|_| !bounded) {
        bounds.push(syn::parse_quote_spanned!(span=> #lifetime: #pooled));
    }
    bounds.extend(type_bounds);
    let arg_types: Vec<&Type> = sig
        .inputs
        .iter()
        .map(|input| match input {
            FnArg::Receiver(receiver) => &*receiver.ty,
            FnArg::Typed(arg) => &*arg.ty,
        })
        .collect();
    for ty in scope.types.iter().filter(|_| !bounded) {
        if arg_types.iter().any(|arg| lifetimes::mentions(arg, ty)) {
            bounds.push(syn::parse_quote_spanned!(span=> #ty: #pooled));
        }
    }
    if !bounded {
        bounds.push(syn::parse_quote_spanned!(span=> Self: #(#receiver_bounds +)* #pooled));
    } else if !receiver_bounds.is_empty() {
        bounds.push(syn::parse_quote_spanned!(span=> Self: #(#receiver_bounds)+*));
    }
    let handle = Ident::new(Erased::of(stream, config).handle, Span::mixed_site());
    let private = private_path(config);
    // The declared `Stream` bound, kept as a bound of the handle: the
    // user's `use` of the trait stays used, and a `Stream` that is not
    // `futures_core`'s is an error here.
    if let Some(bound) = stream.then(|| stream_fn::stream_bound(&sig.output)).flatten() {
        let bound = bound.clone();
        bounds.push(syn::parse_quote_spanned!(Span::mixed_site()=>
            #private::#handle<#pooled, #output>: #bound
        ));
    }

    // `impl Trait` arguments are type parameters too: they outlive the
    // future as well.
    for input in sig.inputs.iter_mut().filter(|_| !bounded) {
        if let FnArg::Typed(arg) = input {
            AddLifetimeToImplTrait(&pooled).visit_type_mut(&mut arg.ty);
        }
    }
    if role == (Role::Trait { default: false }) {
        unbind_patterns(sig);
    }

    sig.generics.params = params.into_iter().collect::<Punctuated<_, Token![,]>>();
    sig.generics.lt_token = Some(Token![<](span));
    sig.generics.gt_token = Some(Token![>](span));
    let had_where = sig.generics.where_clause.is_some();
    let where_clause = sig.generics.make_where_clause();
    if !had_where {
        where_clause.where_token = Token![where](span);
    }
    where_clause.predicates.extend(bounds);
    sig.asyncness = None;
    sig.output =
        syn::parse_quote_spanned!(Span::mixed_site()=> -> #private::#handle<#pooled, #output>);
}

/// The erased handle a `dyn` method returns, and the `__private` fn that
/// erases its `Pooled` into it.
pub(crate) struct Erased {
    pub(crate) handle: &'static str,
    pub(crate) convert: &'static str,
}

impl Erased {
    /// For a future or a stream, `Send` or not (`?Send`).
    pub(crate) fn of(stream: bool, config: &Config) -> Erased {
        let (handle, convert) = match (stream, config.local.is_some()) {
            (false, false) => ("PooledDyn", "into_dyn"),
            (false, true) => ("LocalPooledDyn", "into_local_dyn"),
            (true, false) => ("PooledStream", "into_dyn_stream"),
            (true, true) => ("LocalPooledStream", "into_local_dyn_stream"),
        };
        Erased { handle, convert }
    }
}

/// The auto traits `Self` needs for a default body's future to be `Send`:
/// it holds the receiver, which is `Send` only if `Self` is `Sync` (`&self`,
/// `Arc<Self>`) or `Send` (`&mut self`, `self`, `Box<Self>`,
/// `Pin<&mut Self>`). Asked on the method, as async-trait does, not of the
/// trait: an implementor that lacks it keeps the trait, and only a call of
/// that default is an error.
fn receiver_bounds(
    sig: &Signature,
    scope: &Scope,
    config: &Config,
    role: Role,
) -> Vec<TokenStream> {
    if role != (Role::Trait { default: true }) || config.local.is_some() {
        return Vec::new();
    }
    let Some(FnArg::Receiver(receiver)) = sig.inputs.first() else { return Vec::new() };
    let (sync, send) = receiver_needs(receiver);
    let span = receiver.self_token.span;
    let mut bounds = Vec::new();
    if sync && !scope.sync {
        bounds.push(quote_spanned!(span=> ::core::marker::Sync));
    }
    if send && !scope.send {
        bounds.push(quote_spanned!(span=> ::core::marker::Send));
    }
    bounds
}

/// Whether a receiver is `Send` only if `Self` is `Sync`, and only if `Self`
/// is `Send`.
fn receiver_needs(receiver: &Receiver) -> (bool, bool) {
    fn needs(ty: &Type) -> (bool, bool) {
        match ty {
            Type::Reference(r) if is_self(&r.elem) => {
                (r.mutability.is_none(), r.mutability.is_some())
            }
            Type::Path(path) if path.qself.is_none() => {
                if is_self(ty) {
                    return (false, true);
                }
                let Some(last) = path.path.segments.last() else { return (false, true) };
                let PathArguments::AngleBracketed(args) = &last.arguments else {
                    return (false, true);
                };
                let Some(GenericArgument::Type(inner)) = args.args.first() else {
                    return (false, true);
                };
                match last.ident.to_string().as_str() {
                    "Pin" => needs(inner),
                    "Arc" if is_self(inner) => (true, true),
                    _ => (false, true),
                }
            }
            Type::Paren(paren) => needs(&paren.elem),
            _ => (false, true),
        }
    }
    fn is_self(ty: &Type) -> bool {
        matches!(ty, Type::Path(path) if path.qself.is_none() && path.path.is_ident("Self"))
    }
    needs(&receiver.ty)
}

/// A method without a body can't take patterns (E0642): name each pattern
/// argument `__argN`, as async-trait does, and drop `mut` and `ref`, which
/// only a body reads. The impl's own patterns are unaffected.
fn unbind_patterns(sig: &mut Signature) {
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(arg) = input else { continue };
        match &mut *arg.pat {
            Pat::Ident(PatIdent { by_ref, mutability, subpat: None, .. }) => {
                *by_ref = None;
                *mutability = None;
            }
            Pat::Wild(_) => {}
            pat => {
                let span = syn::spanned::Spanned::span(pat);
                let ident = Ident::new(&format!("__arg{index}"), span);
                *pat = Pat::Ident(PatIdent {
                    attrs: Vec::new(),
                    by_ref: None,
                    mutability: None,
                    ident,
                    subpat: None,
                });
            }
        }
    }
}

/// Adds `+ 'pooled` to every `impl Trait` of an argument, parenthesized
/// where a reference or pointer needs it (`&(impl Tr + 'pooled)`,
/// `*const (impl Tr + 'pooled)`).
struct AddLifetimeToImplTrait<'a>(&'a Lifetime);

impl VisitMut for AddLifetimeToImplTrait<'_> {
    fn visit_type_impl_trait_mut(&mut self, ty: &mut TypeImplTrait) {
        ty.bounds.push(TypeParamBound::Lifetime(self.0.clone()));
        visit_mut::visit_type_impl_trait_mut(self, ty);
    }

    fn visit_type_reference_mut(&mut self, ty: &mut TypeReference) {
        parenthesize_impl_trait(&mut ty.elem);
        visit_mut::visit_type_reference_mut(self, ty);
    }

    fn visit_type_ptr_mut(&mut self, ty: &mut TypePtr) {
        parenthesize_impl_trait(&mut ty.elem);
        visit_mut::visit_type_ptr_mut(self, ty);
    }

    // Bounds inside `Fn(..)` sugar and `for<'a>` binders are their own.
    fn visit_trait_bound_mut(&mut self, bound: &mut TraitBound) {
        if bound.lifetimes.is_none() && matches!(bound.modifier, TraitBoundModifier::None) {
            visit_mut::visit_trait_bound_mut(self, bound);
        }
    }

    // An array length's expression is not a type of the signature.
    fn visit_expr_mut(&mut self, _: &mut syn::Expr) {}
}

/// `impl Tr` → `(impl Tr)`, so the bound added to it stays its own.
fn parenthesize_impl_trait(elem: &mut Type) {
    if let Type::ImplTrait(_) = elem {
        let inner = std::mem::replace(elem, Type::Verbatim(TokenStream::new()));
        *elem = Type::Paren(TypeParen { paren_token: Default::default(), elem: Box::new(inner) });
    }
}
