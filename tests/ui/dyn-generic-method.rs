use std::fmt::Display;

use flowcoro::pooled;

#[pooled]
trait Render {
    async fn render<T: Display>(&self, item: T) -> String;
    async fn repeat<const N: usize>(&self) -> [u8; N];
    async fn show(&self, item: impl Display) -> String;
}

fn main() {}
