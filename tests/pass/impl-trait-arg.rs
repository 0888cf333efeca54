//! `impl Trait` arguments, borrowed or owned, and in the output.

use std::fmt::Display;

use flowcoro::pooled;

#[pooled]
async fn show(label: impl Display, items: impl IntoIterator<Item = u32>) -> String {
    let total: u32 = items.into_iter().sum();
    format!("{label}: {total}")
}

#[pooled]
async fn call(f: impl FnOnce(&str) -> usize, s: &str) -> usize {
    f(s)
}

#[pooled]
async fn borrowed(it: &mut impl Iterator<Item = u8>) -> Option<u8> {
    it.next()
}

#[pooled]
async fn shown(x: u32, unit: &str) -> impl Display + use<'_> {
    format!("{x} {unit}")
}

#[pooled]
async fn evens(limit: u32) -> Result<impl Iterator<Item = u32>, String> {
    if limit > 100 {
        return Err(String::from("too many"));
    }
    Ok((0..limit).filter(|n| n % 2 == 0))
}

/// Elided lifetimes inside an `impl Trait` argument, as an `async fn` allows.
#[pooled]
async fn joined(words: impl Iterator<Item = &str>, sep: &str) -> String {
    words.collect::<Vec<_>>().join(sep)
}

struct Prefix(String);

impl Prefix {
    #[pooled]
    async fn apply<T>(&self, words: impl IntoIterator<Item = &'_ T>) -> Vec<String>
    where
        T: Display + ?Sized,
    {
        words.into_iter().map(|w| format!("{}{w}", self.0)).collect()
    }
}

pub(crate) fn main() {
    use futures::executor::block_on;
    assert_eq!(block_on(joined(["a", "b"].into_iter(), "-")), "a-b");
    let words = ["x", "y"];
    assert_eq!(block_on(Prefix("p".into()).apply(&words)), ["px", "py"]);
    assert_eq!(block_on(show("sum", vec![1, 2, 3])), "sum: 6");
    assert_eq!(block_on(show(7, [1])), "7: 1");
    assert_eq!(block_on(call(str::len, "four")), 4);
    let mut it = [5u8, 6].into_iter();
    assert_eq!(block_on(borrowed(&mut it)), Some(5));
    assert_eq!(it.next(), Some(6));
    assert_eq!(block_on(shown(3, "m")).to_string(), "3 m");
    assert_eq!(block_on(evens(5)).map(Iterator::count), Ok(3));
    assert!(block_on(evens(500)).is_err());
}
