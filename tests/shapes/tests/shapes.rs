//! Every shape of `src/lib.rs`, called on tokio's multi-thread runtime,
//! statically and through `dyn` where the trait is `dyn`-compatible, and
//! the spans of `#[tracing::instrument]` around pooled bodies.

use std::collections::HashMap;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use flowcoro_shapes::lints_that_must_fire as lints;
use flowcoro_shapes::{
    Anything, Check, Codec, Counter, DebugCodec, Handler, Keys, Labelled, Listener, Listing, Local,
    Memory, Named, Parser, Robot, Shared, Source, Store, Tally, Traced, Words, Worker, first_words,
    no_keys,
};
use futures::StreamExt;

fn memory() -> Memory {
    let mut map = HashMap::new();
    map.insert("a".to_owned(), "alpha".to_owned());
    map.insert("n".to_owned(), "42".to_owned());
    Memory { map, touches: 0 }
}

/// `value`, which must be `Send`.
fn assert_send<T: Send>(value: T) -> T {
    value
}

/// The stats of the pool whose name ends with `suffix`.
fn pool(suffix: &str) -> flowcoro::PoolStats {
    let pools = flowcoro::pools();
    let names: Vec<&str> = pools.iter().map(|s| s.name).collect();
    let found = pools.iter().find(|s| s.name.ends_with(suffix));
    found.unwrap_or_else(|| panic!("no pool `..{suffix}` in {names:?}")).clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_statically_and_through_dyn() {
    let mut store = memory();
    assert_eq!(store.get("a").await.as_deref(), Some("alpha"));
    assert_eq!(store.name().await, "memory");
    assert_eq!(store.len_of("a").await, 5);
    assert_eq!(store.touch().await, 1);
    assert_eq!(store.pair((2, 3)).await, 5);
    assert_eq!(store.render(7).await, "<7>");
    assert_eq!(store.render("x").await, "<x>");
    assert_eq!(store.zeros::<4>().await, [0; 4]);
    assert_eq!(store.show(1.5).await, "1.5");
    assert_eq!(store.configured(4).await, 8);
    assert_eq!(store.later(1).await.await, 2);
    assert_eq!(store.number("n").await, Ok(42));
    assert!(store.number("a").await.is_err());
    assert_eq!(Pin::new(&mut store).pinned().await, 3);
    let shared = Arc::new(memory());
    assert_eq!(shared.clone().shared().await, 2);
    assert_eq!(Box::new(memory()).boxed().await, 7);

    // Through `dyn`, from tasks that may run on either worker.
    let stores: Vec<Arc<dyn Store + Send + Sync>> = vec![Arc::new(memory()), Arc::new(memory())];
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                let got = store.get("a").await;
                let len = store.len_of("n").await;
                let pair = store.pair((1, 2)).await;
                let name = store.name().await.to_owned();
                let number = store.number("n").await;
                let later = store.later(9).await.await;
                (got, len, pair, name, number, later, store.clone().shared().await)
            })
        })
        .collect();
    for task in tasks {
        let (got, len, pair, name, number, later, shared) = task.await.unwrap();
        assert_eq!(got.as_deref(), Some("alpha"));
        assert_eq!(
            (len, pair, name.as_str(), number, later, shared),
            (2, 3, "memory", Ok(42), 10, 2)
        );
    }
    let mut boxed: Box<dyn Store + Send> = Box::new(memory());
    assert_eq!(boxed.touch().await, 1);
    assert_eq!(boxed.touch().await, 2);
    assert_eq!(boxed.as_mut().configured(1).await, 2);

    // One pool per method, for every instantiation of a generic one.
    let render = pool("Memory as flowcoro_shapes::Store>::render");
    assert_eq!((render.allocations, render.live), (2, 0));
    assert_eq!(pool("flowcoro_shapes::Store::len_of").live, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_traits_lifetimes_and_async_trait_names() {
    let codec: &(dyn Codec<Vec<u8>> + Sync) = &DebugCodec;
    assert_eq!(codec.encode(&vec![1, 2]).await, b"[1, 2]");
    assert!(codec.accepts(&vec![]).await);
    // `Rc` is neither `Send` nor `Sync`: the unused `&T` is not captured,
    // so the future is still `Send`.
    let rc = Rc::new(5);
    assert!(assert_send(Anything.check(&rc)).await);
    let input = String::from("hello pooled world");
    let word = Words.first_word(&input).await;
    assert_eq!(word, "hello");
    let parser: &dyn Parser<'_> = &Words;
    assert_eq!(parser.first_word(&input).await, "hello");
    assert_eq!(Labelled::<u8>::label(&()).await, "default");
    // The default body holds `&self`: through `dyn`, the object must be
    // `Sync` (the method asks it; the trait does not).
    let labelled: &(dyn Labelled<u8> + Sync) = &();
    assert_eq!(labelled.label().await, "default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn associated_items_and_spawned_sources() {
    // An associated const keeps the trait off `dyn`, as with async-trait.
    let source = Arc::new(Counter(AtomicU32::new(0)));
    assert_eq!(source.take_all().await, [0, 1, 2]);
    let taken = tokio::spawn(async move { source.take_all().await }).await.unwrap();
    assert_eq!(taken, [3, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trait_forwarded_by_another_attribute_macro() {
    // `#[auto_impl]` forwarded every method through `&`, `Arc` and `Box`,
    // except `shout`, whose default a `Box` keeps.
    let arc = Arc::new(Robot);
    assert_eq!(arc.greet("you").await, "robot greets you");
    assert_eq!(arc.shout().await, "BEEP");
    assert_eq!(<&Robot as Named>::shout(&&Robot).await, "BEEP");
    assert_eq!(Box::new(Robot).shout().await, "ROBOT");
    // The forwarding impls are `dyn`-compatible ones, run on any worker.
    let named: Vec<Box<dyn Named>> = vec![Box::new(Arc::new(Robot)), Box::new(Box::new(Robot))];
    let tasks: Vec<_> = named
        .into_iter()
        .map(|n| {
            tokio::spawn(async move {
                // Through the vtable (`n.shout()` would pick the impl of
                // `Box<dyn Named>`, which keeps the default).
                let n: &dyn Named = &*n;
                (n.greet("me").await, n.shout().await)
            })
        })
        .collect();
    let mut got = Vec::new();
    for task in tasks {
        got.push(task.await.unwrap());
    }
    assert_eq!(
        got,
        [
            ("robot greets me".to_owned(), "BEEP".to_owned()),
            ("robot greets me".to_owned(), "ROBOT".to_owned())
        ]
    );
}

#[test]
fn local_traits_on_a_local_set() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let shared: Rc<dyn Local> = Rc::new(Shared(Rc::new(21)));
        let task = tokio::task::spawn_local({
            let shared = shared.clone();
            async move { shared.twice().await }
        });
        assert_eq!(task.await.unwrap(), 42);
        assert_eq!(shared.read().await, 21);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_fns_and_methods() {
    assert_eq!(flowcoro_shapes::parameters(String::new(), 1, (2, 3), &4, "", "n=").await, "n=10");
    assert_eq!(flowcoro_shapes::small_by_ref(&1).await, 2);
    assert_eq!(flowcoro_shapes::make_later(3).await.await, 3);
    let mut listener = Listener::default();
    assert_eq!(listener.run().await, 1);
    assert_eq!(Handler.run().await, 2);
    assert_eq!(flowcoro_shapes::run().await, 3);
    assert_eq!(lints::needless_return(1).await, 2);
    assert_eq!(lints::useless_conversion("s".into()).await, "s");
    assert_eq!(lints::useless_into_iter(vec![1]).await, [1]);
    assert!(lints::len_zero(vec![]).await);
    assert_eq!(lints::unused_argument(1, &2).await, 1);
    assert_eq!(lints::unused_mut(1).await, 1);
    assert!(lints::in_a_block(vec![]).await);
    assert_eq!(flowcoro_shapes::handler(2).await, 6);
    assert_eq!(tokio::spawn(flowcoro_shapes::handler(3)).await.unwrap(), 9);
    assert_eq!(flowcoro_shapes::borrowing(&["ab", "c"]).await, 3);
    assert_eq!(tokio::spawn(flowcoro_shapes::sensor_read(4)).await.unwrap(), 8);
    assert_eq!(tokio::spawn(flowcoro_shapes::static_handler(4)).await.unwrap(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_of_one_name_get_pools_of_their_own() {
    let mut listener = Listener::default();
    listener.run().await;
    Handler.run().await;
    flowcoro_shapes::run().await;
    let names: Vec<&str> = flowcoro::pools().iter().map(|s| s.name).collect();
    for name in
        ["flowcoro_shapes::Listener::run", "flowcoro_shapes::Handler::run", "flowcoro_shapes::run"]
    {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}

mod spans {
    //! A subscriber that records, for each event, the span it happened in
    //! and that span's fields, and counts how often each span is entered.

    use std::collections::HashMap;
    use std::fmt::Write as _;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::layer::{Context, Layer};
    use tracing_subscriber::registry::LookupSpan;

    #[derive(Default)]
    pub(super) struct Seen {
        /// (span name with its fields, event message and fields)
        pub(super) events: Vec<(String, String)>,
        /// Enters per span name.
        pub(super) enters: HashMap<String, usize>,
    }

    #[derive(Clone, Default)]
    pub(super) struct Recorder(pub(super) Arc<Mutex<Seen>>);

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, "{}={:?} ", field.name(), value);
        }
    }

    /// A span's name and fields, kept in its extensions.
    struct Described(String);

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let mut fields = Fields(format!("{} ", attrs.metadata().name()));
            attrs.record(&mut fields);
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(Described(fields.0));
            }
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id) {
                let mut ext = span.extensions_mut();
                if let Some(Described(text)) = ext.get_mut::<Described>() {
                    let mut fields = Fields(std::mem::take(text));
                    values.record(&mut fields);
                    *text = fields.0;
                }
            }
        }

        fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            let span = ctx.event_span(event).map_or_else(String::new, |span| {
                span.extensions().get::<Described>().map(|d| d.0.clone()).unwrap_or_default()
            });
            self.0
                .lock()
                .unwrap()
                .events
                .push((span.trim().to_owned(), fields.0.trim().to_owned()));
        }

        fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id) {
                *self.0.lock().unwrap().enters.entry(span.name().to_owned()).or_default() += 1;
            }
        }
    }
}

