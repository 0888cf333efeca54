//! The service of the `server` example, written twice.
//!
//! The service is a small key-value store over HTTP/1.1:
//!
//! - `GET /items/{key}`: the item's value (200) or 404;
//! - `POST /items/{key}`: stores the body as the item's value (201 created,
//!   200 replaced);
//! - `GET /items?prefix={prefix}`: the items whose key starts with the
//!   prefix, in key order, one line each, then their count (200); the body
//!   streams, a chunk per item, as the store's listing yields them;
//! - `GET /health`: 200;
//! - anything else: 404.
//!
//! Three `tower` layers stand in front of the handler, outermost first: a
//! timing layer that stamps `x-elapsed-us` on the response, a request-id layer
//! that stamps `x-request-id` on the request and the response, and an auth
//! layer that answers 401 to a request without the bearer token. The handler
//! reads, writes and lists items through an `Arc<dyn Store>`.
//!
//! [`boxed`] writes this the way the ecosystem does today: every layer's
//! future is a `Pin<Box<dyn Future + Send>>`, the handler's future is boxed as
//! well, and `Store` is an `#[async_trait]` trait, which boxes the future of
//! every call; its `list` returns a `BoxStream`, as storage traits' listings
//! do, and a listing's response body is a `StreamBody` over another
//! `BoxStream`, which owns the store's handle and drains the listing.
//! [`pooled`] is the same code with flowcoro: each layer's future is a
//! `pool!` block erased into a `PooledDyn`, `Store` is a `#[flowcoro::pooled]`
//! trait whose `list` returns a `PooledStream`, and the body's stream is built
//! by `pool!` and erased into a `PooledStream`. Everything else (routing, the
//! store's data, the responses and their chunks) is the plain functions of
//! this module, shared by both, so both answer byte for byte the same.
//!
//! `load.rs` serves either stack over loopback and drives it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use flowcoro::PooledStream;
use futures::stream::BoxStream;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming, SizeHint};

/// A chunk of a streamed body, as hyper's `StreamBody` takes it.
pub(crate) type Chunk = Result<Frame<Bytes>, Infallible>;

/// The body of every response: whole, or streamed chunk by chunk from a
/// stream erased the way each stack erases it. One type for both stacks, so
/// that the layers, hyper's server and the load generator are the same code
/// for both; each stack streams only its own kind.
pub(crate) enum Body {
    /// A body known in full: the item routes and the errors.
    Whole(Full<Bytes>),
    /// A listing of [`boxed`]: its chunks from a `BoxStream`.
    Boxed(StreamBody<BoxStream<'static, Chunk>>),
    /// A listing of [`pooled`]: its chunks from a `PooledStream`.
    Pooled(StreamBody<PooledStream<'static, Chunk>>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        // Each kind is `Unpin`: a full body, and streams behind a pointer.
        match self.get_mut() {
            Body::Whole(body) => Pin::new(body).poll_frame(cx),
            Body::Boxed(body) => Pin::new(body).poll_frame(cx),
            Body::Pooled(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Whole(body) => body.is_end_stream(),
            Body::Boxed(body) => body.is_end_stream(),
            Body::Pooled(body) => body.is_end_stream(),
        }
    }

    // A whole body's exact size gives its response a `content-length`; a
    // stream's unknown one, chunked transfer encoding.
    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Whole(body) => body.size_hint(),
            Body::Boxed(body) => body.size_hint(),
            Body::Pooled(body) => body.size_hint(),
        }
    }
}

/// The `authorization` header a request needs to get past the auth layer.
pub(crate) const TOKEN: &str = "Bearer flowcoro-example-token";

/// The header the request-id layer stamps on the request and the response.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// The header the timing layer stamps on the response. Its value differs from
/// run to run, so it never goes into a body and responses are compared
/// without it.
pub(crate) const ELAPSED: &str = "x-elapsed-us";

/// Layers in front of the handler (timing, request id, auth): in the boxed
/// stack, each boxes the future of every request that reaches it.
pub(crate) const LAYERS: u32 = 3;

// ---------------------------------------------------------------------------
// The business logic: plain functions, shared by both variants.
// ---------------------------------------------------------------------------

