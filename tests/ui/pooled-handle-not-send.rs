use std::rc::Rc;

use flowcoro::FramePool;

static POOL: FramePool = FramePool::new("ui::not_send");

fn needs_send<T: Send>(_: T) {}

fn main() {
    // A handle is `Send` only when its future is: this one owns an `Rc`.
    let shared = Rc::new(1);
    let handle = POOL.alloc(async move { *shared });
    needs_send(handle);
}
