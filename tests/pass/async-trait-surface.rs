//! The shapes async-trait accepts, under `#[pooled]`: generic methods (type,
//! const, `impl Trait`, kept off the vtable with `where Self: Sized`),
//! default bodies that borrow or hold `self` without a `Sync`/`Send`
//! supertrait, argument patterns in declarations, an unused `_: &T` that
//! asks no `T: Sync` (nor does an unused pattern over a reference),
//! `impl Trait` behind `&` and `*const`, a `#[cfg]` argument, code
//! naming `'async_trait`, and a `&mut self` the body borrows mutably or
//! reassigns.

use std::fmt::Display;
use std::rc::Rc;

use flowcoro::pooled;

#[pooled]
pub(crate) trait Render {
    async fn plain(&self, x: u32) -> u32;
    async fn render<T: Display + Send>(&self, item: T) -> String
    where
        Self: Sized;
    async fn repeat<const N: usize>(&self, byte: u8) -> [u8; N]
    where
        Self: Sized;
    async fn show(&self, item: impl Display + Send) -> String
    where
        Self: Sized;
    async fn sum(&self, (a, b): (u32, u32), mut c: u32) -> u32;
    async fn doubled(&self, x: u32) -> u32 {
        self.plain(x).await * 2
    }
    async fn bumped(&mut self, x: u32) -> u32 {
        x + 1
    }
    async fn configured(&self, #[cfg(any())] hidden: u32, shown: u32) -> u32;
}

pub(crate) struct Html;

#[pooled]
impl Render for Html {
    async fn plain(&self, x: u32) -> u32 {
        x
    }
    async fn render<T: Display + Send>(&self, item: T) -> String {
        format!("<p>{item}</p>")
    }
    async fn repeat<const N: usize>(&self, byte: u8) -> [u8; N] {
        [byte; N]
    }
    async fn show(&self, item: impl Display + Send) -> String {
        item.to_string()
    }
    async fn sum(&self, (a, b): (u32, u32), mut c: u32) -> u32 {
        c += a + b;
        c
    }
    async fn configured(&self, #[cfg(any())] hidden: u32, shown: u32) -> u32 {
        shown
    }
}

#[pooled]
pub(crate) trait Check<T> {
    async fn check(&self, _: &T) -> bool;
}

pub(crate) struct Always;

// No `T: Sync`: the unused reference is not captured.
#[pooled]
impl<T> Check<T> for Always {
    async fn check(&self, _: &T) -> bool {
        true
    }
}

// A pattern over a reference binds borrows: what the body leaves unused
// is not captured either, so again no `T: Sync`.
#[pooled]
pub(crate) trait Pick<T> {
    async fn first(&self, pair: &(T, T)) -> bool;
}

#[pooled]
impl<T> Pick<T> for Always {
    async fn first(&self, (_a, _b): &(T, T)) -> bool {
        true
    }
}

// `impl Trait` behind a pointer or a reference, as arguments (a raw
// pointer is not `Send`, so these futures aren't either).
#[pooled(?Send)]
pub(crate) trait Pointers {
    async fn by_ref(arg: &impl Display) -> usize;
    async fn by_ptr(arg: *const impl Display) -> bool;
}

#[pooled(?Send)]
impl Pointers for Always {
    async fn by_ref(arg: &impl Display) -> usize {
        arg.to_string().len()
    }
    async fn by_ptr(arg: *const impl Display) -> bool {
        arg.is_null()
    }
}

// A body that borrows the `&mut self` reference itself mutably, or points
// it elsewhere, as async-trait allows.
#[pooled]
pub(crate) trait Counter {
    async fn bump(&mut self) -> u32;
}

pub(crate) struct Count(u32);

fn touch(count: &mut &mut Count) {
    count.0 += 1;
}

#[pooled]
impl Counter for Count {
    async fn bump(&mut self) -> u32 {
        touch(&mut self);
        let _ = &mut self;
        self.0
    }
}

impl Count {
    #[pooled]
    async fn bump_other<'a>(&'a mut self, other: &'a mut Count) -> u32 {
        self.0 += 10;
        self = other;
        self.0 += 1;
        self.0
    }
}

#[pooled]
pub(crate) trait Labelled<T = ()> {
    async fn label(&self) -> &str
    where
        T: 'async_trait,
    {
        "default"
    }
}

#[pooled]
impl<T> Labelled<T> for () {}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

pub(crate) fn main() {
    let html = Html;
    assert_eq!(block_on(html.render(3)), "<p>3</p>");
    assert_eq!(block_on(html.render("x")), "<p>x</p>");
    assert_eq!(block_on(html.repeat::<3>(7)), [7; 3]);
    assert_eq!(block_on(html.show(1.5)), "1.5");
    assert_eq!(block_on(html.sum((1, 2), 3)), 6);
    let dyn_html: &(dyn Render + Sync) = &html;
    assert_eq!(block_on(dyn_html.doubled(4)), 8);
    assert_eq!(block_on(dyn_html.configured(5)), 5);
    let mut boxed: Box<dyn Render + Send> = Box::new(Html);
    assert_eq!(block_on(boxed.bumped(1)), 2);
    let rc = Rc::new(1);
    assert!(block_on(assert_send(Always.check(&rc))));
    assert!(block_on(assert_send(Always.first(&(Rc::new(1), Rc::new(2))))));
    assert_eq!(block_on(<Always as Pointers>::by_ref(&1234)), 4);
    assert!(block_on(<Always as Pointers>::by_ptr(std::ptr::null::<u8>())));
    assert_eq!(block_on(Labelled::<u8>::label(&())), "default");
    let (mut a, mut b) = (Count(0), Count(5));
    assert_eq!(block_on(a.bump()), 1);
    let mut counter: Box<dyn Counter + Send> = Box::new(Count(1));
    assert_eq!(block_on(counter.bump()), 2);
    assert_eq!(block_on(a.bump_other(&mut b)), 6);
    assert_eq!((a.0, b.0), (11, 6));
}
