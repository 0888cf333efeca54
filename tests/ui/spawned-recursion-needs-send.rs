use std::future::Future;

use flowcoro::pooled;

fn spawn<F: Future + Send + 'static>(f: F) -> F {
    f
}

// A fn that spawns its own recursive call needs its future's `Send`
// declared: `#[pooled(Send)]`. Without it, rustc can't infer it from a
// body that itself needs it (E0283).
#[pooled]
async fn walk(n: u64) -> u64 {
    if n == 0 {
        return 1;
    }
    spawn(walk(n - 1)).await + 1
}

fn main() {
    let _ = walk(3);
}
