use std::rc::Rc;

use flowcoro::{PooledStream, pool, pooled};
use futures::stream::{self, Stream};

// A stream holding an `Rc` is not `Send`: it can't go behind a
// `PooledStream` (use `LocalPooledStream`).
fn erased(rc: Rc<u32>) -> PooledStream<'static, u32> {
    pool!(stream::once(async move { *rc })).into_dyn_stream()
}

#[pooled]
trait Source {
    fn rows(&self) -> impl Stream<Item = u32> + Send;
}

struct Table(Rc<u32>);

#[pooled]
impl Source for Table {
    fn rows(&self) -> impl Stream<Item = u32> + Send {
        let rc = self.0.clone();
        stream::once(async move { *rc })
    }
}

fn main() {
    let _ = erased(Rc::new(1));
}
