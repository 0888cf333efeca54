//! `#[pooled]` traits through `dyn` on tokio: many impls behind one trait
//! object type, called concurrently from worker threads, recursing through
//! `dyn` calls, with default bodies, and the `?Send` form on a `LocalSet`.
//! Each impl's method has its own pool: the stats show it reused and empty
//! once the runtime is gone.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flowcoro::{PoolStats, pooled};

/// The stats of the pool whose name ends with `suffix`.
fn pool(suffix: &str) -> PoolStats {
    let pools = flowcoro::pools();
    let names: Vec<&str> = pools.iter().map(|s| s.name).collect();
    let found = pools.iter().find(|s| s.name.ends_with(suffix));
    found.unwrap_or_else(|| panic!("no pool named `..{suffix}` in {names:?}")).clone()
}

fn assert_reused_and_empty(suffix: &str) {
    let stats = pool(suffix);
    assert!(stats.reused > 0, "{stats:?}");
    assert_eq!(stats.live, 0, "{stats:?}");
    assert!(stats.allocations >= stats.reused, "{stats:?}");
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().expect("a runtime")
}

#[pooled]
trait Shape: Send + Sync {
    async fn area(&self) -> f64;
    async fn describe(&self, prefix: &str) -> String {
        let area = self.area().await;
        tokio::task::yield_now().await;
        format!("{prefix}{area:.1}")
    }
}

struct Square(f64);
struct Rect(f64, f64);
struct Scaled {
    inner: Box<dyn Shape>,
    factor: f64,
}
/// A large frame: the future holds a buffer across an `.await`.
struct Heavy;

#[pooled]
impl Shape for Square {
    async fn area(&self) -> f64 {
        tokio::task::yield_now().await;
        self.0 * self.0
    }
}

#[pooled]
impl Shape for Rect {
    async fn area(&self) -> f64 {
        self.0 * self.1
    }

    async fn describe(&self, prefix: &str) -> String {
        format!("{prefix}{}x{}", self.0, self.1)
    }
}

#[pooled]
impl Shape for Scaled {
    async fn area(&self) -> f64 {
        // Recursion through `dyn`: no `Box::pin`.
        self.inner.area().await * self.factor * self.factor
    }
}

#[pooled]
impl Shape for Heavy {
    async fn area(&self) -> f64 {
        let buffer = [1u8; 1024];
        tokio::task::yield_now().await;
        buffer.iter().map(|&b| f64::from(b)).sum()
    }
}

#[test]
fn mixed_impls_concurrently_on_a_multi_thread_runtime() {
    let shapes: Arc<Vec<Box<dyn Shape>>> = Arc::new(vec![
        Box::new(Square(2.0)),
        Box::new(Rect(2.0, 3.0)),
        Box::new(Scaled { inner: Box::new(Square(1.0)), factor: 3.0 }),
        Box::new(Heavy),
    ]);
    let rt = multi_thread();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for task in 0..32 {
            let shapes = Arc::clone(&shapes);
            tasks.push(tokio::spawn(async move {
                let mut total = 0.0;
                for round in 0..50 {
                    let shape = &shapes[(task + round) % shapes.len()];
                    total += shape.area().await;
                    let text = shape.describe("").await;
                    assert!(!text.is_empty());
                }
                total
            }));
        }
        let mut total = 0.0;
        for task in tasks {
            total += task.await.expect("the task completed");
        }
        // 32 tasks x 50 rounds over 4 shapes: each shape 400 times.
        assert_eq!(total, 400.0 * (4.0 + 6.0 + 9.0 + 1024.0));
    });
    drop(rt);

    for suffix in [
        "Square as dyn_trait::Shape>::area",
        "Rect as dyn_trait::Shape>::area",
        "Scaled as dyn_trait::Shape>::area",
        "Heavy as dyn_trait::Shape>::area",
        "Rect as dyn_trait::Shape>::describe",
        "::Shape::describe",
    ] {
        assert_reused_and_empty(suffix);
    }
    let heavy = pool("Heavy as dyn_trait::Shape>::area");
    assert!(heavy.frame_size > 1024, "{heavy:?}");
}

