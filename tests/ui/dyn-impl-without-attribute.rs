use flowcoro::pooled;

#[pooled]
trait Store {
    async fn get(&self, key: &str) -> Option<u32>;
}

struct Map;

impl Store for Map {
    async fn get(&self, key: &str) -> Option<u32> {
        key.parse().ok()
    }
}

fn main() {}
