//! A plain `async fn` and its `#[pooled]` twin, written with the same tokens,
//! run over the same inputs: same results, and arguments and locals drop in
//! the same order, whether the future completes, is dropped before its first
//! poll, is dropped while suspended, or panics.
// rustc lowers a plain `async fn`'s `ref e: T` argument to `let ref e = ..`,
// which draws this lint (the `#[pooled]` twin does not).
#![allow(clippy::toplevel_ref_arg)]

use std::cell::RefCell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use flowcoro::pooled;

thread_local! {
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn log(event: impl Into<String>) {
    LOG.with(|l| l.borrow_mut().push(event.into()));
}

fn take_log() -> Vec<String> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

/// Logs its name when dropped.
#[derive(Debug)]
struct Noisy(&'static str);

impl Drop for Noisy {
    fn drop(&mut self) {
        log(format!("drop {}", self.0));
    }
}

/// Returns `Pending` once, then `Ready`.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) { Poll::Ready(()) } else { Poll::Pending }
    }
}

async fn yield_now() {
    YieldNow(false).await;
}

/// What one run shows: the output if it completed (or the panic message),
/// and every event logged from the call to the drop of the future.
#[derive(Debug, PartialEq)]
struct Run<T> {
    output: Option<Result<T, String>>,
    log: Vec<String>,
}

/// Calls `call`, polls the future up to `polls` times, drops it, and
/// returns what happened.
fn run<F: Future>(call: impl FnOnce() -> F, polls: usize) -> Run<F::Output> {
    take_log();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut fut = pin!(call());
        log("called");
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..polls {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                log("ready");
                return Some(out);
            }
            log("pending");
        }
        log("dropping");
        None
    }));
    let output = match result {
        Ok(out) => out.map(Ok),
        Err(payload) => {
            let message = payload.downcast_ref::<&str>().map_or("?", |s| s).to_owned();
            Some(Err(message))
        }
    };
    Run { output, log: take_log() }
}

/// Runs both twins with every number of polls (0 = dropped unpolled) and
/// asserts they behave the same; returns the plain run to completion.
fn same<T: PartialEq + std::fmt::Debug, F: Future<Output = T>, G: Future<Output = T>>(
    mut plain: impl FnMut() -> F,
    mut pooled: impl FnMut() -> G,
) -> Run<T> {
    for polls in 0..=4 {
        let expected = run(&mut plain, polls);
        let actual = run(&mut pooled, polls);
        assert_eq!(actual, expected, "after {polls} polls");
    }
    run(plain, 10)
}

/// Defines `$plain` as an `async fn` and `$pooled` as its `#[pooled]` twin,
/// from the same tokens.
macro_rules! twins {
    ($plain:ident, $pooled:ident: ($($args:tt)*) -> $ret:ty $body:block) => {
        async fn $plain($($args)*) -> $ret $body

        #[pooled]
        async fn $pooled($($args)*) -> $ret $body
    };
}

struct Point {
    x: Noisy,
    _y: Noisy,
}

twins! {
    patterns_plain, patterns_pooled: (
        a: Noisy,
        (b, _c): (Noisy, Noisy),
        _: Noisy,
        mut d: Noisy,
        ref e: Noisy,
        Point { x, .. }: Point,
        _unused: Noisy,
    ) -> &'static str {
        let _local = Noisy("local");
        log(format!("body {} {} {}", a.0, b.0, e.0));
        yield_now().await;
        let moved = x;
        d.0 = "d2";
        let _late = Noisy("late");
        yield_now().await;
        drop(moved);
        log("end");
        d.0
    }
}

#[test]
fn argument_patterns() {
    let args = || {
        (
            Noisy("a"),
            (Noisy("b"), Noisy("c")),
            Noisy("wild"),
            Noisy("d"),
            Noisy("e"),
            Point { x: Noisy("x"), _y: Noisy("y") },
            Noisy("unused"),
        )
    };
    let call_plain = || {
        let (a, bc, w, d, e, p, u) = args();
        patterns_plain(a, bc, w, d, e, p, u)
    };
    let call_pooled = || {
        let (a, bc, w, d, e, p, u) = args();
        patterns_pooled(a, bc, w, d, e, p, u)
    };
    let done = same(call_plain, call_pooled);
    assert_eq!(done.output, Some(Ok("d2")));
    // As an `async fn`: arguments drop after the locals, last one first.
    let drops: Vec<_> = done.log.iter().filter(|e| e.starts_with("drop")).collect();
    assert_eq!(
        drops,
        [
            "drop x",
            "drop late",
            "drop local",
            "drop unused",
            "drop y",
            "drop e",
            "drop d2",
            "drop wild",
            "drop c",
            "drop b",
            "drop a",
        ]
    );
}

/// `Drop` makes `self` a whole that can't be split.
struct Whole(Noisy);

