use std::future::Future;
use std::rc::Rc;

use flowcoro::pooled;

fn spawn<F: Future + Send + 'static>(_future: F) {}

async fn tick() {}

#[pooled]
async fn holds_rc(n: u32) -> u32 {
    let shared = Rc::new(n);
    tick().await;
    *shared
}

#[pooled]
async fn takes_rc(shared: Rc<u32>) -> u32 {
    *shared
}

fn main() {
    spawn(holds_rc(1));
    spawn(takes_rc(Rc::new(2)));
}
