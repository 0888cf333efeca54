//! The lifetimes of a rewritten signature: elided ones named, and the
//! passes that find, declare or respan them.
//!
//! The future a `#[pooled]` trait method returns is a `PooledDyn<'pooled, T>`:
//! it borrows whatever its arguments borrow, so every lifetime of the
//! arguments must outlive `'pooled` (and a pooled fn's `impl Future` names
//! them in its `Captures` bound). That needs names: each elided lifetime
//! (`&self`, `&str`, `Ref<'_, T>`) gets one, in order of appearance, so a
//! trait and its impl, rewritten alike, get the same parameters in the same
//! order.

use proc_macro2::Span;
use syn::visit::{self, Visit};
use syn::visit_mut::{self, VisitMut};
use syn::{
    FnArg, GenericArgument, Lifetime, ParenthesizedGenericArguments, Receiver, Signature,
    TraitBound, Type, TypeBareFn, TypeReference,
};

/// The `VisitMut` methods of a pass over elided lifetimes that leave alone
/// what binds its own: the elided lifetimes of `fn(&T)` and `Fn(&T)` (higher
/// ranked), those a `for<'a>` binds, and a const argument's expression,
/// which has none to name.
macro_rules! leave_what_binds_its_own {
    () => {
        fn visit_type_bare_fn_mut(&mut self, _: &mut TypeBareFn) {}

        fn visit_parenthesized_generic_arguments_mut(
            &mut self,
            _: &mut ParenthesizedGenericArguments,
        ) {
        }

        fn visit_trait_bound_mut(&mut self, bound: &mut TraitBound) {
            if bound.lifetimes.is_none() {
                visit_mut::visit_trait_bound_mut(self, bound);
            }
        }

        fn visit_generic_argument_mut(&mut self, arg: &mut GenericArgument) {
            if !matches!(arg, GenericArgument::Const(_)) {
                visit_mut::visit_generic_argument_mut(self, arg);
            }
        }
    };
}

/// What [`name_elided`] found in a signature's arguments.
pub(crate) struct Lifetimes {
    /// Every lifetime of the arguments but `'static`, in order of first
    /// appearance, the elided ones under their new names.
    pub(crate) used: Vec<Lifetime>,
    /// The names given to elided lifetimes, in order.
    pub(crate) named: Vec<Lifetime>,
}

/// Names the elided lifetimes of `sig`'s arguments in place and lists every
/// lifetime they use. `outer` lists the lifetimes in scope around the method
/// (of the trait or impl), which the new names must not shadow.
//
// Input:  (&self, key: &str, r: Ref<'_, T>, s: &'a str, f: fn(&u8))
// Output: (&'life0 self, key: &'life1 str, r: Ref<'life2, T>, s: &'a str, f: fn(&u8))
//         used = ['life0, 'life1, 'life2, 'a], named = ['life0, 'life1, 'life2]
pub(crate) fn name_elided(sig: &mut Signature, outer: &[Lifetime]) -> Lifetimes {
    let mut taken = TakenNames(outer.iter().map(|l| l.ident.to_string()).collect());
    taken.visit_signature(sig);
    let mut namer = Namer { taken: taken.0, next: 0, used: Vec::new(), named: Vec::new() };
    for input in &mut sig.inputs {
        match input {
            FnArg::Receiver(receiver) => namer.receiver(receiver),
            FnArg::Typed(arg) => namer.visit_type_mut(&mut arg.ty),
        }
    }
    Lifetimes { used: namer.used, named: namer.named }
}

