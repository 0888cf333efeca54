//! Argument patterns: tuples, structs, references, `_`, `mut`, `ref` and
//! `ref mut` bindings.

use flowcoro::pooled;

struct Point {
    x: i32,
    y: i32,
}

#[pooled]
async fn tuple((a, b): (u32, u32), _: String, mut acc: Vec<u32>) -> Vec<u32> {
    acc.push(a + b);
    acc
}

#[pooled]
async fn fields(Point { x, y: _ }: Point, &(p, q): &(i32, i32)) -> i32 {
    x + p + q
}

#[pooled]
async fn y_of(Point { y, .. }: Point) -> i32 {
    y
}

#[pooled]
async fn bindings(ref s: String, ref mut v: Vec<u8>, [first, .., last]: [u8; 3]) -> usize {
    v.push(first);
    v.push(last);
    s.len() + v.len()
}

#[pooled]
async fn nested((mut n, Point { x, .. }): (u8, Point), (ref mut out, _): (Vec<u8>, u8)) -> Vec<u8> {
    n += 1;
    out.push(n);
    out.push(x as u8);
    std::mem::take(out)
}

pub(crate) fn main() {
    use futures::executor::block_on;
    assert_eq!(block_on(tuple((1, 2), String::new(), vec![0])), [0, 3]);
    assert_eq!(block_on(fields(Point { x: 1, y: 9 }, &(2, 3))), 6);
    assert_eq!(block_on(y_of(Point { x: 1, y: 9 })), 9);
    assert_eq!(block_on(bindings(String::from("ab"), vec![9], [1, 2, 3])), 5);
    assert_eq!(block_on(nested((1, Point { x: 5, y: 0 }), (vec![], 0))), [2, 5]);
}
