//! Several elided lifetimes in the arguments: the future captures them all,
//! in every edition, as the `async fn`'s future does.

use flowcoro::pooled;

#[pooled]
async fn concat(a: &str, b: &str) -> String {
    format!("{a}{b}")
}

#[pooled]
async fn push_all(out: &mut Vec<u8>, more: &[u8]) -> usize {
    out.extend_from_slice(more);
    out.len()
}

#[pooled]
async fn first<'a>(a: &'a str, _b: &str) -> &'a str {
    a
}

struct Buf(Vec<u8>);

impl Buf {
    #[pooled]
    async fn starts_with(&self, prefix: &[u8]) -> bool {
        self.0.starts_with(prefix)
    }
}

pub(crate) fn main() {
    use futures::executor::block_on;
    let (a, b) = (String::from("ab"), String::from("cd"));
    assert_eq!(block_on(concat(&a, &b)), "abcd");
    let mut out = Vec::new();
    assert_eq!(block_on(push_all(&mut out, b"xyz")), 3);
    let kept = {
        let short_lived = String::from("tmp");
        block_on(first(&a, &short_lived))
    };
    assert_eq!(kept, "ab");
    assert!(block_on(Buf(out).starts_with(b"xy")));
}
