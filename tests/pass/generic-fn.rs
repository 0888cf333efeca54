//! Generic functions: type, lifetime and const parameters, bounds in both
//! places, a where-clause. One pool serves every instantiation.

use std::fmt::Debug;

use flowcoro::pooled;

#[pooled]
async fn largest<T: PartialOrd + Copy, L>(items: &[T], label: L) -> Option<T>
where
    L: Debug,
{
    let mut best: Option<T> = None;
    for &item in items {
        if best.is_none_or(|b| item > b) {
            best = Some(item);
        }
    }
    assert!(!format!("{label:?}").is_empty());
    best
}

#[pooled]
async fn sum<const N: usize>(xs: [u64; N]) -> u64 {
    xs.iter().sum()
}

#[pooled]
async fn pick<'a, 'b: 'a, T: ?Sized>(first: &'a T, _second: &'b T) -> &'a T {
    first
}

#[pooled]
async fn wrap<T, U>(t: T, u: U) -> (U, T)
where
    T: Send + 'static,
    U: Default + PartialEq,
{
    if u == U::default() { (U::default(), t) } else { (u, t) }
}

pub(crate) fn main() {
    use futures::executor::block_on;
    assert_eq!(block_on(largest(&[3, 9, 2], 'a')), Some(9));
    assert_eq!(block_on(largest(&[1.5, -2.0], "b")), Some(1.5));
    assert_eq!(block_on(largest::<u8, _>(&[], ())), None);
    assert_eq!(block_on(sum([1, 2, 3])), 6);
    assert_eq!(block_on(sum([7; 40])), 280);
    assert_eq!(block_on(pick("a", "b")), "a");
    assert_eq!(block_on(wrap(String::from("t"), 4u8)), (4, String::from("t")));
    // Both instantiations came from the same pool.
    let a = largest(&[1u8], 0);
    let b = largest(&[1.0f64], 0);
    assert!(std::ptr::eq(a.pool(), b.pool()));
}
