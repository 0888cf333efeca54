use flowcoro::pooled;

struct S;

#[pooled]
impl S {
    async fn get(&self) -> u32 {
        1
    }
}

fn main() {
    let _ = S.get();
}
