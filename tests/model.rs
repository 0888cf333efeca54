//! A model of what one `FramePool`'s stats must read, checked after every
//! step of random sequences of operations on a fresh pool: allocations of
//! several layouts (one too large to pool), polls, completions, drops,
//! handles moved to helper threads that finish or drop them, helper threads
//! that cache frames and exit, and trims.
//!
//! What the model knows exactly: allocations, heap fallbacks, live frames
//! and their bytes, `frame_size`, and that a frame just freed on this thread
//! is reused by its next allocation of that layout. What it bounds: `idle`
//! (the depot's `max_idle` per class, plus two magazines per class in each
//! thread that has a cache), `peak_live`, and `reserved_bytes` (live bytes
//! plus idle frames of the classes in use). After a trim with no other
//! thread alive, nothing is idle and only live frames are reserved.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, Once, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::{self, JoinHandle};

use flowcoro::{FramePool, MAGAZINE, PoolStats, Pooled};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Payload sizes of the layouts a case may use: eight classes (a pool's
/// own, unless two round to the same frame), then one over the pooled limit
/// (1 MiB), allocated alone.
const PAYLOADS: [usize; 9] = [1, 100, 200, 500, 1000, 2000, 4000, 10_000, HUGE];
const HEAP: usize = 8;
const HUGE: usize = (1 << 20) + 16;

/// A future of a chosen size: suspends `left` times, then checks its
/// payload (a frame overwritten while live shows as a wrong byte) and
/// returns a value that depends on it.
struct Job<const N: usize> {
    payload: [u8; N],
    left: u8,
    tag: u8,
}

impl<const N: usize> Job<N> {
    fn new(tag: u8, left: u8) -> Job<N> {
        Job { payload: [tag; N], left, tag }
    }
}

impl<const N: usize> Future for Job<N> {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if self.left > 0 {
            self.left -= 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let tag = self.tag;
        assert!(self.payload.iter().all(|&b| b == tag), "a live frame was overwritten");
        Poll::Ready(expected(N, tag))
    }
}

fn expected(n: usize, tag: u8) -> u64 {
    n as u64 * 1000 + u64::from(tag)
}

/// The bytes a frame of layout `size` (an index into `PAYLOADS`) takes, as
/// a pool of that layout alone reports it: the future's size rounded up to
/// the pool's granule. Measured once, so the model holds whatever rounding
/// the runtime picks; it only checks that a frame holds its future.
fn frame_bytes(size: usize) -> u64 {
    static BYTES: OnceLock<[u64; 9]> = OnceLock::new();
    BYTES.get_or_init(|| {
        let mut bytes = [0; 9];
        for (size, b) in bytes.iter_mut().enumerate() {
            let pool = case_pool(0);
            let mut h = alloc(pool, size, Make::AllocWith, 1, 0);
            finish(&mut *h);
            drop(h);
            *b = pool.stats().frame_size as u64;
            let need = (PAYLOADS[size] + 2) as u64;
            assert!(*b >= need, "a frame of {b} bytes for a {need} byte future");
        }
        bytes
    })[size]
}

/// A fresh pool. Pools live for the whole process; the list keeps the ones
/// never used reachable (a leak checker reads a used pool as reachable
/// through the registry).
fn case_pool(max_idle: usize) -> &'static FramePool {
    static CASE_POOLS: Mutex<Vec<&'static FramePool>> = Mutex::new(Vec::new());
    let pool: &'static FramePool =
        Box::leak(Box::new(FramePool::new("model").with_max_idle(max_idle)));
    CASE_POOLS.lock().unwrap_or_else(|p| p.into_inner()).push(pool);
    pool
}

/// A live call, of any layout, that can be sent to another thread.
trait Handle: Send {
    /// Polls once; `Some` when it completes.
    fn poll_once(&mut self) -> Option<u64>;
    fn done(&self) -> bool;
}

impl<F: Future<Output = u64> + Send> Handle for Pooled<F> {
    fn poll_once(&mut self) -> Option<u64> {
        match Pin::new(self).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        }
    }

    fn done(&self) -> bool {
        self.is_terminated()
    }
}

