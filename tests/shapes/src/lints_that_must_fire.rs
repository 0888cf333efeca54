//! User code inside `#[pooled]` bodies whose own lints must still fire, as
//! they would in the plain `async fn`: each is `#[expect]`ed, and an
//! expectation no lint meets is itself a warning (`-D warnings` in CI).

use std::future::Future;

use flowcoro::pooled;

/// `clippy::needless_return` on the body's last statement.
#[pooled]
#[expect(clippy::needless_return)]
pub async fn needless_return(x: u32) -> u32 {
    let y = x + 1;
    return y;
}

/// `clippy::useless_conversion` on the body's value.
#[pooled]
#[expect(clippy::useless_conversion)]
pub async fn useless_conversion(s: String) -> String {
    s.into()
}

/// `clippy::useless_conversion` on an argument.
#[pooled]
#[expect(clippy::useless_conversion)]
pub async fn useless_into_iter(v: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(v.into_iter());
    out
}

/// `clippy::len_zero` in the body.
#[pooled]
#[expect(clippy::len_zero)]
pub async fn len_zero(v: Vec<u8>) -> bool {
    v.len() == 0
}

/// rustc's `unused_variables` on an argument the body never reads.
#[pooled]
#[expect(unused_variables)]
pub async fn unused_argument(x: u32, y: &u32) -> u32 {
    x
}

/// rustc's `unused_mut`.
#[pooled]
#[expect(unused_mut)]
pub async fn unused_mut(mut x: u32) -> u32 {
    x
}

/// The same in a method of a pooled trait impl.
#[pooled]
pub trait Lints {
    /// Returns `x`.
    async fn needless(&self, x: u32) -> u32;
}

/// Implements [`Lints`].
#[derive(Debug)]
pub struct WithLints;

#[pooled]
impl Lints for WithLints {
    #[expect(clippy::needless_return)]
    async fn needless(&self, x: u32) -> u32 {
        return x;
    }
}

/// The body of a `pool!` block is the user's: its lints fire.
pub fn in_a_block(v: Vec<u8>) -> flowcoro::Pooled<impl Future<Output = bool>> {
    flowcoro::pool!(async move {
        #[expect(clippy::len_zero)]
        let empty = v.len() == 0;
        empty
    })
}

/// `clippy::needless_return` in a pooled stream fn's body.
#[pooled]
#[expect(clippy::needless_return)]
pub fn needless_return_in_a_stream(n: u32) -> impl futures::Stream<Item = u32> {
    let items = futures::stream::iter(0..n);
    return items;
}

/// `clippy::redundant_closure` inside a pooled stream fn's body.
#[pooled]
#[expect(clippy::redundant_closure)]
pub fn redundant_closure_in_a_stream(v: Vec<u32>) -> impl futures::Stream<Item = u64> {
    use futures::StreamExt;
    futures::stream::iter(v).map(|x| u64::from(x))
}
