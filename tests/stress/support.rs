//! What every scenario shares: run sizes, the seeded generator, executor-free
//! futures, the injected faults, and the checks on the pools afterwards.

use std::cell::Cell;
use std::future::Future;
use std::panic;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock};
use std::task::{Context, Poll};

use flowcoro::{MAGAZINE, PoolStats};

/// Every injected panic carries this prefix; the panic hook keeps them quiet.
pub(crate) const EXPECTED: &str = "flowcoro-stress: injected";

/// How much work a run does, from `FLOWCORO_STRESS`: `short` (the default,
/// what `cargo test` runs), `soak`, or a number that scales the short run
/// (`0.1` for a run under valgrind).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size {
    /// Multiplies the short run's counts.
    pub(crate) scale: f64,
    /// The soak: ten million calls.
    pub(crate) soak: bool,
}

pub(crate) fn size() -> Size {
    static SIZE: OnceLock<Size> = OnceLock::new();
    *SIZE.get_or_init(|| {
        let var = std::env::var("FLOWCORO_STRESS").unwrap_or_default();
        match var.trim() {
            "" | "short" => Size { scale: 1.0, soak: false },
            "soak" => Size { scale: 1.0, soak: true },
            n => match n.parse::<f64>() {
                Ok(scale) if scale > 0.0 => Size { scale, soak: false },
                _ => panic!(
                    "FLOWCORO_STRESS must be `short`, `soak` or a positive number, not {n:?}"
                ),
            },
        }
    })
}

/// `n` scaled by the run size, at least 1.
pub(crate) fn sized(n: usize) -> usize {
    ((n as f64 * size().scale).round() as usize).max(1)
}

/// The run's seed: `FLOWCORO_SEED` if set, else from the clock.
pub(crate) fn master_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| match std::env::var("FLOWCORO_SEED") {
        Ok(s) => s.trim().parse().expect("FLOWCORO_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x5eed, |d| d.as_nanos() as u64),
    })
}

/// The seed of one scenario: the run's seed mixed with the scenario's name.
/// Printed (shown with the output of a failing test), so a failure can be
/// replayed with the same inputs.
pub(crate) fn scenario_seed(name: &str) -> u64 {
    let stress = std::env::var("FLOWCORO_STRESS").unwrap_or_else(|_| "short".to_owned());
    eprintln!("stress: {name}: FLOWCORO_SEED={} FLOWCORO_STRESS={stress}", master_seed());
    name.bytes().fold(master_seed(), |h, b| mix(h ^ u64::from(b)))
}

/// A 64-bit finalizer (SplitMix64's): a good hash of one word.
pub(crate) const fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// xorshift64*: small, seeded, good enough to pick test inputs.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(mix(seed) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`), near enough.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `percent` / 100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Scenarios share the size-class pools and the panic hook, and their checks
/// read every pool: they run one at a time.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    install_panic_hook();
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps injected panics off stderr; any other panic still prints.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !is_injected(info.payload()) {
                default(info);
            }
        }));
    });
}

/// Whether a caught panic payload is one of ours.
pub(crate) fn is_injected(payload: &(dyn std::any::Any + Send)) -> bool {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .is_some_and(|m| m.starts_with(EXPECTED))
}