/// A tree of `dyn` nodes: recursion through `dyn` calls, deep enough that
/// the frames of one walk are many at once.
#[pooled]
trait Node: Send + Sync {
    async fn sum(&self, depth: u32) -> u64;
}

struct Leaf(u64);
struct Branch(Vec<Box<dyn Node>>);

#[pooled]
impl Node for Leaf {
    async fn sum(&self, _depth: u32) -> u64 {
        self.0
    }
}

#[pooled]
impl Node for Branch {
    async fn sum(&self, depth: u32) -> u64 {
        let mut total = 0;
        for child in &self.0 {
            total += child.sum(depth + 1).await;
        }
        if depth % 3 == 0 {
            tokio::task::yield_now().await;
        }
        total
    }
}

fn tree(depth: u32, next: &mut u64) -> Box<dyn Node> {
    if depth == 0 {
        *next += 1;
        return Box::new(Leaf(*next));
    }
    Box::new(Branch((0..3).map(|_| tree(depth - 1, next)).collect()))
}

#[test]
fn recursion_through_dyn_and_shared_references() {
    let mut leaves = 0;
    let root: Arc<dyn Node> = Arc::from(tree(6, &mut leaves));
    let expected = leaves * (leaves + 1) / 2;
    let rt = multi_thread();
    let counted = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (root, counted) = (Arc::clone(&root), Arc::clone(&counted));
                tokio::spawn(async move {
                    // Through `&dyn Node`, borrowed from the task's `Arc`.
                    let node: &dyn Node = &*root;
                    let sum = node.sum(0).await;
                    counted.fetch_add(1, Ordering::Relaxed);
                    sum
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("the task completed"), expected);
        }
    });
    drop(rt);
    assert_eq!(counted.load(Ordering::Relaxed), 8);
    assert_reused_and_empty("Leaf as dyn_trait::Node>::sum");
    assert_reused_and_empty("Branch as dyn_trait::Node>::sum");
    assert!(pool("Branch as dyn_trait::Node>::sum").peak_live >= 6);
}

/// The `?Send` form: bodies hold an `Rc` across `.await`; run on a
/// `LocalSet` of a current-thread runtime.
#[pooled(?Send)]
trait Counter {
    async fn bump(&self, by: u64) -> u64;
    async fn bump_twice(&self, by: u64) -> u64 {
        let held = Rc::new(by);
        self.bump(*held).await;
        tokio::task::yield_now().await;
        self.bump(*held).await
    }
}

struct Local(Rc<Cell<u64>>);

#[pooled(?Send)]
impl Counter for Local {
    async fn bump(&self, by: u64) -> u64 {
        let cell = Rc::clone(&self.0);
        tokio::task::yield_now().await;
        cell.set(cell.get() + by);
        cell.get()
    }
}

#[test]
fn local_traits_on_a_local_set() {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let local = tokio::task::LocalSet::new();
    let cell = Rc::new(Cell::new(0));
    let counters: Rc<Vec<Box<dyn Counter>>> =
        Rc::new((0..4).map(|_| Box::new(Local(Rc::clone(&cell))) as Box<dyn Counter>).collect());
    local.block_on(&rt, async {
        let tasks: Vec<_> = (0..16)
            .map(|task| {
                let counters = Rc::clone(&counters);
                tokio::task::spawn_local(async move {
                    for _ in 0..10 {
                        counters[task % 4].bump_twice(1).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("the task completed");
        }
    });
    assert_eq!(cell.get(), 16 * 10 * 2);
    drop(local);
    drop(rt);
    assert_reused_and_empty("Local as dyn_trait::Counter>::bump");
    assert_reused_and_empty("::Counter::bump_twice");
}
