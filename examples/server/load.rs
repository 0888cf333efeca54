//! The `server` example's serving and load: either stack of `stack.rs` on
//! hyper's HTTP/1.1 server over loopback, and the load generator that drives
//! it.
//!
//! [`measure`] starts a server of one variant, warms it up and drives a
//! fixed workload through it with [`Client`], counting the process's heap
//! allocations around the measured part.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::header::{AUTHORIZATION, HOST};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tower::{Service, ServiceExt};

use crate::stack::{Body, ELAPSED, LAYERS, Memory, REQUEST_ID, TOKEN, boxed, pooled};

/// The body of the load generator's requests: known in full.
type RequestBody = Full<Bytes>;

/// What the load generator and the server setup fail with.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

// ---------------------------------------------------------------------------
// Serving: hyper 1 over tokio, one task per connection.
// ---------------------------------------------------------------------------

/// Which of the two stacks a server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// [`boxed`]: boxed futures and `#[async_trait]`.
    Boxed,
    /// [`pooled`]: `pool!` blocks and `#[flowcoro::pooled]`.
    Pooled,
}

impl Variant {
    /// Both, in the order they are measured.
    pub(crate) const ALL: [Variant; 2] = [Variant::Boxed, Variant::Pooled];

    /// A short name for tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Variant::Boxed => "boxed",
            Variant::Pooled => "pooled",
        }
    }
}

/// A server listening on an ephemeral loopback port, serving one variant.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    accept: JoinHandle<()>,
}

impl Server {
    /// Binds 127.0.0.1:0 and starts accepting, on the current tokio runtime.
    /// The store starts empty.
    pub(crate) async fn start(variant: Variant) -> Result<Server, Error> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        // A fresh stack per connection, so that each has its own request-id
        // counter; the store is shared by all.
        let accept = match variant {
            Variant::Boxed => {
                let store: Arc<dyn boxed::Store> = Arc::new(Memory::default());
                tokio::spawn(accept(listener, stopped, move || boxed::stack(Arc::clone(&store))))
            }
            Variant::Pooled => {
                let store: Arc<dyn pooled::Store> = Arc::new(Memory::default());
                tokio::spawn(accept(listener, stopped, move || pooled::stack(Arc::clone(&store))))
            }
        };
        Ok(Server { addr, stop, accept })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends the connections still open and waits for it all.
    pub(crate) async fn shutdown(self) {
        // The accept task may be gone already (it panicked): nothing to stop.
        let _ = self.stop.send(());
        let _ = self.accept.await;
    }
}

/// Accepts connections until `stopped`, serving each in a task of its own
/// with a stack from `make`; then ends those still open.
async fn accept<S, M>(listener: TcpListener, mut stopped: oneshot::Receiver<()>, make: M)
where
    M: Fn() -> S,
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S: Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            // Reap finished connections as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve(stream, make()));
                }
                // Out of file descriptors or a connection reset before it was
                // accepted: wait a little, as servers do, and go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    connections.shutdown().await;
}

/// Serves one connection with hyper's HTTP/1.1 server.
async fn serve<S>(stream: TcpStream, stack: S)
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S: Clone + Send + 'static,
    S::Future: Send + 'static,
{
    // Request and response are each one write: no reason to wait for more.
    let _ = stream.set_nodelay(true);
    // hyper's `Service::call` takes `&self`, tower's `&mut self`: each request
    // drives a clone of the stack (a few reference-count bumps, no
    // allocation) with `oneshot`, which waits for readiness first.
    // (`hyper_util::service::TowerToHyperService` does the same, behind
    // hyper-util's `service` feature.)
    let service = hyper::service::service_fn(move |request| stack.clone().oneshot(request));
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    // A connection that fails (the client went away mid-request) ends here;
    // the others go on.
    let _ = connection.await;
}

// ---------------------------------------------------------------------------
// The load generator.
// ---------------------------------------------------------------------------

/// The kinds of request in a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `GET /items/{key}`.
    GetItem,
    /// `POST /items/{key}` with a value.
    PutItem,
    /// `GET /items?prefix={key}`: the items of a connection, streamed.
    ListItems,
    /// `GET /health`.
    Health,
    /// `GET /missing/{key}`: a route the handler does not know.
    NoRoute,
    /// `GET /items/{key}` without the token: the auth layer answers.
    NoToken,
}

impl Kind {
    /// Futures the boxed stack boxes for one request of this kind: one per
    /// layer, plus the handler's when the request gets past auth.
    pub(crate) const fn boxed_futures(self) -> u32 {
        match self {
            Kind::NoToken => LAYERS,
            _ => LAYERS + 1,
        }
    }

