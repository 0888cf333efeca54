//! flowcoro puts the state machine of each `async fn` call in a typed,
//! per-function frame pool instead of a fresh heap allocation.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub use flowcoro_macros::pooled;
pub use flowcoro_rt::{
    DEFAULT_MAX_IDLE, FramePool, MAGAZINE, PoolStats, Pooled, Report, pools, report, trim_all,
};

/// What `#[pooled]` expansions name. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use core::future::Future;
    pub use flowcoro_rt::{FramePool, Pooled};
}