/// The items, in memory. Both variants' `Store` traits are implemented for
/// it, on top of [`Memory::lookup`], [`Memory::insert`] and
/// [`Memory::entries`].
#[derive(Debug, Default)]
pub(crate) struct Memory {
    items: RwLock<HashMap<String, String>>,
}

impl Memory {
    /// The value stored under `key`.
    fn lookup(&self, key: &str) -> Option<String> {
        self.items.read().expect("the store's lock is poisoned").get(key).cloned()
    }

    /// Stores `value` under `key`; returns the value it replaces.
    fn insert(&self, key: &str, value: String) -> Option<String> {
        self.items.write().expect("the store's lock is poisoned").insert(key.to_owned(), value)
    }

    /// The items whose key starts with `prefix`, in key order: a snapshot,
    /// so that no lock is held while a listing is drained.
    fn entries(&self, prefix: &str) -> Vec<(String, String)> {
        let items = self.items.read().expect("the store's lock is poisoned");
        let mut entries: Vec<(String, String)> = items
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        entries.sort_unstable();
        entries
    }
}

/// A store answers asynchronously: this wait stands in for its round trip,
/// so that every store call really suspends.
async fn store_round_trip() {
    tokio::task::yield_now().await;
}

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    GetItem(&'a str),
    PutItem(&'a str),
    /// The prefix of the keys to list.
    ListItems(&'a str),
    Health,
    NotFound,
}

fn route<'a>(method: &Method, uri: &'a Uri) -> Route<'a> {
    let path = uri.path();
    if path == "/health" && method == Method::GET {
        return Route::Health;
    }
    if path == "/items" && method == Method::GET {
        let query = uri.query().unwrap_or_default();
        let prefix = query.split('&').find_map(|pair| pair.strip_prefix("prefix="));
        return Route::ListItems(prefix.unwrap_or_default());
    }
    match path.strip_prefix("/items/") {
        Some(key) if !key.is_empty() && !key.contains('/') => {
            if method == Method::GET {
                Route::GetItem(key)
            } else if method == Method::POST {
                Route::PutItem(key)
            } else {
                Route::NotFound
            }
        }
        _ => Route::NotFound,
    }
}

