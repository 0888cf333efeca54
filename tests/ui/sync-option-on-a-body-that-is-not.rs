use std::cell::Cell;

use flowcoro::pooled;

async fn tick() {}

// `Sync` declares the future `Sync`: a body holding a `Cell` across an
// `.await` is not.
#[pooled(Sync)]
async fn counted(start: u32) -> u32 {
    let count = Cell::new(start);
    tick().await;
    count.get() + 1
}

// `Send` and `Sync` are a fn's own; a `dyn` method's handle is `Send`
// already and never `Sync`.
#[pooled(Sync)]
trait Store {
    #[pooled(Send)]
    async fn get(&self) -> u32;
}

fn main() {
    let _ = counted(1);
}