fn finish(h: &mut dyn Handle) -> u64 {
    loop {
        if let Some(v) = h.poll_once() {
            return v;
        }
    }
}

/// How the frame is filled.
#[derive(Clone, Copy, Debug)]
enum Make {
    /// `alloc(fut)`: built, then moved in.
    Alloc,
    /// `alloc_with(|| fut)`: built in place.
    AllocWith,
    /// `alloc_with` whose constructor panics: the frame must go back.
    Panics,
}

fn make_job<const N: usize>(
    pool: &'static FramePool,
    make: Make,
    tag: u8,
    left: u8,
) -> Box<dyn Handle> {
    match make {
        Make::Alloc => Box::new(pool.alloc(Job::<N>::new(tag, left))),
        Make::AllocWith => Box::new(pool.alloc_with(|| Job::<N>::new(tag, left))),
        Make::Panics => {
            drop(pool.alloc_with(|| -> Job<N> { panic!("{CTOR_PANIC}") }));
            unreachable!()
        }
    }
}

const CTOR_PANIC: &str = "model: the constructor panics";
const POLLED_AFTER: &str = "polled after completion";

fn alloc(pool: &'static FramePool, size: usize, make: Make, tag: u8, left: u8) -> Box<dyn Handle> {
    match size {
        0 => make_job::<{ PAYLOADS[0] }>(pool, make, tag, left),
        1 => make_job::<{ PAYLOADS[1] }>(pool, make, tag, left),
        2 => make_job::<{ PAYLOADS[2] }>(pool, make, tag, left),
        3 => make_job::<{ PAYLOADS[3] }>(pool, make, tag, left),
        4 => make_job::<{ PAYLOADS[4] }>(pool, make, tag, left),
        5 => make_job::<{ PAYLOADS[5] }>(pool, make, tag, left),
        6 => make_job::<{ PAYLOADS[6] }>(pool, make, tag, left),
        7 => make_job::<{ PAYLOADS[7] }>(pool, make, tag, left),
        _ => make_job::<{ PAYLOADS[HEAP] }>(pool, make, tag, left),
    }
}

/// One step. Indices pick among the live handles, the case's layouts and
/// the helpers, modulo their number.
#[derive(Clone, Debug)]
enum Op {
    Alloc {
        size: usize,
        left: u8,
        with: bool,
    },
    AllocPanics {
        size: usize,
    },
    Poll {
        which: usize,
    },
    Complete {
        which: usize,
    },
    Drop {
        which: usize,
    },
    /// The handle goes to a helper thread that completes or drops it.
    Send {
        which: usize,
        helper: usize,
        complete: bool,
    },
    /// A helper allocates `n` frames and frees them: they stay in its cache
    /// or overflow to the depot.
    HelperChurn {
        helper: usize,
        size: usize,
        n: usize,
    },
    /// A helper thread exits: its cache goes to the depot.
    HelperExit {
        helper: usize,
    },
    Trim,
}

fn op() -> impl Strategy<Value = Op> {
    let idx = any::<prop::sample::Index>();
    prop_oneof![
        6 => (0..8usize, 0..3u8, any::<bool>()).prop_map(|(size, left, with)| Op::Alloc { size, left, with }),
        1 => (0..8usize).prop_map(|size| Op::AllocPanics { size }),
        3 => idx.clone().prop_map(|i| Op::Poll { which: i.index(usize::MAX) }),
        2 => idx.clone().prop_map(|i| Op::Complete { which: i.index(usize::MAX) }),
        3 => idx.clone().prop_map(|i| Op::Drop { which: i.index(usize::MAX) }),
        2 => (idx, 0..2usize, any::<bool>())
            .prop_map(|(i, helper, complete)| Op::Send { which: i.index(usize::MAX), helper, complete }),
        1 => (0..2usize, 0..8usize, 1..(3 * MAGAZINE + 5))
            .prop_map(|(helper, size, n)| Op::HelperChurn { helper, size, n }),
        1 => (0..2usize).prop_map(|helper| Op::HelperExit { helper }),
        1 => Just(Op::Trim),
    ]
}