/// Names the elided lifetimes inside the `impl Trait` arguments of a fn
/// (`words: impl Iterator<Item = &str>`) and declares them on the fn: an
/// `async fn` may elide them, a plain `fn` may not (E0658).
//
// Input:  fn f<T>(words: impl Iterator<Item = &str>, r: &T)
// Output: fn f<'life0, T>(words: impl Iterator<Item = &'life0 str>, r: &T)
pub(crate) fn name_elided_in_impl_trait_args(sig: &mut Signature) {
    struct InImplTrait<'a>(&'a mut Namer);
    impl VisitMut for InImplTrait<'_> {
        fn visit_type_impl_trait_mut(&mut self, ty: &mut syn::TypeImplTrait) {
            self.0.visit_type_impl_trait_mut(ty);
        }
        leave_what_binds_its_own!();
    }
    let mut taken = TakenNames(Vec::new());
    taken.visit_signature(sig);
    let mut namer = Namer { taken: taken.0, next: 0, used: Vec::new(), named: Vec::new() };
    for input in &mut sig.inputs {
        if let FnArg::Typed(arg) = input {
            InImplTrait(&mut namer).visit_type_mut(&mut arg.ty);
        }
    }
    // `&'life0 T` of a type parameter needs `T: 'life0`, which the elided
    // form implied.
    struct Referents<'a>(&'a [Lifetime], Vec<(Lifetime, Type)>);
    impl Visit<'_> for Referents<'_> {
        fn visit_type_reference(&mut self, ty: &TypeReference) {
            if let Some(lifetime) = ty.lifetime.as_ref().filter(|l| self.0.contains(l)) {
                self.1.push((lifetime.clone(), (*ty.elem).clone()));
            }
            syn::visit::visit_type_reference(self, ty);
        }
    }
    let mut referents = Referents(&namer.named, Vec::new());
    for input in &sig.inputs {
        if let FnArg::Typed(arg) = input {
            referents.visit_type(&arg.ty);
        }
    }
    let type_params: Vec<syn::Ident> =
        sig.generics.type_params().map(|param| param.ident.clone()).collect();
    let outlives: Vec<syn::WherePredicate> = referents
        .1
        .into_iter()
        .filter(|(_, ty)| type_params.iter().any(|param| mentions(ty, param)))
        .map(|(lifetime, ty)| syn::parse_quote!(#ty: #lifetime))
        .collect();
    if !outlives.is_empty() {
        sig.generics.make_where_clause().predicates.extend(outlives);
    }
    declare(sig, namer.named);
}

/// Declares `lifetimes` on the fn, after its own lifetime parameters.
pub(crate) fn declare(sig: &mut Signature, lifetimes: Vec<Lifetime>) {
    let at = sig.generics.lifetimes().count();
    for (offset, lifetime) in lifetimes.into_iter().enumerate() {
        let param = syn::GenericParam::Lifetime(syn::LifetimeParam::new(lifetime));
        sig.generics.params.insert(at + offset, param);
    }
    if !sig.generics.params.is_empty() && sig.generics.lt_token.is_none() {
        sig.generics.lt_token = Some(Default::default());
        sig.generics.gt_token = Some(Default::default());
    }
}

/// Whether `sig` names the lifetime `'name` anywhere.
pub(crate) fn names(sig: &Signature, name: &str) -> bool {
    struct Names<'a>(&'a str, bool);
    impl Visit<'_> for Names<'_> {
        fn visit_lifetime(&mut self, lifetime: &Lifetime) {
            self.1 |= lifetime.ident == self.0;
        }
    }
    let mut names = Names(name, false);
    names.visit_signature(sig);
    names.1
}

/// Declares `'name` on the fn if its signature uses it undeclared: code
/// written for async-recursion names its future's lifetime
/// `'async_recursion` in arguments, which a pooled fn's future captures
/// like any other.
///
/// Returns whether it declared it: the fn then carries an allow of
/// `clippy::needless_lifetimes`, which would ask the user to elide a
/// lifetime they did not declare (async-recursion's own expansion uses it
/// in its return type).
pub(crate) fn declare_if_used(sig: &mut Signature, name: &str) -> bool {
    let declared = sig.generics.lifetimes().any(|param| param.lifetime.ident == name);
    if declared || !names(sig, name) {
        return false;
    }
    declare(sig, vec![Lifetime::new(&format!("'{name}"), Span::call_site())]);
    true
}

