use std::rc::Rc;

use flowcoro::pooled;

async fn tick() {}

#[pooled]
trait Counter: Sync {
    async fn count(&self) -> u32;
    async fn twice(&self) -> u32 {
        let local = Rc::new(2);
        tick().await;
        *local * self.count().await
    }
}

struct One;

#[pooled]
impl Counter for One {
    async fn count(&self) -> u32 {
        let shared = Rc::new(1);
        tick().await;
        *shared
    }
}

fn main() {}
