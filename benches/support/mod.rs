//! What the comparative benches share: a minimal executor, a leaf `async fn`
//! with a frame of a chosen size, and the criterion settings.
// Each bench binary uses its own share of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;

// The executor and suspension point of the tests, the same file.
#[path = "../../tests/support/exec.rs"]
mod exec;

#[allow(unused_imports)]
pub(crate) use exec::{block_on, yield_once};

/// The settings of every group: modest times, so that `cargo bench` runs
/// everything in a few minutes, and no plots, which would take longer than
/// the measurements. Command-line options override them:
/// `--warm-up-time`, `--measurement-time`, and `--plotting-backend plotters`
/// for criterion's HTML report.
pub(crate) fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

/// Awaits `iters` calls of `call` one after the other in one task; times
/// the loop.
pub(crate) fn await_in_loop<F: Future<Output = u8>>(
    iters: u64,
    call: impl Fn(u8) -> F,
) -> Duration {
    let start = Instant::now();
    let acc = block_on(async {
        let mut acc = 0u8;
        for i in 0..iters {
            acc ^= call(i as u8).await;
        }
        acc
    });
    black_box(acc);
    start.elapsed()
}

/// The body of every leaf: a buffer of `$n` bytes, zeroed as a real one would
/// be, that lives across a suspension, so it is part of the frame. The
/// `black_box`es keep the compiler from shrinking or skipping it.
macro_rules! leaf_body {
    ($n:expr, $seed:expr) => {{
        let mut buf = [0u8; $n];
        buf[0] = $seed;
        black_box(&mut buf);
        yield_once().await;
        black_box(&buf)[$n - 1] ^ $seed
    }};
}

/// The leaf as a plain `async fn`, for direct awaits and `Box::pin`.
pub(crate) async fn leaf<const N: usize>(seed: u8) -> u8 {
    leaf_body!(N, seed)
}

/// The same leaf, pooled: one function, and so one pool, per size.
macro_rules! pooled_leaves {
    ($($name:ident = $n:literal),* $(,)?) => {$(
        #[doc = concat!("The leaf of ", stringify!($n), " bytes, pooled.")]
        #[flowcoro::pooled]
        pub(crate) async fn $name(seed: u8) -> u8 {
            leaf_body!($n, seed)
        }
    )*};
}

pooled_leaves!(pooled_64 = 64, pooled_1k = 1024, pooled_4k = 4096, pooled_16k = 16384,);