/// The id of the next request on a connection: a per-connection sequence
/// number from 1, so that the ids do not depend on the order in which the
/// connections were accepted or on how their requests interleave.
fn next_request_id(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

fn stamp_request_id(headers: &mut HeaderMap, id: u64) {
    headers.insert(REQUEST_ID, HeaderValue::from(id));
}

/// The id the request-id layer stamped on a request (0 if none).
fn request_id(headers: &HeaderMap) -> u64 {
    let value = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok());
    value.and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn is_authorized(headers: &HeaderMap) -> bool {
    headers.get(AUTHORIZATION).is_some_and(|v| v.as_bytes() == TOKEN.as_bytes())
}

fn stamp_elapsed(headers: &mut HeaderMap, started: Instant) {
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    headers.insert(ELAPSED, HeaderValue::from(micros));
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Whole(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn unauthorized() -> Response<Body> {
    let mut response = text(StatusCode::UNAUTHORIZED, "a bearer token is required\n".to_owned());
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn item_found(id: u64, key: &str, value: &str) -> Response<Body> {
    text(StatusCode::OK, format!("{key} = {value}\nrequest {id}\n"))
}

fn item_missing(id: u64, key: &str) -> Response<Body> {
    text(StatusCode::NOT_FOUND, format!("no item {key}\nrequest {id}\n"))
}

fn item_stored(id: u64, key: &str, previous: Option<String>) -> Response<Body> {
    match previous {
        None => text(StatusCode::CREATED, format!("created {key}\nrequest {id}\n")),
        Some(old) => text(StatusCode::OK, format!("replaced {key} (was {old})\nrequest {id}\n")),
    }
}

fn bad_body(id: u64) -> Response<Body> {
    text(StatusCode::BAD_REQUEST, format!("the body must be UTF-8 text\nrequest {id}\n"))
}

fn healthy(id: u64) -> Response<Body> {
    text(StatusCode::OK, format!("ok\nrequest {id}\n"))
}

fn no_route(id: u64, method: &Method, path: &str) -> Response<Body> {
    text(StatusCode::NOT_FOUND, format!("no route for {method} {path}\nrequest {id}\n"))
}

/// A listing's response, around its streamed body.
fn listing(body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// The chunk of a listing for one item: a line of its own.
fn entry_chunk(key: &str, value: &str) -> Chunk {
    Ok(Frame::data(Bytes::from(format!("{key} = {value}\n"))))
}

/// The last chunk of a listing: how many items it listed.
fn listing_end(id: u64, count: usize) -> Chunk {
    Ok(Frame::data(Bytes::from(format!("{count} items\nrequest {id}\n"))))
}

/// Reads a request body as text. Awaited in place by the handlers of both
/// variants, so its state machine is part of theirs: no allocation of its
/// own, and nothing for a pool to do.
async fn read_text(body: Incoming) -> Option<String> {
    let bytes = body.collect().await.ok()?.to_bytes();
    String::from_utf8(bytes.into()).ok()
}

// ---------------------------------------------------------------------------
// The stack as the ecosystem writes it: boxed futures and `#[async_trait]`.
// ---------------------------------------------------------------------------

/// The service with `Pin<Box<dyn Future + Send>>` futures, an
/// `#[async_trait]` store and `BoxStream` listings.
pub(crate) mod boxed {
    use std::convert::Infallible;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;
    use std::task::{Context, Poll};
    use std::time::Instant;

    use futures::stream::{BoxStream, StreamExt};
    use http::{Request, Response};
    use http_body_util::StreamBody;
    use hyper::body::Incoming;
    use tower::{Layer, Service, ServiceBuilder};

    use super::{Body, Memory, Route};

    /// A boxed, type-erased future, as `futures::future::BoxFuture` spells it.
    pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

    /// The items, behind a trait object; every call's future is boxed, and
    /// so is every listing's stream.
    #[async_trait::async_trait]
    pub(crate) trait Store: Send + Sync {
        /// The value stored under `key`.
        async fn get(&self, key: &str) -> Option<String>;
        /// Stores `value` under `key`; returns the value it replaces.
        async fn put(&self, key: &str, value: String) -> Option<String>;
        /// The items whose key starts with `prefix`, as `(key, value)`, in
        /// key order.
        fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, (String, String)>;
    }

    #[async_trait::async_trait]
    impl Store for Memory {
        async fn get(&self, key: &str) -> Option<String> {
            super::store_round_trip().await;
            self.lookup(key)
        }

        async fn put(&self, key: &str, value: String) -> Option<String> {
            super::store_round_trip().await;
            self.insert(key, value)
        }

        fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, (String, String)> {
            async_stream::stream! {
                super::store_round_trip().await;
                for entry in self.entries(prefix) {
                    yield entry;
                }
            }
            .boxed()
        }
    }

    /// The whole stack for one connection, outermost layer first.
    pub(crate) fn stack(store: Arc<dyn Store>) -> Timing<RequestId<Auth<App>>> {
        ServiceBuilder::new()
            .layer(TimingLayer)
            .layer(RequestIdLayer::default())
            .layer(AuthLayer)
            .service(App { store })
    }

    /// Stamps `x-elapsed-us` on each response.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct TimingLayer;

    impl<S> Layer<S> for TimingLayer {
        type Service = Timing<S>;

        fn layer(&self, inner: S) -> Timing<S> {
            Timing { inner }
        }
    }

    /// The service [`TimingLayer`] makes.
    #[derive(Clone, Debug)]
    pub(crate) struct Timing<S> {
        inner: S,
    }

    impl<S, B> Service<Request<B>> for Timing<S>
    where
        S: Service<Request<B>, Response = Response<Body>>,
        S::Future: Send + 'static,
    {
        type Response = Response<Body>;
        type Error = S::Error;
        type Future = BoxFuture<Result<Response<Body>, S::Error>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: Request<B>) -> Self::Future {
            let started = Instant::now();
            let response = self.inner.call(request);
            Box::pin(async move {
                let mut response = response.await?;
                super::stamp_elapsed(response.headers_mut(), started);
                Ok(response)
            })
        }
    }

    /// Stamps a request id on each request and its response.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct RequestIdLayer {
        counter: Arc<AtomicU64>,
    }

    impl<S> Layer<S> for RequestIdLayer {
        type Service = RequestId<S>;

        fn layer(&self, inner: S) -> RequestId<S> {
            RequestId { inner, counter: Arc::clone(&self.counter) }
        }
    }

    /// The service [`RequestIdLayer`] makes.
    #[derive(Clone, Debug)]
    pub(crate) struct RequestId<S> {
        inner: S,
        counter: Arc<AtomicU64>,
    }

    impl<S, B> Service<Request<B>> for RequestId<S>
    where
        S: Service<Request<B>, Response = Response<Body>>,
        S::Future: Send + 'static,
    {
        type Response = Response<Body>;
        type Error = S::Error;
        type Future = BoxFuture<Result<Response<Body>, S::Error>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, mut request: Request<B>) -> Self::Future {
            let id = super::next_request_id(&self.counter);
            super::stamp_request_id(request.headers_mut(), id);
            let response = self.inner.call(request);
            Box::pin(async move {
                let mut response = response.await?;
                super::stamp_request_id(response.headers_mut(), id);
                Ok(response)
            })
        }
    }

    /// Answers 401 to a request without the bearer token.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct AuthLayer;

    impl<S> Layer<S> for AuthLayer {
        type Service = Auth<S>;

        fn layer(&self, inner: S) -> Auth<S> {
            Auth { inner }
        }
    }

    /// The service [`AuthLayer`] makes.
    #[derive(Clone, Debug)]
    pub(crate) struct Auth<S> {
        inner: S,
    }

    impl<S, B> Service<Request<B>> for Auth<S>
    where
        S: Service<Request<B>, Response = Response<Body>>,
        S::Future: Send + 'static,
    {
        type Response = Response<Body>;
        type Error = S::Error;
        type Future = BoxFuture<Result<Response<Body>, S::Error>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: Request<B>) -> Self::Future {
            let inner = super::is_authorized(request.headers()).then(|| self.inner.call(request));
            Box::pin(async move {
                match inner {
                    Some(response) => response.await,
                    None => Ok(super::unauthorized()),
                }
            })
        }
    }

    /// The handler, as a service.
    #[derive(Clone)]
    pub(crate) struct App {
        store: Arc<dyn Store>,
    }

    impl Service<Request<Incoming>> for App {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = BoxFuture<Result<Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<Incoming>) -> Self::Future {
            Box::pin(handle(Arc::clone(&self.store), request))
        }
    }

    async fn handle(
        store: Arc<dyn Store>,
        request: Request<Incoming>,
    ) -> Result<Response<Body>, Infallible> {
        let (parts, body) = request.into_parts();
        let id = super::request_id(&parts.headers);
        Ok(match super::route(&parts.method, &parts.uri) {
            Route::GetItem(key) => get_item(&*store, id, key).await,
            Route::PutItem(key) => put_item(&*store, id, key, body).await,
            Route::ListItems(prefix) => list_items(store, id, prefix),
            Route::Health => super::healthy(id),
            Route::NotFound => super::no_route(id, &parts.method, parts.uri.path()),
        })
    }

    async fn get_item(store: &dyn Store, id: u64, key: &str) -> Response<Body> {
        match store.get(key).await {
            Some(value) => super::item_found(id, key, &value),
            None => super::item_missing(id, key),
        }
    }

    async fn put_item(store: &dyn Store, id: u64, key: &str, body: Incoming) -> Response<Body> {
        match super::read_text(body).await {
            Some(value) => super::item_stored(id, key, store.put(key, value).await),
            None => super::bad_body(id),
        }
    }

    /// A listing, streamed: the body outlives the handler, so its stream
    /// owns the store's handle and the prefix, and drains the store's
    /// listing, which borrows them, a chunk per item as hyper writes them.
    fn list_items(store: Arc<dyn Store>, id: u64, prefix: &str) -> Response<Body> {
        let prefix = prefix.to_owned();
        let chunks = async_stream::stream! {
            let mut entries = store.list(&prefix);
            let mut count = 0;
            while let Some((key, value)) = entries.next().await {
                count += 1;
                yield super::entry_chunk(&key, &value);
            }
            yield super::listing_end(id, count);
        };
        super::listing(Body::Boxed(StreamBody::new(chunks.boxed())))
    }
}

