//! The runtime of [flowcoro](https://docs.rs/flowcoro): typed frame pools for
//! `async fn` state machines.
//!
//! Most code uses it through `#[flowcoro::pooled]`, which gives each
//! annotated function a `static` [`FramePool`] and returns a [`Pooled`]
//! handle. Used by hand:
//!
//! ```
//! use std::future::Future;
//!
//! use flowcoro_rt::{FramePool, Pooled};
//!
//! static DOUBLE: FramePool = FramePool::new("app::double");
//!
//! fn double(x: u64) -> Pooled<impl Future<Output = u64>> {
//!     DOUBLE.alloc_with(move || async move { x * 2 })
//! }
//!
//! # fn block_on<F: Future>(f: F) -> F::Output {
//! #     let mut f = core::pin::pin!(f);
//! #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
//! #     loop {
//! #         if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
//! #     }
//! # }
//! assert_eq!(block_on(double(21)), 42);
//! assert_eq!(block_on(double(4)), 8);
//!
//! let stats = DOUBLE.stats();
//! assert_eq!((stats.allocations, stats.reused, stats.live), (2, 1, 0));
//! ```
//!
//! Streams go in frames the same way ([`FramePool::alloc_stream_with`]):
//! [`Pooled<S>`](Pooled) is then a `futures_core::Stream`, and
//! [`PooledStream`] its erased form, the drop-in for `BoxStream`.
//!
//! # How the pool works
//!
//! Each thread keeps a small cache per pool and layout class (the frame it
//! freed last, then two "magazines" of free frames, after Bonwick's
//! allocator); a shared depot per class takes and gives whole magazines.
//! Allocating and freeing on one thread touch only that thread's cache: no
//! lock, no atomic read-modify-write. A frame freed on another thread joins
//! that thread's cache. Frames are allocated one by one and never move while
//! in use. See [`FramePool`] for the memory bounds and [`PoolStats`] for what
//! is counted.
//!
//! Without the `std` feature (on by default) there are no thread caches:
//! each call takes and gives back its frame at the pool's depot, under a
//! [`critical-section`](https://docs.rs/critical-section) lock, and time
//! (for decay) is what `tick` says has passed. The crate is then `no_std` +
//! `alloc`.
//!
//! `ARCHITECTURE.md`, beside this crate's manifest, maps the code: a file
//! per concern, a frame's round trip through them, and where each invariant
//! the `unsafe` code relies on is established.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

extern crate alloc;

mod adaptive;
mod budget;
mod classes;
mod decay;
mod depot;
mod erased;
mod erased_stream;
mod frame;
mod freelist;
mod give;
mod global;
mod hot;
mod layout;
mod lifecycle;
mod local;
mod pool;
mod pooled;
mod report;
mod reserve;
mod shared;
mod size_class;
mod stats;
mod sync;
mod take;

pub use budget::{idle_budget, set_idle_budget};
pub use decay::{DECAY_HALF_LIFE, DECAY_HOLD};
pub use erased::{LocalPooledDyn, PooledDyn};
pub use erased_stream::{LocalPooledStream, PooledStream};
pub use global::{pools, report, trim_all};
#[cfg(not(feature = "std"))]
pub use lifecycle::tick;
pub use pool::FramePool;
pub use pooled::Pooled;
#[doc(hidden)]
pub use pooled::fits;
pub use reserve::StaticFrames;
// Magazine sizes, for tests and benches that size their loads by them: not
// API (smaller under Miri, and free to change).
pub use report::Report;
#[doc(hidden)]
pub use shared::{MAGAZINE, MAGAZINE_MAX};
pub use stats::PoolStats;

#[cfg(all(test, loom))]
mod loom_models;
