use flowcoro::pooled;

#[pooled(crate = "not a path")]
async fn not_a_path() {}

#[pooled(crate = flowcoro)]
async fn not_a_string() {}

#[pooled(crate = "flowcoro::Pooled<u8>")]
async fn generic_path() {}

fn main() {
    let _ = (not_a_path(), not_a_string(), generic_path());
}