// ---------------------------------------------------------------------------
// The same stack with flowcoro: pooled blocks and a `#[pooled]` trait.
// ---------------------------------------------------------------------------

/// The service with `PooledDyn` futures, a `#[flowcoro::pooled]` store and
/// `PooledStream` listings: [`boxed`] with the boxes taken out, line for
/// line.
pub(crate) mod pooled {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;
    use std::task::{Context, Poll};
    use std::time::Instant;

    use flowcoro::PooledDyn;
    use futures::stream::{Stream, StreamExt};
    use http::{Request, Response};
    use http_body_util::StreamBody;
    use hyper::body::Incoming;
    use tower::{Layer, Service, ServiceBuilder};

    use super::{Body, Memory, Route};

    /// The items, behind a trait object; every call's future, and every
    /// listing's stream, lives in a frame of its impl method's pool.
    #[flowcoro::pooled]
    pub(crate) trait Store: Send + Sync {
        /// The value stored under `key`.
        async fn get(&self, key: &str) -> Option<String>;
        /// Stores `value` under `key`; returns the value it replaces.
        async fn put(&self, key: &str, value: String) -> Option<String>;
        /// The items whose key starts with `prefix`, as `(key, value)`, in
        /// key order: a `PooledStream` where the boxed trait has a
        /// `BoxStream`.
        fn list(&self, prefix: &str) -> impl Stream<Item = (String, String)> + Send;
    }