/// Runs `f` on a multi-thread runtime with `recorder` as the subscriber of
/// every worker.
fn traced<T: Send + 'static>(
    recorder: &spans::Recorder,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let dispatch = tracing::Dispatch::new(subscriber);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start({
            let dispatch = dispatch.clone();
            move || {
                // The guard lives as long as the worker thread.
                std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            }
        })
        .build()
        .unwrap();
    let _guard = tracing::dispatcher::set_default(&dispatch);
    rt.block_on(async move { tokio::spawn(f).await.unwrap() })
}

#[test]
fn instrumented_pooled_methods_record_their_events_inside_their_span() {
    let recorder = spans::Recorder::default();
    let (work, checked, below, odd, above, tally) = traced(&recorder, async {
        let worker: Arc<dyn Traced + Send + Sync> = Arc::new(Worker { id: 10 });
        let work = worker.work(3).await;
        let checked = worker.checked(2).await;
        let below = flowcoro_shapes::traced_below(4).await;
        let odd = flowcoro_shapes::traced_below(5).await;
        let above = flowcoro_shapes::traced_above(1).await;
        let (mut mine, mut other) = (Tally(5), Tally(7));
        let tally = (mine.count_on(&mut other).await, mine.0, other.0);
        (work, checked, below, odd, above, tally)
    });
    assert_eq!((work, checked, below, above), (13, 2, Ok(4), 2));
    assert_eq!(tally, (8, 5, 8), "the body moved its `self` on to `other`");
    assert_eq!(odd, Err("5 is odd".to_owned()));
    let seen = recorder.0.lock().unwrap();
    let events: Vec<(&str, &str)> =
        seen.events.iter().map(|(span, event)| (span.as_str(), event.as_str())).collect();
    // Every event of the bodies, across their suspensions, in their span:
    // `skip`, `fields`, `ret` and `err` as tracing's attribute makes them.
    let expected = [
        ("work steps=3 worker=10", "message=step step=0"),
        ("work steps=3 worker=10", "message=step step=1"),
        ("work steps=3 worker=10", "message=step step=2"),
        ("work steps=3 worker=10", "return=13"),
        ("checked steps=2", "message=checking"),
        ("checked steps=2", "message=checked"),
        ("traced_below x=4", "message=before"),
        ("traced_below x=4", "message=after"),
        ("traced_below x=5", "message=before"),
        ("traced_below x=5", "message=after"),
        ("traced_below x=5", "error=5 is odd"),
        ("traced_above x=1", "message=before"),
        ("traced_above x=1", "message=after"),
        // The receiver keeps its name, for the attribute too.
        ("count_on self=Tally(5)", "message=switching"),
    ];
    assert_eq!(events, expected);
    // The span is entered on every poll of the body, not once around the
    // building of the frame: `work` suspends three times (four polls).
    assert!(seen.enters["work"] >= 4, "{:?}", seen.enters);
    assert!(seen.enters["checked"] >= 2, "{:?}", seen.enters);
    assert!(seen.enters["traced_below"] >= 4, "{:?}", seen.enters);
    assert!(seen.enters["traced_above"] >= 2, "{:?}", seen.enters);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_methods_statically_and_through_dyn() {
    let keys = Arc::new(Keys(vec!["a/1".to_owned(), "b/2".to_owned(), "a/33".to_owned()]));
    let listing: Arc<dyn Listing> = keys.clone();
    let task = tokio::spawn(async move {
        let under_a: Vec<String> = listing.list("a/").collect().await;
        (under_a, listing.list_all().count().await, listing.count("b/").await)
    });
    assert_eq!(task.await.unwrap(), (vec!["a/1".to_owned(), "a/33".to_owned()], 3, 1));
    let longest: Vec<&str> = keys.by_length().collect().await;
    assert_eq!(longest, ["a/33", "a/1", "b/2"]);
    assert_eq!(no_keys().next().await, None);
    let words: Vec<&str> = assert_send(first_words("one two three", 2)).collect().await;
    assert_eq!(words, ["one", "two"]);
    assert_eq!(first_words("one", 0).count().await, 0);
    let names: Vec<u64> = lints::redundant_closure_in_a_stream(vec![1, 2]).collect().await;
    assert_eq!(names, [1, 2]);
    assert_eq!(lints::needless_return_in_a_stream(3).count().await, 3);
    assert_eq!(pool("Keys as flowcoro_shapes::Listing>::list").live, 0);
}
