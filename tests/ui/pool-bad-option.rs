use flowcoro::pool;

fn main() {
    let _ = pool!(size = 4; async { 1 });
    let _ = pool!(?Send; async { 1 });
    let _ = pool!(name = "a", name = "b"; async { 1 });
    let _ = pool!(max_idle = "four"; async { 1 });
}
