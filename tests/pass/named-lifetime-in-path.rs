//! A path's lifetime written `'_` (`View<'_>`, `Ref<'_, T>`): the future
//! captures it in every edition.

use std::cell::{Ref, RefCell};

use flowcoro::pooled;

struct View<'a>(&'a [u32]);

#[pooled]
async fn total(view: View<'_>) -> u32 {
    view.0.iter().sum()
}

#[pooled]
async fn both(a: View<'_>, b: Ref<'_, u32>) -> u32 {
    a.0.len() as u32 + *b
}

struct Holder(Vec<u32>);

impl Holder {
    fn view(&self) -> View<'_> {
        View(&self.0)
    }

    #[pooled]
    async fn sum_with(&self, extra: View<'_>) -> u32 {
        total(self.view()).await + total(extra).await
    }
}

struct Parser<'a> {
    rest: &'a mut Vec<&'a str>,
}

impl Parser<'_> {
    // `Self` holds a lifetime of the impl, and `&mut` makes it invariant.
    #[pooled]
    async fn take(&mut self) -> usize {
        let n = self.rest.len();
        self.rest.clear();
        n
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
    let mut words = vec!["a", "b"];
    assert_eq!(block_on(Parser { rest: &mut words }.take()), 2);
}