    /// `Store` calls one request of this kind makes: under `#[async_trait]`,
    /// each boxes its future.
    pub(crate) const fn store_calls(self) -> u32 {
        match self {
            Kind::GetItem | Kind::PutItem => 1,
            Kind::ListItems | Kind::Health | Kind::NoRoute | Kind::NoToken => 0,
        }
    }

    /// Streams the boxed stack boxes for one request of this kind: a
    /// listing's, from the store, and the response body's, which drains it.
    pub(crate) const fn boxed_streams(self) -> u32 {
        match self {
            Kind::ListItems => 2,
            _ => 0,
        }
    }
}

/// One request of a workload.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// What it asks for.
    pub(crate) kind: Kind,
    /// The item it is about (for every kind but `Health`), or the prefix of
    /// the items it lists (`ListItems`).
    pub(crate) key: String,
    /// The value it stores (`PutItem` only).
    pub(crate) value: String,
}

impl Call {
    /// The HTTP request for it.
    fn request(&self) -> Request<RequestBody> {
        let (method, path) = match self.kind {
            Kind::GetItem | Kind::NoToken => (Method::GET, format!("/items/{}", self.key)),
            Kind::PutItem => (Method::POST, format!("/items/{}", self.key)),
            Kind::ListItems => (Method::GET, format!("/items?prefix={}", self.key)),
            Kind::Health => (Method::GET, "/health".to_owned()),
            Kind::NoRoute => (Method::GET, format!("/missing/{}", self.key)),
        };
        let mut request = Request::builder().method(method).uri(path).header(HOST, "127.0.0.1");
        if self.kind != Kind::NoToken {
            request = request.header(AUTHORIZATION, TOKEN);
        }
        let body = Full::new(Bytes::from(self.value.clone()));
        request.body(body).expect("the load generator builds valid requests")
    }
}

/// What the requests of a workload ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mix {
    /// Every kind, in the shares of a store's traffic: 50% item reads, 25%
    /// item writes, 10% listings, 5% health checks, 5% unknown routes, 5%
    /// without a token.
    Store,
    /// Item writes and listings, half and half: each of the two streams a
    /// listing boxes then accounts for half a box per request, not the
    /// tenth of [`Mix::Store`].
    // Run by `tests/server.rs`, which includes this file, not by the example.
    #[allow(dead_code)]
    Listings,
}

/// Distinct keys each connection works on. Each key belongs to one
/// connection, whose requests go one after the other: what a request finds
/// in the store does not depend on how the connections interleave.
const KEYS_PER_CONNECTION: u64 = 16;

/// A fixed, deterministic list of requests, spread over the connections of a
/// [`Client`] round-robin: request `i` goes on connection `i % connections`,
/// where `i` counts from `first`, so that a second workload on the same
/// connections continues where the first stopped.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    /// The index of the first call, counted over every workload run on the
    /// same connections before it.
    pub(crate) first: usize,
    /// The connections it is spread over.
    pub(crate) connections: usize,
    /// The requests, in order.
    pub(crate) calls: Arc<[Call]>,
}

impl Workload {
    /// `requests` requests of the kinds `mix` asks for. The keys carry
    /// `label`, so two workloads with different labels touch different
    /// items; a listing's prefix is its connection's, so it lists the items
    /// of that connection alone.
    pub(crate) fn new(
        label: &str,
        mix: Mix,
        connections: usize,
        first: usize,
        requests: usize,
    ) -> Workload {
        assert!(connections > 0, "a workload needs a connection");
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64 ^ first as u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let calls = (first..first + requests)
            .map(|i| {
                let r = next();
                let kind = match (mix, (r >> 32) % 100) {
                    (Mix::Store, 0..50) => Kind::GetItem,
                    (Mix::Store, 50..75) => Kind::PutItem,
                    (Mix::Store, 75..85) => Kind::ListItems,
                    (Mix::Store, 85..90) => Kind::Health,
                    (Mix::Store, 90..95) => Kind::NoRoute,
                    (Mix::Store, _) => Kind::NoToken,
                    (Mix::Listings, 0..50) => Kind::PutItem,
                    (Mix::Listings, _) => Kind::ListItems,
                };
                let key = match kind {
                    Kind::ListItems => format!("{label}-{}-", i % connections),
                    _ => format!("{label}-{}-{}", i % connections, r % KEYS_PER_CONNECTION),
                };
                let value =
                    if kind == Kind::PutItem { format!("value-{i}") } else { String::new() };
                Call { kind, key, value }
            })
            .collect();
        Workload { first, connections, calls }
    }

    /// The id the server stamps on call `n` of this workload: the number of
    /// requests its connection has carried up to and including it.
    pub(crate) fn request_id(&self, n: usize) -> u64 {
        ((self.first + n) / self.connections + 1) as u64
    }

