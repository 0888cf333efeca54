//! `async unsafe fn`: calling stays `unsafe`, the future does not.

use flowcoro::pooled;

/// # Safety
/// `p` must point to a live `u32` until the future completes.
#[pooled]
async unsafe fn read(p: *const u32) -> u32 {
    // SAFETY: the caller keeps `p` valid.
    unsafe { *p }
}

struct Slot(u32);

impl Slot {
    /// # Safety
    /// No other reference to the slot may be used meanwhile.
    #[pooled]
    async unsafe fn write(&mut self, v: u32) {
        self.0 = v;
    }
}

pub(crate) fn main() {
    let x = 42;
    // SAFETY: `x` outlives the future.
    let fut = unsafe { read(&x) };
    assert_eq!(futures::executor::block_on(fut), 42);
    let mut slot = Slot(0);
    // SAFETY: `slot` is not otherwise used.
    futures::executor::block_on(unsafe { slot.write(7) });
    assert_eq!(slot.0, 7);
}
