//! The call tree every scenario runs, stamped out per scenario so each gets
//! pools of its own, and once as plain `async fn`s for the reference results.
//!
//! `root` → `node` (recursive, a buffer held across awaits) → `leaf::<N>`
//! (generic, a dozen layouts: more than a pool's own classes, so some share
//! a class and some go to the size-class pools). Children run one after the
//! other, two at a time (`join`), or under a budget of suspensions that drops
//! them in flight and calls them again: the value never depends on timing.
//! Faults come from the inputs only: a leaf may panic in `poll`, any call may
//! panic in the drop of its arguments when it completes.

use crate::support::{EXPECTED, mix};

/// One top-level call's inputs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job {
    pub(crate) seed: u64,
    pub(crate) depth: u32,
    pub(crate) fanout: u32,
    /// Per mille of leaves that panic in `poll`.
    pub(crate) poll_panics: u32,
    /// Per mille of calls whose argument panics when dropped at completion.
    pub(crate) drop_panics: u32,
}

impl Job {
    pub(crate) fn child(self, i: u64) -> Job {
        Job {
            seed: mix(self.seed ^ i.wrapping_mul(0x9e37)),
            depth: self.depth.saturating_sub(1),
            ..self
        }
    }

    /// Whether the call with this seed hits a fault of rate `per_mille`.
    pub(crate) fn hit(seed: u64, per_mille: u32, salt: u64) -> bool {
        mix(seed ^ salt) % 1000 < u64::from(per_mille)
    }

    pub(crate) fn leaf_panics(self) -> bool {
        Job::hit(self.seed, self.poll_panics, 1)
    }

    pub(crate) fn drop_panics(self) -> bool {
        Job::hit(self.seed, self.drop_panics, 2)
    }
}

/// The byte a leaf fills its buffer with; checked when it wakes up, so a
/// frame handed out twice or reused while live shows as a wrong byte.
pub(crate) fn fill_byte(seed: u64) -> u8 {
    (seed >> 17) as u8
}

pub(crate) fn check_fill(buf: &[u8], seed: u64) -> u64 {
    let want = fill_byte(seed);
    assert!(buf.iter().all(|&b| b == want), "a live frame was overwritten");
    (buf.len() as u64).wrapping_mul(u64::from(want)) ^ seed
}

pub(crate) fn leaf_panic() -> ! {
    panic!("{EXPECTED} panic in poll")
}

/// Recursion: a pooled call is a pointer already, a plain one needs a box.
macro_rules! direct {
    ($call:expr) => {
        $call
    };
}

macro_rules! boxed {
    ($call:expr) => {
        Box::pin($call)
    };
}

/// Stamps out the tree: `call_tree!(pooled, Tally)` gives each fn its own
/// pool (`root`: `max_idle = 64`, `node`: 256, `leaf`: 16);
/// `call_tree!(plain, Tally)` the plain `async fn`s. `Tally` is held across
/// awaits: `Arc<AtomicU64>` for a `Send` tree, `Rc<Cell<u64>>` for a local one.
macro_rules! call_tree {
    (pooled, $tally:ty) => {
        call_tree!(@tree $tally, direct,
            [flowcoro::pooled(max_idle = 64)],
            [flowcoro::pooled(max_idle = 256)],
            [flowcoro::pooled(max_idle = 16)]);

        /// The pools of this tree and what the checks may expect of them.
        pub(crate) const POOLS: &[$crate::support::Expect] = &[
            $crate::support::Expect { suffix: "root", max_idle: Some(64), classes: 1 },
            $crate::support::Expect { suffix: "node", max_idle: Some(256), classes: 1 },
            $crate::support::Expect {
                suffix: "leaf",
                max_idle: Some(16),
                classes: $crate::support::POOL_CLASSES,
            },
        ];
    };
    (plain, $tally:ty) => {
        call_tree!(@tree $tally, boxed, [], [], []);
    };
    (@tree $tally:ty, $rec:ident, [$($root:meta)?], [$($node:meta)?], [$($leaf:meta)?]) => {
        #[allow(unused_imports)]
        use $crate::support::{Bomb, Tally, within, yield_now};
        #[allow(unused_imports)]
        use $crate::tree::{Job, check_fill, fill_byte, leaf_panic};

        $(#[$root])?
        pub(crate) async fn root(job: Job, bomb: Bomb) -> u64 {
            let mut bomb = bomb;
            let tally = <$tally>::default();
            // A heap buffer held across every await of the call.
            let mut acc: Vec<u64> = Vec::with_capacity(job.fanout as usize);
            for i in 0..u64::from(job.fanout) {
                let child = job.child(i);
                let v = match child.seed % 4 {
                    0 => node(child, Bomb::quiet()).await,
                    1 => {
                        let (a, b) = futures::future::join(
                            node(child, Bomb::quiet()),
                            node(child.child(7), Bomb::quiet()),
                        )
                        .await;
                        a ^ b.rotate_left(1)
                    }
                    2 => match within(node(child, Bomb::quiet()), (child.seed >> 8) as u32 % 6).await {
                        Some(v) => v,
                        // Dropped in flight; call it again.
                        None => node(child, Bomb::quiet()).await,
                    },
                    _ => leaves(child).await,
                };
                tally.add(v & 0xffff);
                acc.push(v);
                yield_now().await;
            }
            let out = acc.iter().fold(tally.get(), |h, &v| h.rotate_left(5) ^ v);
            if job.drop_panics() {
                bomb.arm();
            }
            out
        }

        $(#[$node])?
        pub(crate) async fn node(job: Job, bomb: Bomb) -> u64 {
            let mut bomb = bomb;
            let tally = <$tally>::default();
            let buf = [fill_byte(job.seed); 200];
            yield_now().await;
            let mut out = check_fill(&buf, job.seed);
            if job.depth > 0 {
                for i in 0..2 {
                    let c = job.child(i);
                    out = out.rotate_left(3) ^ $rec!(node(c, Bomb::quiet())).await;
                    tally.add(1);
                }
            } else {
                out ^= leaves(job.child(99)).await;
            }
            out ^= check_fill(&buf, job.seed) ^ tally.get();
            if job.drop_panics() {
                bomb.arm();
            }
            out
        }

        /// One leaf of the layout picked by the seed.
        pub(crate) async fn leaves(job: Job) -> u64 {
            let s = job.seed;
            let b = || Bomb::quiet();
            match (s >> 3) % 12 {
                0 => leaf::<1>(job, b()).await,
                1 => leaf::<40>(job, b()).await,
                2 => leaf::<72>(job, b()).await,
                3 => leaf::<136>(job, b()).await,
                4 => leaf::<264>(job, b()).await,
                5 => leaf::<520>(job, b()).await,
                6 => leaf::<1032>(job, b()).await,
                7 => leaf::<2056>(job, b()).await,
                // Beyond the pool's eight classes: shares one (at most twice
                // its size) or goes to a size-class pool.
                8 => leaf::<1500>(job, b()).await,
                9 => leaf::<3000>(job, b()).await,
                10 => leaf::<5000>(job, b()).await,
                _ => leaf::<9000>(job, b()).await,
            }
        }

        $(#[$leaf])?
        pub(crate) async fn leaf<const N: usize>(job: Job, bomb: Bomb) -> u64 {
            let mut bomb = bomb;
            let buf = [fill_byte(job.seed); N];
            yield_now().await;
            if job.leaf_panics() {
                leaf_panic();
            }
            let out = check_fill(&buf, job.seed);
            if job.drop_panics() {
                bomb.arm();
            }
            out
        }
    };
}
