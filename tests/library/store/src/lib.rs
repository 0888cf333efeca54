//! A library in the shape the README's "For library authors" describes: it
//! declares a `#[pooled]` trait, calls it through `dyn`, and re-exports
//! flowcoro so that crates implementing the trait need no dependency of
//! their own on it (`tests/library/downstream` has none).

/// The runtime, for implementors: `#[store::pooled(crate = "store::flowcoro")]`.
pub use flowcoro;
/// The attribute, for implementors.
pub use flowcoro::pooled;

/// Implements this crate's traits in another crate: the items given are
/// `#[pooled]` with the runtime reached through this crate, so the
/// implementing crate needs no dependency on flowcoro.
///
/// ```text
/// store::implement! {
///     impl store::Store for Memory { async fn get(&self, key: &str) -> Option<String> { .. } }
/// }
/// ```
#[macro_export]
macro_rules! implement {
    ($($item:tt)*) => {
        #[$crate::flowcoro::pooled(crate = $crate::flowcoro)]
        $($item)*
    };
}

/// A store of strings, implemented by other crates.
#[pooled]
pub trait Store: Send + Sync {
    /// The value under `key`.
    async fn get(&self, key: &str) -> Option<String>;

    /// How long the value under `key` is: a default body, in this crate's pool.
    async fn len(&self, key: &str) -> usize {
        self.get(key).await.map_or(0, |value| value.len())
    }
}

/// This crate's own code, calling implementations it does not know.
pub async fn total_len(stores: &[Box<dyn Store>], key: &str) -> usize {
    let mut total = 0;
    for store in stores {
        total += store.len(key).await;
    }
    total
}
