// An impl of a library's `#[pooled]` trait written with `#[async_trait]`:
// rustc's error names the handle as the user can name it.
struct Mine;

#[async_trait::async_trait]
impl store::Store for Mine {
    async fn get(&self, key: &str) -> Option<String> {
        Some(key.to_owned())
    }
}

fn main() {}
