use flowcoro::pooled;

#[pooled(name = "a", name = "b")]
async fn a() {}

#[pooled(max_idle = 1, crate = "flowcoro", max_idle = 2)]
async fn b() {}

fn main() {
    let _ = (a(), b());
}
