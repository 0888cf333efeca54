//! A `#[pooled]` trait and impls under `#![deny(warnings)]`, every form:
//! the expansion adds no lint.
#![deny(warnings, rust_2018_idioms, unused, unreachable_pub, unused_qualifications)]
#![deny(clippy::all)]

use std::pin::Pin;
use std::sync::Arc;

use flowcoro::pooled;

#[pooled]
pub(crate) trait Service: Send + Sync {
    /// Documented.
    async fn call(&self, x: u32, _unused: &str) -> u32;
    async fn by_mut(&mut self, pair: (u32, u32), c: u32) -> u32;
    async fn boxed(self: Box<Self>) -> u32 {
        0
    }
    async fn arc(self: Arc<Self>) -> u32;
    async fn pinned(self: Pin<&mut Self>) -> u32;
    async fn unit(&self);
    async fn fallible(&self, s: &str) -> Result<u32, std::num::ParseIntError> {
        let n: u32 = s.parse()?;
        if n > 10 {
            return Ok(10);
        }
        Ok(n)
    }
    async fn diverges(&self) -> u32 {
        panic!("never called")
    }
    /// # Safety
    /// None needed; this checks the `unsafe` form.
    async unsafe fn unsafe_method(&self) -> u32;
    async fn assoc() -> u32
    where
        Self: Sized;
}

struct Svc(u32);

#[pooled(max_idle = 4, crate = "flowcoro")]
impl Service for Svc {
    async fn call(&self, x: u32, _unused: &str) -> u32 {
        self.0 + x
    }

    async fn by_mut(&mut self, (a, b): (u32, u32), ref c: u32) -> u32 {
        self.0 += a + b + c;
        self.0
    }

    async fn arc(self: Arc<Self>) -> u32 {
        self.0
    }

    async fn pinned(self: Pin<&mut Self>) -> u32 {
        self.0
    }

    async fn unit(&self) {}

    async unsafe fn unsafe_method(&self) -> u32 {
        self.0
    }

    async fn assoc() -> u32
    where
        Self: Sized,
    {
        7
    }
}

pub(crate) fn main() {
    use futures::executor::block_on;
    let mut svc = Svc(1);
    assert_eq!(block_on(svc.call(1, "")), 2);
    assert_eq!(block_on(svc.by_mut((1, 1), 1)), 4);
    assert_eq!(block_on(Pin::new(&mut svc).pinned()), 4);
    block_on(svc.unit());
    assert_eq!(block_on(svc.fallible("12")), Ok(10));
    drop(svc.diverges());
    // SAFETY: `unsafe_method` has no precondition.
    assert_eq!(block_on(unsafe { svc.unsafe_method() }), 4);
    assert_eq!(block_on(Svc::assoc()), 7);
    let shared: Arc<dyn Service> = Arc::new(Svc(5));
    assert_eq!(block_on(shared.arc()), 5);
    let boxed: Box<dyn Service> = Box::new(svc);
    assert_eq!(block_on(boxed.boxed()), 0);
}