    #[flowcoro::pooled]
    impl Store for Memory {
        #[flowcoro::pooled(name = "server: Store::get")]
        async fn get(&self, key: &str) -> Option<String> {
            super::store_round_trip().await;
            self.lookup(key)
        }

        #[flowcoro::pooled(name = "server: Store::put")]
        async fn put(&self, key: &str, value: String) -> Option<String> {
            super::store_round_trip().await;
            self.insert(key, value)
        }

        #[flowcoro::pooled(name = "server: Store::list")]
        fn list(&self, prefix: &str) -> impl Stream<Item = (String, String)> + Send {
            async_stream::stream! {
                super::store_round_trip().await;
                for entry in self.entries(prefix) {
                    yield entry;
                }
            }
        }
    }

    /// The whole stack for one connection, outermost layer first.
    pub(crate) fn stack(store: Arc<dyn Store>) -> Timing<RequestId<Auth<App>>> {
        ServiceBuilder::new()
            .layer(TimingLayer)
            .layer(RequestIdLayer::default())
            .layer(AuthLayer)
            .service(App { store })
    }

    /// Stamps `x-elapsed-us` on each response.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct TimingLayer;

    impl<S> Layer<S> for TimingLayer {
        type Service = Timing<S>;

        fn layer(&self, inner: S) -> Timing<S> {
            Timing { inner }
        }
    }

    /// The service [`TimingLayer`] makes.
    #[derive(Clone, Debug)]
    pub(crate) struct Timing<S> {
        inner: S,
    }

