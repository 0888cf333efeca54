use flowcoro::pooled;
use futures::stream::Stream;

// The body must return what the signature promises.
#[pooled]
fn numbers() -> impl Stream<Item = u32> {
    vec![1, 2, 3]
}

#[pooled]
trait Source {
    fn rows(&self) -> impl Stream<Item = u32> + Send;
}

struct Table;

#[pooled]
impl Source for Table {
    fn rows(&self) -> impl Stream<Item = u32> + Send {
        vec![1u32].into_iter()
    }
}

fn main() {
    let _ = numbers();
    let _ = Table.rows();
}
