//! `flowcoro::pool!`: async blocks in frames of a pool of their call site,
//! in free fns, generic fns, closures, a `tower::Service`, spawned on
//! tokio's multi-thread runtime, cancelled and panicking.

mod support;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use flowcoro::{PoolStats, Pooled, PooledDyn, pool};
use support::stats;

/// Suspends once.
async fn tick() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

fn double(x: u64) -> Pooled<impl Future<Output = u64> + Send> {
    pool!(name = "blocks: double"; async move {
        tick().await;
        x * 2
    })
}

fn generic<T: Clone + Send + 'static>(value: T) -> PooledDyn<'static, (T, T)> {
    pool!(name = "blocks: generic"; async move {
        tick().await;
        (value.clone(), value)
    })
    .into_dyn()
}

#[test]
fn free_and_generic_fns_reuse_their_site_pool() {
    for i in 0..10 {
        assert_eq!(futures::executor::block_on(double(i)), 2 * i);
    }
    let s = stats("blocks: double");
    assert_eq!((s.allocations, s.live), (10, 0));
    assert!(s.reused >= 9, "{s:?}");
    // One pool for every instantiation of a generic fn.
    assert_eq!(futures::executor::block_on(generic(1u8)), (1, 1));
    assert_eq!(futures::executor::block_on(generic(String::from("a"))), ("a".into(), "a".into()));
    assert_eq!(futures::executor::block_on(generic([7u64; 64])).0[63], 7);
    let s = stats("blocks: generic");
    assert_eq!((s.allocations, s.live), (3, 0));
}

#[test]
fn default_names_are_the_call_site_and_one_name_two_sites_are_two_pools() {
    let here = line!() + 1;
    let handle = pool!(async { 1 });
    let name = handle.pool().name();
    assert_eq!(name, format!("{}:{here}:18", module_path!()));
    assert_eq!(futures::executor::block_on(handle), 1);
    let a = pool!(name = "blocks: shared"; async { 1 });
    let b = pool!(name = "blocks: shared"; async { 2 });
    assert!(!std::ptr::eq(a.pool(), b.pool()), "two sites, two pools");
    assert_eq!(a.pool().name(), b.pool().name());
    assert_eq!(futures::executor::block_on(a) + futures::executor::block_on(b), 3);
    let with_options = pool!(max_idle = 0, prewarm = 0; async { 3 });
    assert_eq!(with_options.pool().max_idle(), Some(0));
    drop(with_options);
}

#[test]
fn closures_and_borrowing_blocks() {
    let base = 10;
    let add = |x: u64| pool!(name = "blocks: closure"; async move { x + base });
    let sum: u64 = (0..5).map(|x| futures::executor::block_on(add(x))).sum();
    assert_eq!(sum, 60);
    // A block that borrows, without `move`.
    let text = String::from("borrowed");
    let len = futures::executor::block_on(pool!(async { text.len() }));
    assert_eq!(len, 8);
    let mut count = 0;
    futures::executor::block_on(pool!(async {
        count += 1;
    }));
    assert_eq!(count, 1);
    assert_eq!(stats("blocks: closure").live, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_across_workers() {
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            tokio::spawn(pool!(name = "blocks: spawned"; async move {
                tokio::task::yield_now().await;
                i
            }))
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, (0..64).sum::<u64>());
    let s = stats("blocks: spawned");
    assert_eq!((s.allocations, s.live), (64, 0));
}

#[test]
fn cancelled_midway_the_frame_comes_back() {
    struct Guard(Arc<AtomicUsize>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = Guard(drops.clone());
    let mut handle = pool!(name = "blocks: cancelled"; async move {
        let _held = guard;
        tick().await;
        unreachable!("cancelled before the second poll")
    });
    let waker = std::task::Waker::noop();
    assert!(Pin::new(&mut handle).poll(&mut Context::from_waker(waker)).is_pending());
    assert_eq!(stats("blocks: cancelled").live, 1);
    drop(handle);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(stats("blocks: cancelled").live, 0);
}

#[test]
fn a_panic_inside_propagates_and_frees_the_frame() {
    let ran = Cell::new(false);
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(pool!(name = "blocks: panics"; async {
            ran.set(true);
            tick().await;
            panic!("inside a pooled block");
        }))
    }));
    assert!(out.is_err() && ran.get());
    assert_eq!(stats("blocks: panics").live, 0);
}

macro_rules! pooled_in_a_macro {
    ($x:expr) => {
        pool!(name = "blocks: macro"; async move { $x + 1 })
    };
}

#[test]
fn inside_another_macro() {
    assert_eq!(futures::executor::block_on(pooled_in_a_macro!(1)), 2);
    assert_eq!(futures::executor::block_on(pooled_in_a_macro!(2)), 3);
    // Each expansion of the macro is a site of its own, with a pool of its
    // own (of the same name).
    let sites: Vec<PoolStats> =
        flowcoro::pools().into_iter().filter(|s| s.name == "blocks: macro").collect();
    assert_eq!(sites.len(), 2);
    assert!(sites.iter().all(|s| s.allocations == 1 && s.live == 0), "{sites:?}");
}

mod service {
    //! A `tower::Service` whose future is a pooled block, erased: the
    //! drop-in for `BoxFuture<'static, Result<..>>`.

    use std::task::{Context, Poll};

    use flowcoro::{PooledDyn, pool};

    pub(super) struct Echo {
        pub(super) prefix: &'static str,
    }

    impl tower::Service<String> for Echo {
        type Response = String;
        type Error = std::convert::Infallible;
        type Future = PooledDyn<'static, Result<String, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: String) -> Self::Future {
            let prefix = self.prefix;
            pool!(name = "blocks: echo service"; async move {
                tokio::task::yield_now().await;
                Ok(format!("{prefix}{request}"))
            })
            .into_dyn()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tower_service_driven_by_oneshot() {
    use tower::ServiceExt;
    for i in 0..20 {
        let echo = service::Echo { prefix: "echo: " };
        let response = echo.oneshot(format!("{i}")).await.unwrap();
        assert_eq!(response, format!("echo: {i}"));
    }
    let s = stats("blocks: echo service");
    assert_eq!((s.allocations, s.live), (20, 0));
    assert!(s.hit_ratio() > 0.5, "{s:?}");
}
