//! Composition with other attribute macros: `#[pooled]` lets them expand
//! first, then rewrites what they made.
//!
//! An attribute macro such as `#[tracing::instrument]` recognises an
//! `async fn` and instruments its future. Had `#[pooled]` rewritten the fn
//! first, the macro would see a plain `fn` that returns a handle, and
//! instrument only the building of the frame. So when the item carries an
//! attribute that may be a macro, `#[pooled]` emits the item unchanged,
//! with itself re-attached last (with its options, and `__after`: see
//! `handoff.rs`):
//!
//! ```text
//! #[pooled] #[instrument] async fn f() {}
//! // becomes
//! #[instrument] #[::flowcoro::pooled(__after)] async fn f() {}
//! ```
//!
//! and rustc expands `#[instrument]`, then `#[pooled]` on its output.
//!
//! A method of a `#[pooled]` trait or impl block waits the same way, unless
//! a trait or trait impl block itself carries attribute macros below
//! `#[pooled]`: those read the whole block before any method's attributes
//! expand, and must find every method rewritten (see [`others_follow`]).

use proc_macro2::Span;
use syn::Attribute;

use crate::args::Config;
use crate::handoff::{Handoff, Within};
use crate::paths::facade_path;

/// Attributes rustc (or a tool) interprets itself: never macros.
const INERT: &[&str] = &[
    "allow",
    "warn",
    "deny",
    "forbid",
    "expect",
    "cfg",
    "cfg_attr",
    "doc",
    "inline",
    "cold",
    "must_use",
    "deprecated",
    "track_caller",
    "no_mangle",
    "export_name",
    "link_section",
    "target_feature",
    "optimize",
    "coverage",
    "instruction_set",
    "automatically_derived",
    "non_exhaustive",
    "repr",
    "pooled",
];

/// Tool namespaces whose attributes are inert.
const TOOLS: &[&str] = &["rustfmt", "clippy", "diagnostic", "rustdoc"];

/// Whether `attr` may be an attribute macro that wants to see the `async fn`.
fn may_be_a_macro(attr: &Attribute) -> bool {
    let path = attr.path();
    match path.segments.first() {
        _ if path.segments.len() == 1 => !INERT.iter().any(|name| path.is_ident(name)),
        Some(first) => {
            let last_is_pooled = path.segments.last().is_some_and(|s| s.ident == "pooled");
            !last_is_pooled && !TOOLS.iter().any(|tool| first.ident == tool)
        }
        None => false,
    }
}

/// Whether the item should be left to the other attributes first: not if
/// this is the copy of the attribute that already waited for them.
pub(crate) fn wanted(attrs: &[Attribute], handoff: &Handoff) -> bool {
    !handoff.after && attrs.iter().any(may_be_a_macro)
}

/// Whether a trait or trait impl block carries attribute macros that expand after
/// `#[pooled]` (those above it have expanded already). They read the block
/// as `#[pooled]` leaves it, as they would read async-trait's output
/// (`#[auto_impl]` forwards each method with the signature it finds), so
/// then no method is left for later: each is rewritten with the block, and
/// its own attribute macros expand on the rewritten `fn`.
pub(crate) fn others_follow(block_attrs: &[Attribute]) -> bool {
    block_attrs.iter().any(may_be_a_macro)
}

/// Re-attaches `#[pooled]`, with these options, after the item's other
/// outer attributes (the item is then emitted as written). `within`: what
/// a method of a `#[pooled]` trait or impl block knows of its block.
pub(crate) fn reattach(attrs: &mut Vec<Attribute>, config: &Config, within: Option<Within>) {
    let krate = facade_path(config);
    let args = config.to_args();
    let handoff = Handoff { after: true, within }.to_args();
    attrs.push(syn::parse_quote_spanned!(Span::mixed_site()=> #[#krate::pooled(#args #handoff)]));
}
