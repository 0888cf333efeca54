use flowcoro::pooled;

trait Store {
    #[pooled]
    async fn get(&self) -> u32;
}

fn main() {}
