use flowcoro::pooled;

#[pooled(crate = "not a path")]
async fn not_a_path() {}

// A path may be written unquoted, but this is none.
#[pooled(crate = 1)]
async fn not_a_string() {}

#[pooled(crate = "flowcoro::Pooled<u8>")]
async fn generic_path() {}

fn main() {
    let _ = (not_a_path(), not_a_string(), generic_path());
}