/// A lifetime named `base`, or `base1`, `base2`... if that is taken.
pub(crate) fn fresh(base: &str, taken: &[Lifetime], span: Span) -> Lifetime {
    let free = |name: &String| !taken.iter().any(|l| l.ident == name);
    let name = std::iter::once(base.to_owned())
        .chain((1..).map(|n| format!("{base}{n}")))
        .find(free)
        .expect("an unbounded sequence of names has a free one");
    Lifetime::new(&format!("'{name}"), span)
}

/// Collects the names of every lifetime in a signature.
struct TakenNames(Vec<String>);

impl Visit<'_> for TakenNames {
    fn visit_lifetime(&mut self, lifetime: &Lifetime) {
        self.0.push(lifetime.ident.to_string());
    }
}

struct Namer {
    taken: Vec<String>,
    next: usize,
    used: Vec<Lifetime>,
    named: Vec<Lifetime>,
}

impl Namer {
    /// A new lifetime, `'life0`, `'life1`... skipping names in use.
    fn next_name(&mut self, span: Span) -> Lifetime {
        loop {
            let name = format!("life{}", self.next);
            self.next += 1;
            if !self.taken.contains(&name) {
                let lifetime = Lifetime::new(&format!("'{name}"), span);
                self.named.push(lifetime.clone());
                return lifetime;
            }
        }
    }

    fn record(&mut self, lifetime: &Lifetime) {
        if lifetime.ident != "static" && !self.used.contains(lifetime) {
            self.used.push(lifetime.clone());
        }
    }

    /// `&self` / `&mut self` name their borrow (in both places syn keeps it);
    /// `self: Type` is a type like any other.
    fn receiver(&mut self, receiver: &mut Receiver) {
        if receiver.colon_token.is_some() {
            return self.visit_type_mut(&mut receiver.ty);
        }
        if let Some((and, lifetime)) = &mut receiver.reference {
            match lifetime {
                Some(lifetime) if lifetime.ident != "_" => {}
                _ => *lifetime = Some(self.next_name(and.span)),
            }
            let lifetime = lifetime.clone().expect("named just above");
            if let Type::Reference(ty) = &mut *receiver.ty {
                ty.lifetime = Some(lifetime.clone());
            }
            self.record(&lifetime);
        }
    }
}

impl VisitMut for Namer {
    fn visit_type_reference_mut(&mut self, ty: &mut TypeReference) {
        if ty.lifetime.is_none() {
            ty.lifetime = Some(self.next_name(ty.and_token.span));
        }
        visit_mut::visit_type_reference_mut(self, ty);
    }

    fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
        if lifetime.ident == "_" {
            *lifetime = self.next_name(lifetime.apostrophe);
        }
        self.record(lifetime);
    }

    leave_what_binds_its_own!();
}

/// The lifetime an elided lifetime of the output stands for, by the elision
/// rules: the receiver's if it is a reference, else the one lifetime of the
/// arguments, if there is exactly one.
pub(crate) fn elision_source<'a>(
    mut inputs: impl Iterator<Item = &'a FnArg>,
    found: &Lifetimes,
) -> Option<Lifetime> {
    if let Some(FnArg::Receiver(receiver)) = inputs.next() {
        if let Some((_, Some(lifetime))) = &receiver.reference {
            return Some(lifetime.clone());
        }
        if receiver.colon_token.is_some() {
            if let Type::Reference(TypeReference { lifetime: Some(lifetime), elem, .. }) =
                &*receiver.ty
            {
                if matches!(&**elem, Type::Path(p) if p.path.is_ident("Self")) {
                    return Some(lifetime.clone());
                }
            }
        }
    }
    match found.used.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// Writes `lifetime` where `ty` elides one (`&T`, `'_`), outside the types
/// that bind their own (`fn(&T)`, `Fn(&T)`, `for<'a>`).
pub(crate) fn fill_elided(ty: &mut Type, lifetime: &Lifetime) {
    struct Fill<'a>(&'a Lifetime);
    impl VisitMut for Fill<'_> {
        fn visit_type_reference_mut(&mut self, ty: &mut TypeReference) {
            if ty.lifetime.is_none() {
                ty.lifetime = Some(Lifetime::new(&self.0.to_string(), ty.and_token.span));
            }
            visit_mut::visit_type_reference_mut(self, ty);
        }
        fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
            if lifetime.ident == "_" {
                *lifetime = Lifetime::new(&self.0.to_string(), lifetime.apostrophe);
            }
        }
        leave_what_binds_its_own!();
    }
    Fill(lifetime).visit_type_mut(ty);
}