    /// The allocations per request, on average over this workload, that the
    /// pooled stack saves: the boxed stack's layer and handler boxes, its
    /// `#[async_trait]` boxes and its stream boxes, each served from a pool
    /// instead.
    pub(crate) fn replaced_boxes_per_request(&self) -> f64 {
        let (layers, calls, streams) = self.boxes_per_request();
        layers + calls + streams
    }

    /// The boxed stack's layer and handler boxes, its `#[async_trait]`
    /// calls and its boxed streams, per request on average over this
    /// workload.
    pub(crate) fn boxes_per_request(&self) -> (f64, f64, f64) {
        let n = self.calls.len().max(1) as f64;
        let per_request = |boxes: fn(Kind) -> u32| {
            f64::from(self.calls.iter().map(|c| boxes(c.kind)).sum::<u32>()) / n
        };
        (
            per_request(Kind::boxed_futures),
            per_request(Kind::store_calls),
            per_request(Kind::boxed_streams),
        )
    }

    /// The calls connection `lane` carries, in order.
    fn lane(&self, lane: usize) -> impl Iterator<Item = &Call> {
        let start = (lane + self.connections - self.first % self.connections) % self.connections;
        self.calls.iter().skip(start).step_by(self.connections)
    }
}

/// A response as the load generator saw it: what must be the same for both
/// variants. The value of `x-elapsed-us` differs from run to run and is left
/// out; only its presence is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The status code.
    pub(crate) status: StatusCode,
    /// The `x-request-id` header.
    pub(crate) request_id: Option<String>,
    /// Whether the `x-elapsed-us` header was there.
    pub(crate) timed: bool,
    /// The body.
    pub(crate) body: Bytes,
}

/// What a run of a workload saw.
#[derive(Debug)]
pub(crate) struct LoadReport {
    /// Requests sent (and answered).
    pub(crate) requests: usize,
    /// From the first request sent to the last response read.
    pub(crate) elapsed: Duration,
    /// Each request's latency, from sending it to reading its whole response,
    /// sorted.
    pub(crate) latencies: Vec<Duration>,
    /// The responses, in the workload's order.
    pub(crate) responses: Vec<Outcome>,
}

impl LoadReport {
    /// Requests per second.
    pub(crate) fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency below which a fraction `q` of the requests were answered.
    pub(crate) fn percentile(&self, q: f64) -> Duration {
        percentile(&self.latencies, q)
    }
}

/// The `q` quantile of sorted `latencies` (nearest rank).
pub(crate) fn percentile(latencies: &[Duration], q: f64) -> Duration {
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((latencies.len() - 1) as f64 * q).round() as usize;
    latencies[rank.min(latencies.len() - 1)]
}

/// What one connection saw: each of its requests' latency and response, in
/// the order it sent them.
#[derive(Debug, Default)]
struct Lane {
    latencies: Vec<Duration>,
    outcomes: Vec<Outcome>,
}

/// Keep-alive HTTP/1.1 connections to a server, each driven by a task of
/// its own.
#[derive(Debug)]
pub(crate) struct Client {
    senders: Vec<SendRequest<RequestBody>>,
    drivers: Vec<JoinHandle<()>>,
}

impl Client {
    /// Opens `connections` connections to `addr`.
    pub(crate) async fn connect(addr: SocketAddr, connections: usize) -> Result<Client, Error> {
        let mut client = Client { senders: Vec::new(), drivers: Vec::new() };
        for _ in 0..connections {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake with {addr}: {e}"))?;
            client.drivers.push(tokio::spawn(async move {
                // It ends when the client drops its sender, or with an error
                // that the request in flight reports too.
                let _ = connection.await;
            }));
            client.senders.push(sender);
        }
        Ok(client)
    }

    /// Sends every request of `workload`, one after the other on each
    /// connection, all connections at once; `progress` counts the requests
    /// answered. Returns once every response is read.
    pub(crate) async fn run(
        &mut self,
        workload: &Workload,
        progress: &Arc<AtomicUsize>,
    ) -> Result<LoadReport, Error> {
        assert_eq!(workload.connections, self.senders.len(), "one lane per connection");
        let started = Instant::now();
        let tasks: Vec<_> = std::mem::take(&mut self.senders)
            .into_iter()
            .enumerate()
            .map(|(lane, sender)| {
                let (workload, progress) = (workload.clone(), Arc::clone(progress));
                tokio::spawn(async move { drive(sender, &workload, lane, &progress).await })
            })
            .collect();
        let mut latencies = Vec::with_capacity(workload.calls.len());
        let mut lanes = Vec::with_capacity(tasks.len());
        for task in tasks {
            let (sender, lane) = task.await??;
            self.senders.push(sender);
            latencies.extend_from_slice(&lane.latencies);
            lanes.push(lane.outcomes.into_iter());
        }
        let elapsed = started.elapsed();
        latencies.sort_unstable();
        // Back in the workload's order: call `n` went on connection
        // `(first + n) % connections`, after the earlier calls of that lane.
        let responses = (0..workload.calls.len())
            .map(|n| lanes[(workload.first + n) % workload.connections].next())
            .collect::<Option<Vec<Outcome>>>()
            .ok_or("a connection answered fewer requests than it was sent")?;
        Ok(LoadReport { requests: workload.calls.len(), elapsed, latencies, responses })
    }

