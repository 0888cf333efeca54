use std::fmt::Display;

use flowcoro::pooled;

// Generic methods are accepted, as async-trait accepts them; a trait that
// has one without `where Self: Sized` is then not `dyn`-compatible, and
// rustc says so where `dyn` is used.
#[pooled]
trait Render {
    async fn render<T: Display + Send>(&self, item: T) -> String;
    async fn repeat<const N: usize>(&self) -> [u8; N];
    async fn show(&self, item: impl Display + Send) -> String;
}

fn main() {
    let _: Option<&dyn Render> = None;
}
