use flowcoro::pool;

fn main() {
    // `pool!` places a future or a stream; a number is neither.
    let _ = pool!(42);
    let _ = pool!(name = "label"; vec![1, 2, 3]);
}
