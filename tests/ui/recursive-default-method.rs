use flowcoro::pooled;

// A recursive default method with `#[pooled]` on the method alone returns
// an opaque `impl Future` of the trait, which rustc won't let recurse
// (E0792). The way out, in the attribute's docs: `#[pooled]` on the trait,
// whose methods then return a named `PooledDyn`.
trait Node {
    fn children(&self) -> Vec<&Self>;

    #[pooled]
    async fn size(&self) -> usize {
        let mut n = 1;
        for child in self.children() {
            n += child.size().await;
        }
        n
    }
}

fn main() {}
