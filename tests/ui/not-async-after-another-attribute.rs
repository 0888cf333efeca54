use flowcoro::pooled;

// `#[tokio::main]` turns the `async fn` into a plain `fn` that blocks on
// its body, below `#[pooled]` (which waits for it) or above it.
#[pooled]
#[tokio::main]
async fn below() {}

#[tokio::main]
#[pooled]
async fn above() {}

fn main() {
    below();
    above();
}
