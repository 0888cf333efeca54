use flowcoro::pooled;

#[pooled]
struct Config {
    size: u32,
}

#[pooled]
static LIMIT: u32 = 4;

#[pooled]
type Alias = u32;

fn main() {
    // The items are still emitted.
    let _ = Config { size: LIMIT as Alias }.size;
}
