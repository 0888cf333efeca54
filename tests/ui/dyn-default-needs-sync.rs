use flowcoro::pooled;

// No `Sync` or `Send` supertrait: the default bodies ask for what their
// futures hold, on the method. Only a `dyn` call on an object that lacks
// it is an error.
#[pooled]
trait Named {
    async fn name(&self) -> String {
        String::from("named")
    }
    async fn rename(&mut self, name: String) -> String {
        name
    }
}

struct Plain;

impl Named for Plain {}

fn main() {
    let named: &dyn Named = &Plain;
    let _ = named.name();
    let mut boxed: Box<dyn Named> = Box::new(Plain);
    let _ = boxed.rename(String::new());
}
