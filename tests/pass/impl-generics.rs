//! Methods of impls with their own lifetime and type parameters (and a
//! where-clause), returning borrows of them.

use std::fmt::Debug;

use flowcoro::pooled;

struct Cache<'a, T> {
    items: &'a [T],
    hits: u32,
}

impl<'a, T: Clone + Debug> Cache<'a, T> {
    #[pooled]
    async fn get(&mut self, i: usize) -> Option<T> {
        self.hits += 1;
        self.items.get(i).cloned()
    }

    #[pooled]
    async fn all(&self) -> &'a [T] {
        self.items
    }

    #[pooled]
    async fn first_of<'b>(&self, other: &'b [T]) -> (Option<&'a T>, Option<&'b T>) {
        (self.items.first(), other.first())
    }
}

struct Wrapper<T>(T);

impl<T> Wrapper<T>
where
    T: Iterator<Item = u32>,
{
    #[pooled]
    async fn total(self) -> u32 {
        self.0.sum()
    }
}

pub(crate) fn main() {
    use futures::executor::block_on;
    let data = vec![String::from("a"), String::from("b")];
    let mut cache = Cache { items: &data, hits: 0 };
    assert_eq!(block_on(cache.get(1)).as_deref(), Some("b"));
    assert_eq!(cache.hits, 1);
    // The result borrows `data` ('a), not the cache.
    let all = block_on(cache.all());
    cache = Cache { items: &[], hits: 0 };
    assert_eq!((all.len(), cache.items.len()), (2, 0));
    let cache = Cache { items: &data, hits: 0 };
    let other = [String::from("z")];
    let (a, b) = block_on(cache.first_of(&other));
    assert_eq!((a.map(String::as_str), b.map(String::as_str)), (Some("a"), Some("z")));
    assert_eq!(block_on(Wrapper(1..4).total()), 6);
}
