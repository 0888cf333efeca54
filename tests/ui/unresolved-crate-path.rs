use flowcoro::pooled;

#[pooled(crate = "::nowhere::flowcoro")]
async fn unresolved() {}

#[pooled(crate = "std")]
async fn not_flowcoro() {}

fn main() {}
