#![deny(unused_must_use)]

use flowcoro::pooled;

#[pooled]
async fn work() -> u32 {
    1
}

fn main() {
    work();
}
