use flowcoro::pooled;
use futures::stream::Stream;

// Through `dyn`, the handle is `PooledStream<'_, T>`: the item type must
// be named.
#[pooled]
trait Source {
    fn rows(&self) -> impl Stream + Send;
}

fn main() {}