/// A case: the pool's `max_idle`, the layouts it uses (indices into
/// `PAYLOADS`; `size` in an op picks among them), and the steps.
fn case() -> impl Strategy<Value = (usize, Vec<usize>, Vec<Op>)> {
    let max_idle =
        prop_oneof![Just(0usize), Just(1), Just(2), Just(5), Just(16), Just(64), Just(1000)];
    let layouts = prop_oneof![
        4 => prop::sample::subsequence((0..8).collect::<Vec<_>>(), 1..=2),
        2 => prop::sample::subsequence((0..8).collect::<Vec<_>>(), 3..=8),
        1 => prop::sample::subsequence((0..9).collect::<Vec<_>>(), 1..=3),
    ];
    (max_idle, layouts, prop::collection::vec(op(), 1..60))
}

enum Msg {
    Finish(Box<dyn Handle>, bool),
    Churn(&'static FramePool, usize, usize),
}

/// A helper thread: does what it is told, acknowledges each message.
struct Helper {
    tx: Option<Sender<Msg>>,
    ack: Receiver<()>,
    thread: Option<JoinHandle<()>>,
    /// Whether its thread cache may hold frames of the pool.
    touched: bool,
}

impl Helper {
    fn spawn() -> Helper {
        let (tx, rx) = channel::<Msg>();
        let (ack_tx, ack) = channel();
        let thread = thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || {
                for msg in rx {
                    match msg {
                        Msg::Finish(mut h, complete) => {
                            if complete && !h.done() {
                                finish(&mut *h);
                            }
                            drop(h);
                        }
                        Msg::Churn(pool, size, n) => {
                            let hs: Vec<_> = (0..n)
                                .map(|i| alloc(pool, size, Make::AllocWith, i as u8, 0))
                                .collect();
                            drop(hs);
                        }
                    }
                    ack_tx.send(()).expect("the case waits");
                }
            })
            .expect("spawn a helper");
        Helper { tx: Some(tx), ack, thread: Some(thread), touched: false }
    }

    fn send(&mut self, msg: Msg) {
        self.touched = true;
        self.tx.as_ref().expect("running").send(msg).expect("the helper runs");
        self.ack.recv().expect("the helper acknowledges");
    }