impl Drop for Whole {
    fn drop(&mut self) {
        log("drop whole");
    }
}

/// No `Drop`: a body may use its fields one by one.
struct Parts {
    first: Noisy,
    second: Noisy,
}

impl Whole {
    twins! {
        by_value_plain, by_value_pooled: (self, arg: Noisy) -> &'static str {
            let _local = Noisy("local");
            yield_now().await;
            let _ = &arg;
            self.0.0
        }
    }

    twins! {
        by_ref_plain, by_ref_pooled: (&self, arg: Noisy) -> &'static str {
            yield_now().await;
            let _ = &arg;
            self.0.0
        }
    }
}

impl Parts {
    twins! {
        field_plain, field_pooled: (self, arg: Noisy) -> &'static str {
            let first = self.first;
            yield_now().await;
            let _ = &arg;
            first.0
        }
    }

    twins! {
        untouched_plain, untouched_pooled: (self) -> u32 {
            yield_now().await;
            7
        }
    }

    twins! {
        mut_value_plain, mut_value_pooled: (mut self, arg: Noisy) -> &'static str {
            self.second = arg;
            yield_now().await;
            self.second.0
        }
    }

    twins! {
        mut_ref_plain, mut_ref_pooled: (&mut self, arg: Noisy) -> &'static str {
            let old = std::mem::replace(&mut self.first, arg);
            yield_now().await;
            old.0
        }
    }
}

fn parts() -> Parts {
    Parts { first: Noisy("first"), second: Noisy("second") }
}

#[test]
fn receivers() {
    let done = same(
        || Whole(Noisy("inner")).by_value_plain(Noisy("arg")),
        || Whole(Noisy("inner")).by_value_pooled(Noisy("arg")),
    );
    assert_eq!(done.output, Some(Ok("inner")));

    let whole = Whole(Noisy("kept"));
    same(|| whole.by_ref_plain(Noisy("arg")), || whole.by_ref_pooled(Noisy("arg")));

    // The body moves out `self.first` only; `self.second` must stay in the
    // future (and drop with it), not drop when the call returns.
    let done = same(|| parts().field_plain(Noisy("arg")), || parts().field_pooled(Noisy("arg")));
    assert_eq!(done.log[0], "called");
    same(|| parts().untouched_plain(), || parts().untouched_pooled());
    same(|| parts().mut_value_plain(Noisy("arg")), || parts().mut_value_pooled(Noisy("arg")));

    // A fresh (leaked) `Parts` per call, so each future may borrow it.
    let leaked = || Box::leak(Box::new(parts()));
    same(|| leaked().mut_ref_plain(Noisy("arg")), || leaked().mut_ref_pooled(Noisy("arg")));
}

#[derive(Debug, PartialEq)]
struct Failed(&'static str);

twins! {
    early_plain, early_pooled: (input: Noisy, fail: Option<&'static str>, early: bool) -> Result<u32, Failed> {
        let _local = Noisy("local");
        yield_now().await;
        if early {
            return Ok(1);
        }
        let checked: Result<(), Failed> = fail.map_or(Ok(()), |why| Err(Failed(why)));
        checked?;
        let _ = &input;
        yield_now().await;
        Ok(2)
    }
}

#[test]
fn question_mark_and_early_return() {
    for (fail, early, expected) in
        [(None, true, Ok(1)), (Some("no"), false, Err(Failed("no"))), (None, false, Ok(2))]
    {
        let done = same(
            || early_plain(Noisy("input"), fail, early),
            || early_pooled(Noisy("input"), fail, early),
        );
        assert_eq!(done.output, Some(Ok(expected)));
    }
}

twins! {
    panics_plain, panics_pooled: (arg: Noisy, at_first_poll: bool) -> u32 {
        let _local = Noisy("local");
        if !at_first_poll {
            yield_now().await;
        }
        let _ = &arg;
        panic!("boom")
    }
}

#[test]
fn panics_propagate() {
    for at_first_poll in [true, false] {
        let done = same(
            || panics_plain(Noisy("arg"), at_first_poll),
            || panics_pooled(Noisy("arg"), at_first_poll),
        );
        assert_eq!(done.output, Some(Err(String::from("boom"))));
    }
}

twins! {
    counted_plain, counted_pooled: (n: u32) -> u32 {
        yield_now().await;
        n + 1
    }
}

#[test]
fn pool_stats() {
    same(|| counted_plain(1), || counted_pooled(1));
    let name = concat!(module_path!(), "::counted_pooled");
    let stats = flowcoro::pools().into_iter().find(|s| s.name == name).expect("the pool is listed");
    // `same` calls it 5 times (0 to 4 polls); the frames are all back.
    assert_eq!(stats.allocations, 5);
    assert_eq!(stats.live, 0);
    assert!(stats.reused >= 4);
    assert!(stats.frame_size > 0);
}