/// Whether `ident` names a type somewhere in `ty` (as a path's first segment).
pub(crate) fn mentions(ty: &Type, ident: &syn::Ident) -> bool {
    struct Finder<'a>(&'a syn::Ident, bool);
    impl Visit<'_> for Finder<'_> {
        fn visit_path(&mut self, path: &syn::Path) {
            if path.leading_colon.is_none()
                && path.segments.first().is_some_and(|s| s.ident == *self.0)
            {
                self.1 = true;
            }
            visit::visit_path(self, path);
        }
    }
    let mut finder = Finder(ident, false);
    finder.visit_type(ty);
    finder.1
}

/// Whether a type of `inputs` names `Self`.
pub(crate) fn mentions_self(inputs: &syn::punctuated::Punctuated<FnArg, syn::Token![,]>) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_path(&mut self, path: &syn::Path) {
            self.0 |= path.segments.first().is_some_and(|segment| segment.ident == "Self");
            visit::visit_path(self, path);
        }
    }
    let mut finder = Finder(false);
    inputs.iter().for_each(|input| finder.visit_fn_arg(input));
    finder.0
}

/// Gives every occurrence in `sig` of a lifetime of `which` the span `span`.
pub(crate) fn respan(sig: &mut Signature, which: &[Lifetime], span: Span) {
    struct Respan<'a>(&'a [Lifetime], Span);
    impl VisitMut for Respan<'_> {
        fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
            if self.0.contains(lifetime) {
                lifetime.set_span(self.1);
            }
        }
    }
    Respan(which, span).visit_signature_mut(sig);
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;
    use syn::{Signature, parse_quote};

    use super::{fresh, mentions, name_elided};

    fn names(lifetimes: &[syn::Lifetime]) -> Vec<String> {
        lifetimes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn elided_lifetimes_are_named_in_order() {
        let mut sig: Signature = parse_quote!(
            fn f<'a>(&self, key: &str, r: Ref<'_, T>, s: &'a str, f: fn(&u8), g: &dyn Fn(&u8), x: &'static str)
        );
        let found = name_elided(&mut sig, &[]);
        assert_eq!(
            sig.inputs.to_token_stream().to_string(),
            "& 'life0 self , key : & 'life1 str , r : Ref < 'life2 , T > , s : & 'a str , \
             f : fn (& u8) , g : & 'life3 dyn Fn (& u8) , x : & 'static str"
        );
        assert_eq!(names(&found.used), ["'life0", "'life1", "'life2", "'a", "'life3"]);
        assert_eq!(names(&found.named), ["'life0", "'life1", "'life2", "'life3"]);
    }

    #[test]
    fn names_in_use_are_skipped() {
        let mut sig: Signature = parse_quote!(fn f<'life0>(self: Pin<&mut Self>, a: &'life0 u8));
        let outer = [parse_quote!('life1)];
        let found = name_elided(&mut sig, &outer);
        assert_eq!(names(&found.used), ["'life2", "'life0"]);
        let taken = [parse_quote!('pooled), parse_quote!('pooled1)];
        assert_eq!(fresh("pooled", &taken, proc_macro2::Span::call_site()).to_string(), "'pooled2");
    }

    #[test]
    fn type_mentions() {
        let ident: syn::Ident = parse_quote!(T);
        assert!(mentions(&parse_quote!(Vec<(u8, &T)>), &ident));
        assert!(!mentions(&parse_quote!(Vec<Self::T>), &ident));
        assert!(!mentions(&parse_quote!(Tx), &ident));
    }
}
