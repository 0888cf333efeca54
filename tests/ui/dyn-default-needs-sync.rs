use flowcoro::pooled;

#[pooled]
trait Named {
    async fn name(&self) -> String {
        String::from("named")
    }
    async fn rename(&mut self, name: String) -> String {
        name
    }
}

fn main() {}