    fn exit(mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            t.join().unwrap_or_else(|p| panic::resume_unwind(p));
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Live {
    handle: Box<dyn Handle>,
    size: usize,
    tag: u8,
}

/// What the stats must say, as far as the model knows.
struct Model {
    pool: &'static FramePool,
    max_idle: u64,
    allocations: u64,
    heap_fallbacks: u64,
    /// Live frames per layout (a completed call's frame is back already).
    live: [u64; 9],
    /// Highest live count at a check, and including helpers' bursts.
    peak_seen: u64,
    peak_bound: u64,
    used: BTreeSet<usize>,
    /// A lower bound on the frames of each class (by frame bytes) in this
    /// thread's cache.
    cached_here: BTreeMap<u64, u64>,
    handles: Vec<Live>,
    helpers: [Option<Helper>; 2],
    next_tag: u8,
}

impl Model {
    fn new(max_idle: usize) -> Model {
        let pool = case_pool(max_idle);
        Model {
            pool,
            max_idle: max_idle as u64,
            allocations: 0,
            heap_fallbacks: 0,
            live: [0; 9],
            peak_seen: 0,
            peak_bound: 0,
            used: BTreeSet::new(),
            cached_here: BTreeMap::new(),
            handles: Vec::new(),
            helpers: [None, None],
            next_tag: 1,
        }
    }

    /// Frames per magazine.
    fn magazine(&self) -> u64 {
        (MAGAZINE as u64).min(self.max_idle / 2)
    }

    /// What one thread may cache per class: two magazines, and the hot frame
    /// in front of them (none when magazines hold nothing).
    fn thread_cache(&self) -> u64 {
        let m = self.magazine();
        2 * m + u64::from(m > 0)
    }

    fn live_total(&self) -> u64 {
        self.live.iter().sum()
    }

    fn live_bytes(&self) -> u64 {
        self.live.iter().enumerate().map(|(s, n)| n * frame_bytes(s)).sum()
    }

    /// The pool classes in use, by frame bytes: layouts that round to the
    /// same frame share a class.
    fn classes(&self) -> BTreeSet<u64> {
        self.used.iter().filter(|&&s| s != HEAP).map(|&s| frame_bytes(s)).collect()
    }

    /// A frame of layout `size` came back on this thread.
    fn freed_here(&mut self, size: usize) {
        self.live[size] -= 1;
        if size != HEAP && self.magazine() > 0 {
            let cap = self.magazine() + 1;
            let n = self.cached_here.entry(frame_bytes(size)).or_default();
            *n = (*n + 1).min(cap);
        }
    }

    /// Takes a frame on this thread; returns whether the model knows it
    /// must come from this thread's cache.
    fn taken_here(&mut self, size: usize) -> bool {
        self.allocations += 1;
        self.used.insert(size);
        if size == HEAP {
            self.heap_fallbacks += 1;
            return false;
        }
        let n = self.cached_here.entry(frame_bytes(size)).or_default();
        let cached = *n > 0;
        *n = n.saturating_sub(1);
        cached
    }

    fn pick(&self, which: usize) -> Option<usize> {
        (!self.handles.is_empty()).then(|| which % self.handles.len())
    }

    fn helper(&mut self, i: usize) -> &mut Helper {
        self.helpers[i].get_or_insert_with(Helper::spawn)
    }

    fn apply(&mut self, op: &Op, layouts: &[usize]) {
        let before = self.pool.stats();
        let mut must_reuse = false;
        match *op {
            Op::Alloc { size, left, with } => {
                let size = layouts[size % layouts.len()];
                let tag = self.tag();
                must_reuse = self.taken_here(size);
                let make = if with { Make::AllocWith } else { Make::Alloc };
                let handle = alloc(self.pool, size, make, tag, left);
                self.live[size] += 1;
                self.handles.push(Live { handle, size, tag });
            }
            Op::AllocPanics { size } => {
                let size = layouts[size % layouts.len()];
                must_reuse = self.taken_here(size);
                let pool = self.pool;
                let r =
                    panic::catch_unwind(AssertUnwindSafe(|| alloc(pool, size, Make::Panics, 0, 0)));
                assert!(r.is_err(), "the constructor panics");
                // Live while the constructor ran.
                self.live[size] += 1;
                self.peak_bound = self.peak_bound.max(self.live_total());
                self.freed_here(size);
            }
            Op::Poll { which } => {
                let Some(i) = self.pick(which) else { return self.check(&before, false) };
                let live = &mut self.handles[i];
                if live.handle.done() {
                    // As an `async fn` future: polling again panics, and
                    // changes nothing.
                    let r = panic::catch_unwind(AssertUnwindSafe(|| live.handle.poll_once()));
                    assert!(r.is_err(), "polling a completed call must panic");
                } else if let Some(v) = live.handle.poll_once() {
                    assert_eq!(v, expected(PAYLOADS[live.size], live.tag));
                    let size = live.size;
                    // Completed: the frame is back while the handle lives.
                    self.freed_here(size);
                }
            }
            Op::Complete { which } => {
                let Some(i) = self.pick(which) else { return self.check(&before, false) };
                let live = &mut self.handles[i];
                if !live.handle.done() {
                    assert_eq!(finish(&mut *live.handle), expected(PAYLOADS[live.size], live.tag));
                    let size = live.size;
                    self.freed_here(size);
                }
            }
            Op::Drop { which } => {
                let Some(i) = self.pick(which) else { return self.check(&before, false) };
                let live = self.handles.swap_remove(i);
                let done = live.handle.done();
                drop(live.handle);
                if !done {
                    self.freed_here(live.size);
                }
            }
            Op::Send { which, helper, complete } => {
                let Some(i) = self.pick(which) else { return self.check(&before, false) };
                let live = self.handles.swap_remove(i);
                if !live.handle.done() {
                    self.live[live.size] -= 1;
                }
                self.helper(helper).send(Msg::Finish(live.handle, complete));
            }
            Op::HelperChurn { helper, size, n } => {
                let size = layouts[size % layouts.len()];
                if size == HEAP {
                    return self.check(&before, false);
                }
                self.used.insert(size);
                self.allocations += n as u64;
                self.peak_bound = self.peak_bound.max(self.live_total() + n as u64);
                let pool = self.pool;
                self.helper(helper).send(Msg::Churn(pool, size, n));
            }
            Op::HelperExit { helper } => {
                if let Some(h) = self.helpers[helper].take() {
                    h.exit();
                }
            }
            Op::Trim => {
                self.pool.trim();
                self.cached_here.clear();
            }
        }
        self.check(&before, must_reuse);
        if let Op::Trim = op {
            self.check_trimmed();
        }
    }

    fn tag(&mut self) -> u8 {
        self.next_tag = self.next_tag.wrapping_add(1).max(1);
        self.next_tag
    }

    /// Threads whose cache may hold frames: this one and the live helpers
    /// that used the pool.
    fn caching_threads(&self) -> u64 {
        1 + self.helpers.iter().flatten().filter(|h| h.touched).count() as u64
    }

    fn check(&mut self, before: &PoolStats, must_reuse: bool) {
        let s = self.pool.stats();
        let live = self.live_total();
        self.peak_seen = self.peak_seen.max(live);
        self.peak_bound = self.peak_bound.max(live);
        assert_eq!(s.allocations, self.allocations, "{s:#?}");
        assert_eq!(s.heap_fallbacks, self.heap_fallbacks, "{s:#?}");
        assert_eq!(s.reused + s.fresh + s.heap_fallbacks, s.allocations, "{s:#?}");
        assert_eq!(s.live, live, "{s:#?}");
        assert!(s.reused >= before.reused && s.fresh >= before.fresh, "counters only grow: {s:#?}");
        assert!(
            (self.peak_seen..=self.peak_bound).contains(&s.peak_live),
            "peak_live {} outside {}..={}",
            s.peak_live,
            self.peak_seen,
            self.peak_bound
        );
        if must_reuse {
            assert_eq!(
                (s.reused, s.fresh),
                (before.reused + 1, before.fresh),
                "a frame freed on this thread must serve its next call: {s:#?}"
            );
        }
        let largest = self.used.iter().map(|&u| frame_bytes(u)).max().unwrap_or(0);
        assert_eq!(s.frame_size as u64, largest, "{s:#?}");
        // Idle: each class's depot keeps at most `max_idle`, each caching
        // thread at most two magazines and a hot frame per class.
        let classes = self.classes().len() as u64;
        let bound = classes * (self.max_idle + self.caching_threads() * self.thread_cache());
        assert!(s.idle <= bound, "idle over {bound}: {s:#?}");
        // Reserved: live bytes, plus idle frames of the classes in use.
        let idle_bytes = s.reserved_bytes.checked_sub(self.live_bytes()).unwrap_or_else(|| {
            panic!("reserved below the live bytes {}: {s:#?}", self.live_bytes())
        });
        let sizes = self.classes();
        let (lo, hi) =
            (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
        assert!(
            (s.idle * lo..=s.idle * hi).contains(&idle_bytes),
            "{idle_bytes} idle bytes for {} idle frames of {sizes:?} bytes: {s:#?}",
            s.idle
        );
    }

    /// Right after a trim: what other threads' caches hold is all that may
    /// stay idle.
    fn check_trimmed(&self) {
        let s = self.pool.stats();
        let others = self.caching_threads() - 1;
        let classes = self.classes().len() as u64;
        assert!(s.idle <= classes * others * self.thread_cache(), "idle after trim: {s:#?}");
        if others == 0 {
            assert_eq!(s.idle, 0, "{s:#?}");
            assert_eq!(s.reserved_bytes, self.live_bytes(), "{s:#?}");
        }
    }

    /// Drops everything, stops the helpers, trims: nothing may be left.
    fn finish_case(mut self) {
        for live in std::mem::take(&mut self.handles) {
            if !live.handle.done() {
                self.live[live.size] -= 1;
            }
        }
        for h in self.helpers.iter_mut().filter_map(Option::take) {
            h.exit();
        }
        self.pool.trim();
        let s = self.pool.stats();
        assert_eq!((s.live, s.idle, s.reserved_bytes), (0, 0, 0), "{s:#?}");
    }
}

fn run_case(max_idle: usize, layouts: &[usize], ops: &[Op]) {
    let mut model = Model::new(max_idle);
    for op in ops {
        model.apply(op, layouts);
    }
    model.finish_case();
}

fn quiet_expected_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !(msg.contains(CTOR_PANIC) || msg.contains(POLLED_AFTER)) {
                default(info);
            }
        }));
    });
}

