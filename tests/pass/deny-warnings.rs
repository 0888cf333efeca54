//! Every form under `#![deny(warnings)]`: the expansion adds no lint.
#![deny(warnings, rust_2018_idioms, unused, unreachable_pub, unused_qualifications)]
#![deny(clippy::all)]

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

use flowcoro::pooled;

struct Ref<'a>(&'a u32);

#[pooled]
async fn free(a: u32, b: &u32) -> u32 {
    a + b
}

#[pooled]
async fn unit(_: u8) {}

#[pooled]
async fn generic<T: Copy, const N: usize>(xs: [T; N]) -> u64
where
    u64: From<T>,
{
    xs.iter().map(|&x| u64::from(x)).sum()
}

#[pooled]
async fn apit(x: impl Display, y: &impl Display) -> String {
    format!("{x}{y}")
}

#[pooled]
async fn elided(a: &str, b: &mut String) -> usize {
    b.push_str(a);
    b.len()
}

#[pooled]
async fn hidden(r: Ref<'_>, s: std::cell::Ref<'_, u32>) -> u32 {
    r.0 + *s
}

#[pooled]
async fn patterns((a, b): (u32, u32), mut c: u32, ref d: u32, _: u32) -> u32 {
    c += 1;
    a + b + c + d
}

#[pooled]
async fn fallible(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    if n > 100 {
        return Ok(100);
    }
    Ok(n)
}

#[pooled]
async fn recurse(n: u32) -> u32 {
    if n == 0 { 0 } else { 1 + recurse(n - 1).await }
}

#[pooled]
async fn diverges() -> u32 {
    panic!("never called")
}

#[pooled]
async fn never() -> std::convert::Infallible {
    loop {
        std::future::pending::<()>().await;
    }
}

/// # Safety
/// None needed; this checks the `unsafe` form.
#[pooled]
async unsafe fn unsafe_fn(x: u32) -> u32 {
    x
}

struct Obj<'a, T> {
    value: T,
    name: &'a str,
}

impl<'a, T: Copy + Into<u32>> Obj<'a, T> {
    #[pooled]
    async fn by_ref(&self) -> u32 {
        self.value.into()
    }

    #[pooled]
    async fn by_mut(&mut self, value: T) -> &'a str {
        self.value = value;
        self.name
    }

    #[pooled]
    async fn by_value(self) -> T {
        self.value
    }

    #[pooled]
    async fn by_mut_value(mut self, value: T) -> T {
        self.value = value;
        self.value
    }

    #[pooled]
    async fn pinned(self: Pin<&mut Self>) -> u32 {
        self.value.into()
    }
}

trait Service {
    fn call(&self, x: u32) -> impl Future<Output = u32> + Send;
    async fn name(&self) -> String;
}

struct Svc;

impl Service for Svc {
    #[pooled]
    async fn call(&self, x: u32) -> u32 {
        x + 1
    }

    #[pooled]
    async fn name(&self) -> String {
        String::from("svc")
    }
}

#[pooled(name = "deny warnings: named", max_idle = 2, crate = "flowcoro")]
async fn with_options() -> u8 {
    1
}

pub(crate) fn main() {
    use futures::executor::block_on;
    assert_eq!(block_on(free(1, &2)), 3);
    block_on(unit(0));
    assert_eq!(block_on(generic([1u8, 2, 3])), 6);
    assert_eq!(block_on(apit(1, &"x")), "1x");
    let mut s = String::new();
    assert_eq!(block_on(elided("ab", &mut s)), 2);
    let cell = std::cell::RefCell::new(1);
    assert_eq!(block_on(hidden(Ref(&2), cell.borrow())), 3);
    assert_eq!(block_on(patterns((1, 2), 3, 4, 5)), 11);
    assert_eq!(block_on(fallible("500")), Ok(100));
    assert_eq!(block_on(recurse(3)), 3);
    drop(diverges());
    drop(never());
    // SAFETY: `unsafe_fn` has no precondition.
    assert_eq!(block_on(unsafe { unsafe_fn(4) }), 4);
    let mut obj = Obj { value: 1u8, name: "obj" };
    assert_eq!(block_on(obj.by_ref()), 1);
    assert_eq!(block_on(obj.by_mut(2)), "obj");
    assert_eq!(block_on(std::pin::pin!(Obj { value: 5u8, name: "" }).pinned()), 5);
    assert_eq!(block_on(Obj { value: 3u16, name: "" }.by_mut_value(4)), 4);
    assert_eq!(block_on(obj.by_value()), 2);
    assert_eq!(block_on(Svc.call(1)), 2);
    assert_eq!(block_on(Svc.name()), "svc");
    assert_eq!(block_on(with_options()), 1);
}
