//! `#[pooled]` on a trait and its impl blocks: `async fn`s callable through
//! `dyn`, every receiver `dyn` can dispatch, borrowed arguments with elided
//! and named lifetimes, associated types, default bodies, plain methods left
//! alone, generic traits and impls.

use std::collections::HashMap;
use std::sync::Arc;

use flowcoro::pooled;

#[pooled]
trait Store: Send + Sync {
    type Key;

    async fn get(&self, key: &str) -> Option<u32>;
    async fn put(&mut self, key: String, value: u32) -> Option<u32>;
    async fn len(&self) -> usize {
        self.plain()
    }
    async fn first<'a>(&'a self, keys: &[&'a str]) -> Option<&'a str>;
    async fn into_len(self: Box<Self>) -> usize;
    async fn shared_len(self: Arc<Self>) -> usize {
        self.len().await
    }
    async fn key(&self) -> Self::Key;
    fn plain(&self) -> usize;
}

#[derive(Default)]
struct Map(HashMap<String, u32>);

#[pooled]
impl Store for Map {
    type Key = String;

    async fn get(&self, key: &str) -> Option<u32> {
        self.0.get(key).copied()
    }

    async fn put(&mut self, key: String, value: u32) -> Option<u32> {
        self.0.insert(key, value)
    }

    async fn first<'a>(&'a self, keys: &[&'a str]) -> Option<&'a str> {
        keys.iter().copied().find(|k| self.0.contains_key(*k))
    }

    async fn into_len(self: Box<Self>) -> usize {
        self.0.len()
    }

    #[pooled(name = "dyn-trait: Map key", max_idle = 4)]
    async fn key(&self) -> String {
        self.0.keys().min().cloned().unwrap_or_default()
    }

    fn plain(&self) -> usize {
        self.0.len()
    }
}

struct Fixed<'v, T>(&'v T);

#[pooled]
impl<'v, T: Into<u32> + Copy + Send + Sync> Store for Fixed<'v, T> {
    type Key = ();

    async fn get(&self, _: &str) -> Option<u32> {
        Some((*self.0).into())
    }

    async fn put(&mut self, _: String, _: u32) -> Option<u32> {
        None
    }

    async fn len(&self) -> usize {
        1
    }

    async fn first<'a>(&'a self, keys: &[&'a str]) -> Option<&'a str> {
        keys.first().copied()
    }

    async fn into_len(self: Box<Self>) -> usize {
        1
    }

    async fn key(&self) {}

    fn plain(&self) -> usize {
        1
    }
}

/// A generic trait: its parameter flows into the futures.
#[pooled]
trait Sink<T> {
    async fn push(&mut self, item: T) -> usize;
}

#[pooled]
impl<T: Send> Sink<T> for Vec<T> {
    async fn push(&mut self, item: T) -> usize {
        Vec::push(self, item);
        self.len()
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

pub(crate) fn main() {
    let mut map = Map::default();
    {
        let store: &mut dyn Store<Key = String> = &mut map;
        assert_eq!(block_on(store.put("b".to_owned(), 2)), None);
        assert_eq!(block_on(store.put("a".to_owned(), 1)), None);
        let key = String::from("a");
        assert_eq!(block_on(assert_send(store.get(&key))), Some(1));
        assert_eq!(block_on(store.len()), 2);
        assert_eq!(block_on(store.key()), "a");
        let (x, y) = (String::from("x"), String::from("b"));
        assert_eq!(block_on(store.first(&[&x, &y])), Some("b"));
    }
    let value = 7u8;
    let stores: Vec<Box<dyn Store<Key = String>>> = vec![Box::new(map)];
    for store in stores {
        assert_eq!(block_on(store.into_len()), 2);
    }
    let fixed: Box<dyn Store<Key = ()>> = Box::new(Fixed(&value));
    assert_eq!(block_on(fixed.get("")), Some(7));
    assert_eq!(block_on(fixed.len()), 1);
    let shared: Arc<dyn Store<Key = ()>> = Arc::new(Fixed(&value));
    assert_eq!(block_on(shared.shared_len()), 1);

    let mut sink: Vec<u8> = Vec::new();
    let sink: &mut dyn Sink<u8> = &mut sink;
    assert_eq!(block_on(sink.push(1)), 1);
    assert_eq!(block_on(sink.push(2)), 2);

    let names: Vec<&str> = flowcoro::pools().iter().map(|s| s.name).collect();
    assert!(names.contains(&"dyn-trait: Map key"), "{names:?}");
    // Named after the method's path, with its type and trait.
    assert!(
        names
            .iter()
            .any(|n| n.starts_with('<') && n.contains("::Map as ") && n.ends_with("::Store>::get")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.ends_with("::Store::len")), "{names:?}");
    assert!(
        names.iter().any(|n| n.contains("Vec<_> as ") && n.ends_with("::Sink<_>>::push")),
        "{names:?}"
    );
}
