use flowcoro::pooled;

#[pooled(pool_size = 4)]
async fn a() {}

#[pooled(name = "b", size = 1)]
async fn b() {}

#[pooled(Name = "c")]
async fn c() {}

fn main() {
    // Still emitted, with the valid options.
    let _ = (a(), b(), c());
}