#[test]
fn pool_stats_follow_the_model() {
    quiet_expected_panics();
    // A 1 MiB future is built on the stack before it moves to its frame.
    let runner = thread::Builder::new().stack_size(64 << 20).spawn(|| {
        let cases =
            std::env::var("FLOWCORO_MODEL_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512);
        let config = Config { cases, failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new(config);
        let result = runner.run(&case(), |(max_idle, layouts, ops)| {
            run_case(max_idle, &layouts, &ops);
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    });
    runner.expect("spawn the model runner").join().unwrap_or_else(|p| panic::resume_unwind(p));
}

/// A 34 KB future aligned as `A`: past a pool's own classes it goes to the
/// 64 KiB size-class pool.
struct Wide<A> {
    _align: [A; 0],
    payload: [u8; 34_000],
}

impl<A> Future for Wide<A> {
    type Output = u64;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u64> {
        Poll::Ready(u64::from(self.payload[0]))
    }
}

macro_rules! aligned {
    ($($name:ident = $n:literal),* $(,)?) => {
        $(
            #[repr(align($n))]
            struct $name;
        )*
    };
}

aligned!(
    A64 = 64,
    A128 = 128,
    A256 = 256,
    A512 = 512,
    A1K = 1024,
    A2K = 2048,
    A4K = 4096,
    A8K = 8192,
    A16K = 16384,
);

fn wide<A: Send>(pool: &'static FramePool) -> u64 {
    let mut h = pool.alloc_with(|| Wide::<A> { _align: [], payload: [7; 34_000] });
    finish(&mut h)
}

/// Regression test: a layout that neither its pool nor its size-class pool
/// has a class for (here nine alignments of one size) is allocated alone by
/// its own pool, with the future's own layout, and freed with that same
/// layout. Once, the size-class pool allocated it with the size class's
/// layout while the handle freed it with the future's: a wrong layout on
/// deallocation (Miri: `cargo +nightly miri test --test model -- a_size_class`).
#[test]
fn a_size_class_heap_fallback_is_freed_with_its_own_layout() {
    static POOL: FramePool = FramePool::new("model::many_alignments");
    // The pool's own eight classes: small layouts.
    for size in 0..8 {
        let mut h = alloc(&POOL, size, Make::AllocWith, 1, 0);
        finish(&mut *h);
    }
    // Eight alignments take the eight classes of the 64 KiB size-class pool;
    // the ninth fits none of them.
    let results = [
        wide::<A64>(&POOL),
        wide::<A128>(&POOL),
        wide::<A256>(&POOL),
        wide::<A512>(&POOL),
        wide::<A1K>(&POOL),
        wide::<A2K>(&POOL),
        wide::<A4K>(&POOL),
        wide::<A8K>(&POOL),
        wide::<A16K>(&POOL),
    ];
    assert!(results.iter().all(|&r| r == 7));
    let sc = flowcoro::pools()
        .into_iter()
        .find(|s| s.name == "flowcoro::size_class::64K")
        .expect("the 64 KiB size-class pool served the wide layouts");
    // The size-class pool serves by class only ...
    assert_eq!((sc.live, sc.heap_fallbacks), (0, 0), "{sc:#?}");
    // Nothing is live: the pool holds exactly its idle frames.
    assert_eq!(sc.reserved_bytes, sc.idle * 65536, "{sc:#?}");
    // ... and the ninth alignment was allocated alone by its own pool, and
    // given back whole.
    let own = POOL.stats();
    assert_eq!((own.live, own.heap_fallbacks), (0, 1), "{own:#?}");
}