    impl<S, B> Service<Request<B>> for Timing<S>
    where
        S: Service<Request<B>, Response = Response<Body>>,
        S::Future: Send + 'static,
    {
        type Response = Response<Body>;
        type Error = S::Error;
        type Future = PooledDyn<'static, Result<Response<Body>, S::Error>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: Request<B>) -> Self::Future {
            let started = Instant::now();
            let response = self.inner.call(request);
            flowcoro::pool!(name = "server: timing layer"; async move {
                let mut response = response.await?;
                super::stamp_elapsed(response.headers_mut(), started);
                Ok(response)
            })
            .into_dyn()
        }
    }

    /// Stamps a request id on each request and its response.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct RequestIdLayer {
        counter: Arc<AtomicU64>,
    }

    impl<S> Layer<S> for RequestIdLayer {
        type Service = RequestId<S>;

        fn layer(&self, inner: S) -> RequestId<S> {
            RequestId { inner, counter: Arc::clone(&self.counter) }
        }
    }

    /// The service [`RequestIdLayer`] makes.
    #[derive(Clone, Debug)]
    pub(crate) struct RequestId<S> {
        inner: S,
        counter: Arc<AtomicU64>,
    }

    impl<S, B> Service<Request<B>> for RequestId<S>
    where
        S: Service<Request<B>, Response = Response<Body>>,
        S::Future: Send + 'static,
    {
        type Response = Response<Body>;
        type Error = S::Error;
        type Future = PooledDyn<'static, Result<Response<Body>, S::Error>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, mut request: Request<B>) -> Self::Future {
            let id = super::next_request_id(&self.counter);
            super::stamp_request_id(request.headers_mut(), id);
            let response = self.inner.call(request);
            flowcoro::pool!(name = "server: request-id layer"; async move {
                let mut response = response.await?;
                super::stamp_request_id(response.headers_mut(), id);
                Ok(response)
            })
            .into_dyn()
        }
    }

    /// Answers 401 to a request without the bearer token.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct AuthLayer;

    impl<S> Layer<S> for AuthLayer {
        type Service = Auth<S>;

        fn layer(&self, inner: S) -> Auth<S> {
            Auth { inner }
        }
    }

    /// The service [`AuthLayer`] makes.
    #[derive(Clone, Debug)]
    pub(crate) struct Auth<S> {
        inner: S,
    }

    impl<S, B> Service<Request<B>> for Auth<S>
    where
        S: Service<Request<B>, Response = Response<Body>>,
        S::Future: Send + 'static,
    {
        type Response = Response<Body>;
        type Error = S::Error;
        type Future = PooledDyn<'static, Result<Response<Body>, S::Error>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: Request<B>) -> Self::Future {
            let inner = super::is_authorized(request.headers()).then(|| self.inner.call(request));
            flowcoro::pool!(name = "server: auth layer"; async move {
                match inner {
                    Some(response) => response.await,
                    None => Ok(super::unauthorized()),
                }
            })
            .into_dyn()
        }
    }

    /// The handler, as a service.
    #[derive(Clone)]
    pub(crate) struct App {
        store: Arc<dyn Store>,
    }

    impl Service<Request<Incoming>> for App {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = PooledDyn<'static, Result<Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<Incoming>) -> Self::Future {
            handle(Arc::clone(&self.store), request).into_dyn()
        }
    }

    /// `#[pooled]` because its future is erased into the service's future,
    /// which outlives this call: it is where the boxed stack's handler box
    /// was.
    #[flowcoro::pooled(name = "server: handle")]
    async fn handle(
        store: Arc<dyn Store>,
        request: Request<Incoming>,
    ) -> Result<Response<Body>, Infallible> {
        let (parts, body) = request.into_parts();
        let id = super::request_id(&parts.headers);
        Ok(match super::route(&parts.method, &parts.uri) {
            Route::GetItem(key) => get_item(&*store, id, key).await,
            Route::PutItem(key) => put_item(&*store, id, key, body).await,
            Route::ListItems(prefix) => list_items(store, id, prefix),
            Route::Health => super::healthy(id),
            Route::NotFound => super::no_route(id, &parts.method, parts.uri.path()),
        })
    }

    // `get_item` and `put_item` stay plain `async fn`s: `handle` awaits them
    // in place, so their state machines are nested in its frame and cost no
    // allocation either way. Pooling them would only add a frame each.
    // `list_items` is a plain fn in both stacks, called and done at once:
    // what outlives it is the body's stream, so that is what the boxed
    // stack boxes and what `pool!` takes here.

    async fn get_item(store: &dyn Store, id: u64, key: &str) -> Response<Body> {
        match store.get(key).await {
            Some(value) => super::item_found(id, key, &value),
            None => super::item_missing(id, key),
        }
    }

    async fn put_item(store: &dyn Store, id: u64, key: &str, body: Incoming) -> Response<Body> {
        match super::read_text(body).await {
            Some(value) => super::item_stored(id, key, store.put(key, value).await),
            None => super::bad_body(id),
        }
    }

    /// A listing, streamed: the body outlives the handler, so its stream
    /// owns the store's handle and the prefix, and drains the store's
    /// listing, which borrows them, a chunk per item as hyper writes them.
    fn list_items(store: Arc<dyn Store>, id: u64, prefix: &str) -> Response<Body> {
        let prefix = prefix.to_owned();
        let chunks = flowcoro::pool!(name = "server: listing body"; async_stream::stream! {
            let mut entries = store.list(&prefix);
            let mut count = 0;
            while let Some((key, value)) = entries.next().await {
                count += 1;
                yield super::entry_chunk(&key, &value);
            }
            yield super::listing_end(id, count);
        });
        super::listing(Body::Pooled(StreamBody::new(chunks.into_dyn_stream())))
    }
}
