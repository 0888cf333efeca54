//! Implementations of `store::Store` from a crate that depends on the
//! library only: one with the attribute and the re-exported runtime named
//! by `crate = ..`, one through the library's `implement!`.

use std::collections::HashMap;

/// Values in a map.
#[derive(Debug, Default)]
pub struct Memory(pub HashMap<String, String>);

#[store::pooled(crate = "store::flowcoro")]
impl store::Store for Memory {
    async fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

/// The key, repeated: every key has a value.
#[derive(Debug)]
pub struct Echo(pub usize);

store::implement! {
    impl store::Store for Echo {
        async fn get(&self, key: &str) -> Option<String> {
            Some(key.repeat(self.0))
        }

        async fn len(&self, key: &str) -> usize {
            key.len() * self.0
        }
    }
}
