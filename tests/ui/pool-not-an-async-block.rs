use flowcoro::pool;

async fn work() -> u32 {
    1
}

fn main() {
    // A future that is not an `async` block: `pool!` can't build it in place.
    let _ = pool!(work());
    let _ = pool!(name = "label"; std::future::ready(1));
}
