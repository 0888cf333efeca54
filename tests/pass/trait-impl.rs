//! Methods of trait impls, for traits declared with `async fn` and with
//! `-> impl Future + Send`; callers generic over the trait work unchanged.

use std::collections::HashMap;
use std::future::Future;

use flowcoro::pooled;

trait Store {
    async fn get(&self, key: u32) -> Option<u32>;
    async fn put(&mut self, key: u32, value: u32) -> Option<u32>;
    async fn len(&self) -> usize {
        0
    }
}

trait SendStore {
    fn fetch(&self, key: u32) -> impl Future<Output = u32> + Send;
}

#[derive(Default)]
struct Map(HashMap<u32, u32>);

impl Store for Map {
    #[pooled]
    async fn get(&self, key: u32) -> Option<u32> {
        self.0.get(&key).copied()
    }

    #[pooled]
    async fn put(&mut self, key: u32, value: u32) -> Option<u32> {
        self.0.insert(key, value)
    }

    #[pooled]
    async fn len(&self) -> usize {
        self.0.len()
    }
}

impl SendStore for Map {
    #[pooled]
    async fn fetch(&self, key: u32) -> u32 {
        Store::get(self, key).await.unwrap_or_default()
    }
}

async fn fill<S: Store>(store: &mut S) -> usize {
    store.put(1, 10).await;
    store.put(2, 20).await;
    store.len().await
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

pub(crate) fn main() {
    let mut map = Map::default();
    assert_eq!(futures::executor::block_on(fill(&mut map)), 2);
    assert_eq!(futures::executor::block_on(map.get(2)), Some(20));
    assert_eq!(futures::executor::block_on(assert_send(map.fetch(1))), 10);
}