    /// Closes the connections and waits for their tasks to end.
    pub(crate) async fn close(self) {
        drop(self.senders);
        for driver in self.drivers {
            let _ = driver.await;
        }
    }
}

/// Sends the requests of connection `lane` on it, each after the previous
/// response is read in full.
async fn drive(
    mut sender: SendRequest<RequestBody>,
    workload: &Workload,
    lane: usize,
    progress: &AtomicUsize,
) -> Result<(SendRequest<RequestBody>, Lane), Error> {
    let share = workload.calls.len() / workload.connections + 1;
    let mut seen =
        Lane { latencies: Vec::with_capacity(share), outcomes: Vec::with_capacity(share) };
    for call in workload.lane(lane) {
        // Built here, as a client does: the same work for both variants.
        let request = call.request();
        let sent = Instant::now();
        sender.ready().await?;
        let (parts, body) = sender.send_request(request).await?.into_parts();
        let body = body.collect().await?.to_bytes();
        let latency = sent.elapsed();
        // The body and the header values are slices of the connection's read
        // buffer: copies keep what is checked without keeping the buffer,
        // which the connection then reuses.
        let request_id = parts.headers.get(REQUEST_ID);
        let outcome = Outcome {
            status: parts.status,
            request_id: request_id.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            timed: parts.headers.contains_key(ELAPSED),
            body: Bytes::copy_from_slice(&body),
        };
        seen.latencies.push(latency);
        seen.outcomes.push(outcome);
        progress.fetch_add(1, Ordering::Relaxed);
    }
    Ok((sender, seen))
}

// ---------------------------------------------------------------------------
// A measurement: a server, a warm-up, a measured run.
// ---------------------------------------------------------------------------

/// Heap allocations so far, as a counting global allocator reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Allocs {
    /// Allocations made.
    pub(crate) count: u64,
    /// Bytes they asked for.
    pub(crate) bytes: u64,
}

/// How much load a measurement puts on a server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// Keep-alive connections, each carrying its share of the requests.
    pub(crate) connections: usize,
    /// Requests sent first and not measured: they fill the pools, the
    /// allocator's caches and the connections' buffers.
    pub(crate) warmup: usize,
    /// Requests measured.
    pub(crate) requests: usize,
    /// What the requests ask for, warm-up included.
    pub(crate) mix: Mix,
}

/// What one variant did under a [`Plan`].
#[derive(Debug)]
pub(crate) struct Measurement {
    /// The variant measured.
    pub(crate) variant: Variant,
    /// The measured workload (the same for every variant).
    pub(crate) workload: Workload,
    /// What the load generator saw of it.
    pub(crate) report: LoadReport,
    /// Heap allocations during it, in the whole process: the server's and the
    /// load generator's.
    pub(crate) allocs: Allocs,
}

impl Measurement {
    /// Heap allocations per measured request.
    pub(crate) fn allocs_per_request(&self) -> f64 {
        self.allocs.count as f64 / self.report.requests as f64
    }

    /// Heap bytes allocated per measured request.
    pub(crate) fn bytes_per_request(&self) -> f64 {
        self.allocs.bytes as f64 / self.report.requests as f64
    }
}

/// Starts a server of `variant`, sends it `plan.warmup` requests, then
/// measures `plan.requests` more on the same connections, reading the
/// allocation counters with `allocs` just before and just after; then shuts
/// it all down. `progress` counts the requests answered, warm-up included.
pub(crate) async fn measure(
    variant: Variant,
    plan: &Plan,
    allocs: fn() -> Allocs,
    progress: &Arc<AtomicUsize>,
) -> Result<Measurement, Error> {
    let server = Server::start(variant).await?;
    let mut client = Client::connect(server.addr(), plan.connections).await?;
    let warmup = Workload::new("warm", plan.mix, plan.connections, 0, plan.warmup);
    client.run(&warmup, progress).await?;
    let workload = Workload::new("item", plan.mix, plan.connections, plan.warmup, plan.requests);
    let before = allocs();
    let report = client.run(&workload, progress).await?;
    let after = allocs();
    client.close().await;
    server.shutdown().await;
    let allocs = Allocs { count: after.count - before.count, bytes: after.bytes - before.bytes };
    Ok(Measurement { variant, workload, report, allocs })
}
