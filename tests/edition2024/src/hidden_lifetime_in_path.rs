//! Lifetimes hidden in paths (`Ref` for `Ref<'_>`), which no syntax-only
//! rewrite can see: in edition 2024 the future still captures them. (An
//! edition 2021 crate writes them, `View<'_>`: tests/pass/named-lifetime-in-path.rs,
//! and tests/ui/hidden-lifetime-in-path.rs for the error without.)
#![allow(elided_lifetimes_in_paths, mismatched_lifetime_syntaxes)]

use std::cell::{Ref, RefCell};

use flowcoro::pooled;

struct View<'a>(&'a [u32]);

#[pooled]
async fn total(view: View) -> u32 {
    view.0.iter().sum()
}

#[pooled]
async fn both(a: View, b: Ref<u32>) -> u32 {
    a.0.len() as u32 + *b
}

struct Holder(Vec<u32>);

impl Holder {
    fn view(&self) -> View {
        View(&self.0)
    }

    #[pooled]
    async fn sum_with(&self, extra: View) -> u32 {
        total(self.view()).await + total(extra).await
    }
}

pub(crate) fn main() {
    use futures::executor::block_on;
    let data = vec![1, 2, 3];
    assert_eq!(block_on(total(View(&data))), 6);
    let cell = RefCell::new(10);
    assert_eq!(block_on(both(View(&data), cell.borrow())), 13);
    assert!(cell.try_borrow_mut().is_ok());
    assert_eq!(block_on(Holder(vec![4]).sum_with(View(&data))), 10);
}
