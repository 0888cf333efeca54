use flowcoro::pooled;

#[pooled]
fn not_async(x: u32) -> u32 {
    x
}

struct S;

impl S {
    #[pooled]
    pub fn method(&self) {}
}

fn main() {
    // The function is still emitted, unchanged.
    let _: u32 = not_async(1);
    S.method();
}
