use flowcoro::pooled;

// Accepted, as `#[async_recursion(?Send)]` is: a fn's future is `Send`
// exactly when its body is, with or without it.
#[pooled(?Send)]
async fn free() {}

#[pooled(name = "one name")]
trait Store {
    #[pooled(max_idle = 2)]
    async fn get(&self) -> u32;
    #[pooled(?Send)]
    async fn len(&self) -> usize {
        0
    }
    #[pooled]
    fn plain(&self);
}

struct S;

#[pooled(?Send)]
impl S {
    async fn get(&self) -> u32 {
        1
    }
}

fn main() {}
