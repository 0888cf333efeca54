//! `capacity` and `frame_size`: frames in static memory, on a fn, a
//! method, a `dyn` trait's impl and a `pool!` site; a call past capacity
//! takes a heap frame.

use flowcoro::{pool, pooled};

#[pooled(capacity = 2, frame_size = 128, name = "static fn")]
async fn small(x: u32) -> u32 {
    x + 1
}

#[pooled(capacity = 1)]
async fn default_size(x: u64) -> u64 {
    x * 2
}

struct Meter(u32);

impl Meter {
    #[pooled(capacity = 4, frame_size = 192)]
    async fn read(&self, extra: u32) -> u32 {
        self.0 + extra
    }
}

#[pooled]
trait Sensor {
    async fn sample(&self) -> u32;
}

#[pooled(capacity = 2, frame_size = 64)]
impl Sensor for Meter {
    async fn sample(&self) -> u32 {
        self.0
    }
}

pub(crate) fn main() {
    use futures::executor::block_on;
    let held = [small(1), small(2), small(3)];
    assert_eq!(held[0].pool().stats().fresh, 1, "the third call is past capacity");
    let outs: Vec<u32> = held.into_iter().map(block_on).collect();
    assert_eq!(outs, [2, 3, 4]);
    let pool = small(0).pool();
    let s = pool.stats();
    assert_eq!((s.name, s.live, s.frame_size), ("static fn", 0, 128));

    assert_eq!(block_on(default_size(21)), 42);
    assert_eq!(default_size(0).pool().stats().frame_size, 256);

    let m = Meter(7);
    assert_eq!(block_on(m.read(1)), 8);
    let d: &dyn Sensor = &m;
    assert_eq!(block_on(d.sample()), 7);
    assert_eq!(block_on(d.sample()), 7);

    let site = |x: u8| pool!(capacity = 1, frame_size = 64, name = "static site"; async move { x });
    assert_eq!(block_on(site(9)), 9);
    let s = site(0).pool().stats();
    assert_eq!((s.fresh, s.allocations), (0, 2));
}