/// Runs `f` on a thread of its own and waits until that thread is gone,
/// thread-locals included; a panic in it is re-raised here.
pub(crate) fn on_own_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .expect("spawn a scenario thread");
    match handle.join() {
        Ok(v) => v,
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Returns `Pending` once (waking itself), then `Ready`: a suspension point
/// any executor drives.
#[derive(Debug, Default)]
pub(crate) struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

pub(crate) fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// Polls `child` until it completes or `budget` suspensions have passed; in
/// the second case `child` is dropped while suspended and `None` returned.
/// Whether the child wins depends only on how often it suspends, so a caller
/// that retries on `None` computes the same value either way.
pub(crate) async fn within<F: Future>(child: F, budget: u32) -> Option<F::Output> {
    let mut child = std::pin::pin!(child);
    let mut left = budget;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = child.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if left == 0 {
            return Poll::Ready(None);
        }
        left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// An argument whose drop panics once armed, unless a panic is already
/// unwinding (a second one would abort the process).
///
/// A call arms it as its last step, so the panic comes from the drop of the
/// call's arguments when it completes: inside `poll`. Armed from the start, it
/// also panics when the call is cancelled: inside the drop of its handle.
#[derive(Debug)]
pub(crate) struct Bomb {
    armed: bool,
}

impl Bomb {
    pub(crate) fn quiet() -> Bomb {
        Bomb { armed: false }
    }

    pub(crate) fn armed() -> Bomb {
        Bomb { armed: true }
    }

    pub(crate) fn arm(&mut self) {
        self.armed = true;
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.armed && !std::thread::panicking() {
            panic!("{EXPECTED} panic in the drop of an argument");
        }
    }
}

/// A counter held across suspension points: `Send` or not, as the tree
/// that holds it needs.
pub(crate) trait Tally: Default {
    fn add(&self, v: u64);
    fn get(&self) -> u64;
}

impl Tally for Arc<AtomicU64> {
    fn add(&self, v: u64) {
        self.fetch_add(v, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.load(Ordering::Relaxed)
    }
}

impl Tally for Rc<Cell<u64>> {
    fn add(&self, v: u64) {
        self.set(self.get().wrapping_add(v));
    }

    fn get(&self) -> u64 {
        Cell::get(self)
    }
}

/// How one top-level call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Value(u64),
    Panicked,
    Cancelled,
}

/// Tallies of outcomes, to show a scenario exercised each path.
#[derive(Debug, Default)]
pub(crate) struct Tallies {
    pub(crate) values: u64,
    pub(crate) panics: u64,
    pub(crate) cancels: u64,
}

impl Tallies {
    /// Checks `got` against the reference outcome; `may_cancel` if the call
    /// was subject to a cancellation (which may also surface as the panic of
    /// an argument armed to panic when dropped).
    pub(crate) fn record(
        &mut self,
        what: &dyn std::fmt::Debug,
        got: Outcome,
        want: Outcome,
        may_cancel: bool,
    ) {
        match got {
            Outcome::Value(_) => self.values += 1,
            Outcome::Panicked => self.panics += 1,
            Outcome::Cancelled => self.cancels += 1,
        }
        let ok = got == want || (may_cancel && got == Outcome::Cancelled);
        assert!(ok, "{what:?}: got {got:?}, the plain async fn gives {want:?}");
    }
}

/// What a scenario knows about one of its pools: its name's suffix, its
/// `max_idle` (`None` when left to the pool) and how many layout classes it
/// may hold (eight for a generic fn: a pool's own classes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expect {
    pub(crate) suffix: &'static str,
    pub(crate) max_idle: Option<u64>,
    pub(crate) classes: u64,
}

/// Layout classes a pool serves from its own caches (the rest share one, or
/// go to the size-class pools).
pub(crate) const POOL_CLASSES: u64 = 8;

/// The depot bound of a pool without `max_idle`: the old fixed default, or
/// the pool's peak when it tunes the bound itself.
const UNSET_MAX_IDLE: u64 = 512;

/// The size-class pools every pool overflows into.
pub(crate) const SIZE_CLASS_PREFIX: &str = "flowcoro::size_class::";

/// The checks after a scenario whose threads are all gone (the caller's own
/// thread ran no pooled code): for every pool of `module` and every
/// size-class pool,
/// - the counters add up and no frame is live;
/// - idle frames are within the depot bound (`max_idle` per class; an exited
///   thread's cache went to the depot);
/// - after `trim_all()`, nothing is idle and no byte is reserved.
///
/// Returns the stats taken before the trim.
pub(crate) fn check_quiescent(module: &str, expect: &[Expect]) -> Vec<PoolStats> {
    let prefix = format!("{module}::");
    let mine = |s: &PoolStats| s.name.starts_with(&prefix) || s.name.starts_with(SIZE_CLASS_PREFIX);
    let before: Vec<PoolStats> = flowcoro::pools().into_iter().filter(mine).collect();
    for e in expect {
        let found = before.iter().any(|s| s.name.strip_prefix(&prefix) == Some(e.suffix));
        assert!(found, "pool {prefix}{} was not used: {before:#?}", e.suffix);
    }
    for s in &before {
        let e = expect.iter().find(|e| s.name.strip_prefix(&prefix) == Some(e.suffix));
        let (max_idle, classes) = match e {
            Some(e) => (e.max_idle, e.classes),
            None => (None, POOL_CLASSES),
        };
        assert_eq!(s.reused + s.fresh + s.heap_fallbacks, s.allocations, "{s:#?}");
        assert_eq!(s.live, 0, "a frame outlived its future: {s:#?}");
        let per_class = max_idle.unwrap_or(UNSET_MAX_IDLE.max(s.peak_live));
        assert!(
            s.idle <= classes * per_class,
            "idle over the depot bound {classes} x {per_class}: {s:#?}"
        );
        assert!(s.reserved_bytes <= s.idle * s.frame_size as u64, "{s:#?}");
    }
    flowcoro::trim_all();
    for s in flowcoro::pools().into_iter().filter(mine) {
        assert_eq!((s.live, s.idle, s.reserved_bytes), (0, 0, 0), "left after trim_all: {s:#?}");
    }
    before
}

/// The bound on a pool's idle frames while `threads` threads that used it
/// are alive: its depots plus two magazines per class in each thread.
fn live_bound(max_idle: Option<u64>, classes: u64, threads: u64, peak_live: u64) -> u64 {
    let max_idle = max_idle.unwrap_or(UNSET_MAX_IDLE.max(peak_live));
    let magazine = (MAGAZINE as u64).min(max_idle / 2);
    classes * (max_idle + threads * 2 * magazine)
}

/// The checks at a quiescent point while `threads` threads that used the
/// pools are alive (an executor between two batches): no frame live, idle
/// frames within the depots and those threads' caches. Returns the bytes
/// that bound allows the pools to reserve.
pub(crate) fn check_between_batches(module: &str, expect: &[Expect], threads: u64) -> u64 {
    let prefix = format!("{module}::");
    let mut allowed = 0;
    for s in flowcoro::pools() {
        let e = expect.iter().find(|e| s.name.strip_prefix(&prefix) == Some(e.suffix));
        let (max_idle, classes) = match e {
            Some(e) => (e.max_idle, e.classes),
            None if s.name.starts_with(&prefix) || s.name.starts_with(SIZE_CLASS_PREFIX) => {
                (None, POOL_CLASSES)
            }
            None => continue,
        };
        assert_eq!(s.live, 0, "a frame outlived its future: {s:#?}");
        let bound = live_bound(max_idle, classes, threads, s.peak_live);
        assert!(s.idle <= bound, "idle over {bound} with {threads} threads alive: {s:#?}");
        allowed += bound * s.frame_size as u64;
    }
    allowed
}

/// Sums the stats of the pools of `module`.
pub(crate) fn totals(module: &str) -> PoolStats {
    let prefix = format!("{module}::");
    let mut all = flowcoro::pools().into_iter().filter(|s| s.name.starts_with(&prefix));
    let mut t = all.next().expect("the module's pools are in use");
    for s in all {
        t.allocations += s.allocations;
        t.reused += s.reused;
        t.fresh += s.fresh;
        t.heap_fallbacks += s.heap_fallbacks;
        t.live += s.live;
        t.idle += s.idle;
        t.reserved_bytes += s.reserved_bytes;
        t.frame_size = t.frame_size.max(s.frame_size);
    }
    t
}
