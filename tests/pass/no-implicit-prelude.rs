//! The expansion names everything by absolute path: it compiles without
//! the prelude.
#![no_implicit_prelude]

use ::flowcoro::pooled;

struct Meters(u32);

impl Meters {
    #[pooled]
    async fn get(&self) -> u32 {
        self.0
    }
}

#[pooled]
async fn double(m: &Meters, (a, _): (u32, u32)) -> ::std::result::Result<u32, ()> {
    ::std::result::Result::Ok(m.get().await * 2 + a)
}

pub(crate) fn main() {
    let fut = double(&Meters(4), (1, 2));
    ::std::assert_eq!(::futures::executor::block_on(fut), ::std::result::Result::Ok(9));
}
