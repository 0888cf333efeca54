use flowcoro::pooled;

#[pooled]
trait Store {
    async fn get(&self) -> u32;
}

trait Other {
    #[pooled]
    async fn get(&self) -> u32;
}

fn main() {}
