//! A tour of flowcoro: one request-serving workload, written once and run
//! three ways on tokio's multi-threaded runtime.
//!
//! ```text
//! cargo run --release --example tour
//! ```
//!
//! The workload is a toy HTTP-like service. Each request is read from its
//! "socket" into a 2 KiB buffer, parsed, routed, and answered through a few
//! layers of `async fn`s:
//!
//! - `/user/ID`: a user lookup that, on a cache miss, reads two rows from a
//!   "database", each holding a 4 KiB page across its I/O wait;
//! - `/feed/ID?len=N`: a user lookup, then N more rows;
//! - `/batch/A,B,C`: user lookups spawned as tasks of their own, then joined;
//! - `/eval`: an arithmetic expression, evaluated by a recursive `async fn`
//!   whose variables are looked up asynchronously.
//!
//! The response is formatted into a 4 KiB buffer and "flushed". Every I/O wait
//! is a `tokio::task::yield_now()`, so futures really suspend, and a suspended
//! task may resume on the other worker thread: frames are allocated on one
//! thread and freed on another, as in any work-stealing server.
//!
//! The `service!` macro below stamps the service out three times:
//!
//! - `plain`: ordinary `async fn`s, awaited directly. Each callee's state
//!   machine is nested in its caller's, so a task is one allocation as large as
//!   its deepest call path. The recursive evaluator needs `Box::pin`, as
//!   recursion always does.
//! - `boxed`: every call is `Box::pin`ned, as code built on boxed futures
//!   (`BoxFuture` APIs, trait objects) does: one heap allocation per call.
//! - `pooled`: every `async fn` is `#[flowcoro::pooled]`. Each call's frame
//!   comes from its function's pool, a per-thread cache hit in steady state;
//!   recursion needs no `Box`, and a spawned task holds a two-word handle.
//!
//! All three serve the same requests and must produce the same responses
//! (checked by a checksum). The tour prints the time per request and per
//! call of each, then `flowcoro::report()`: the pools the `pooled` variant
//! used, with their hit ratios and the memory they hold.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Concurrent connections: each is a task serving its share of the requests.
const CONNECTIONS: usize = 64;
/// Requests served by each variant per round.
const REQUESTS: usize = 50_000;
/// Timed rounds; the variants take turns in each, and each keeps its best.
const ROUNDS: usize = 5;

// ---------------------------------------------------------------------------
// The service, written once.
// ---------------------------------------------------------------------------

/// `direct!(f(x))` is the call as written.
macro_rules! direct {
    ($call:expr) => {
        $call
    };
}

/// `boxed!(f(x))` puts the call's future in a `Box` first.
macro_rules! boxed {
    ($call:expr) => {
        Box::pin($call)
    };
}

/// Writes the service's `async fn`s in module `$name`, each with the
/// attributes given, making each call with `$call!(...)` and each recursive
/// call with `$recurse!(...)`.
macro_rules! service {
    (
        $(#[$attr:meta])*
        mod $name:ident { call: $call:ident, recurse: $recurse:ident }
    ) => {
        mod $name {
            use super::*;

            /// Serves `requests` over [`CONNECTIONS`] concurrent tasks and
            /// returns the checksum of every response.
            pub(crate) async fn serve(requests: Arc<[String]>) -> u64 {
                let share = requests.len().div_ceil(CONNECTIONS);
                let connections: Vec<_> = (0..CONNECTIONS)
                    .map(|c| {
                        let requests = Arc::clone(&requests);
                        tokio::spawn(async move {
                            let mut sum = 0u64;
                            let mine = requests.iter().enumerate().skip(c * share).take(share);
                            for (i, raw) in mine {
                                let digest = $call!(handle(raw)).await;
                                sum = sum.wrapping_add(digest.rotate_left(i as u32 % 64));
                            }
                            sum
                        })
                    })
                    .collect();
                let mut total = 0u64;
                for connection in connections {
                    total = total.wrapping_add(connection.await.expect("connection task panicked"));
                }
                total
            }

            /// One request: read it, route it, write the response. Returns a
            /// digest of the bytes written.
            $(#[$attr])*
            async fn handle(raw: &str) -> u64 {
                let request = $call!(read_request(raw)).await;
                let response = $call!(route(request)).await;
                $call!(write_response(response)).await
            }

            /// Reads a request in two packets, waiting for the second.
            $(#[$attr])*
            async fn read_request(raw: &str) -> Request {
                let mut buf = [0u8; 2048];
                let bytes = &raw.as_bytes()[..raw.len().min(buf.len())];
                let half = bytes.len() / 2;
                buf[..half].copy_from_slice(&bytes[..half]);
                tokio::task::yield_now().await;
                buf[half..bytes.len()].copy_from_slice(&bytes[half..]);
                Request::parse(&buf[..bytes.len()])
            }

            $(#[$attr])*
            async fn route(request: Request) -> Response {
                match request {
                    Request::User(id) => Response::ok($call!(get_user(id)).await.to_json()),
                    Request::Feed { user, len } => $call!(feed(user, len)).await,
                    Request::Batch(ids) => $call!(batch(ids)).await,
                    Request::Eval(source) => $call!(eval_request(source)).await,
                    Request::Bad => Response::error(400, "bad request"),
                }
            }

            $(#[$attr])*
            async fn get_user(id: u64) -> User {
                if let Some(user) = User::cached(id) {
                    return user;
                }
                let profile = $call!(db_fetch(Table::Users, id)).await;
                let grants = $call!(db_fetch(Table::Grants, id)).await;
                User::from_rows(id, &profile, &grants)
            }

            $(#[$attr])*
            async fn feed(user: u64, len: u64) -> Response {
                let owner = $call!(get_user(user)).await;
                let mut body = format!("{{\"owner\":{},\"posts\":[", owner.to_json());
                for n in 0..len {
                    let post = $call!(db_fetch(Table::Posts, user * 16 + n)).await;
                    if n > 0 {
                        body.push(',');
                    }
                    body.push_str(&post.to_json());
                }
                body.push_str("]}");
                Response::ok(body)
            }

            /// Looks the users up concurrently, each in a task of its own.
            $(#[$attr])*
            async fn batch(ids: Vec<u64>) -> Response {
                let lookups: Vec<_> =
                    ids.into_iter().map(|id| tokio::spawn($call!(get_user(id)))).collect();
                let mut body = String::from("[");
                for (n, lookup) in lookups.into_iter().enumerate() {
                    if n > 0 {
                        body.push(',');
                    }
                    body.push_str(&lookup.await.expect("lookup task panicked").to_json());
                }
                body.push(']');
                Response::ok(body)
            }

            $(#[$attr])*
            async fn eval_request(source: String) -> Response {
                match Expr::parse(&source) {
                    Some(expr) => Response::ok(format!("{}", $call!(eval(&expr)).await)),
                    None => Response::error(422, "bad expression"),
                }
            }

            $(#[$attr])*
            async fn eval(expr: &Expr) -> i64 {
                match expr {
                    Expr::Num(n) => *n,
                    Expr::Var(v) => $call!(lookup_var(*v)).await,
                    Expr::Apply(op, args) => {
                        let mut acc = op.identity();
                        for arg in args {
                            acc = op.apply(acc, $recurse!(eval(arg)).await);
                        }
                        acc
                    }
                }
            }

            /// A variable lives in a remote store; a quarter of them are not
            /// cached locally and cost a round trip.
            $(#[$attr])*
            async fn lookup_var(var: u8) -> i64 {
                if var % 4 == 0 {
                    tokio::task::yield_now().await;
                }
                var_value(var)
            }

            /// Reads the page holding `key` and decodes its row.
            $(#[$attr])*
            async fn db_fetch(table: Table, key: u64) -> Row {
                let mut page = [0u8; 4096];
                $call!(read_page(table, key, &mut page)).await;
                Row::decode(table, key, &page)
            }

            $(#[$attr])*
            async fn read_page(table: Table, key: u64, page: &mut [u8; 4096]) {
                tokio::task::yield_now().await; // waiting for the disk
                fill_page(table, key, page);
            }

            /// Formats the response into a 4 KiB buffer and flushes it.
            $(#[$attr])*
            async fn write_response(response: Response) -> u64 {
                let mut out = [0u8; 4096];
                let len = {
                    let mut w = &mut out[..];
                    // A body too large for the buffer is cut, in every variant alike.
                    let _ = write!(
                        w,
                        "HTTP/1.1 {} {}\r\ncontent-length: {}\r\n\r\n{}",
                        response.status,
                        if response.status == 200 { "OK" } else { "ERROR" },
                        response.body.len(),
                        response.body
                    );
                    4096 - w.len()
                };
                tokio::task::yield_now().await; // the socket drains
                fnv1a(&out[..len])
            }
        }
    };
}

service! { mod plain { call: direct, recurse: boxed } }
service! { mod boxed { call: boxed, recurse: boxed } }
service! { #[flowcoro::pooled] mod pooled { call: direct, recurse: direct } }

// ---------------------------------------------------------------------------
// What the service works with: plain, synchronous code shared by the three.
// ---------------------------------------------------------------------------

enum Request {
    User(u64),
    Feed { user: u64, len: u64 },
    Batch(Vec<u64>),
    Eval(String),
    Bad,
}

impl Request {
    fn parse(bytes: &[u8]) -> Request {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Request::Bad;
        };
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let line = head.lines().next().unwrap_or("");
        let mut parts = line.split(' ');
        let (method, path) = (parts.next(), parts.next().unwrap_or(""));
        let num = |s: &str| s.parse::<u64>().ok();
        match (method, path.split_once('/').map(|(_, p)| p)) {
            (Some("GET"), Some(p)) if p.starts_with("user/") => {
                num(&p[5..]).map_or(Request::Bad, Request::User)
            }
            (Some("GET"), Some(p)) if p.starts_with("feed/") => {
                let (user, len) = p[5..].split_once("?len=").unwrap_or((&p[5..], "1"));
                match (num(user), num(len)) {
                    (Some(user), Some(len)) => Request::Feed { user, len },
                    _ => Request::Bad,
                }
            }
            (Some("GET"), Some(p)) if p.starts_with("batch/") => {
                let ids: Option<Vec<u64>> = p[6..].split(',').map(num).collect();
                ids.map_or(Request::Bad, Request::Batch)
            }
            (Some("POST"), Some("eval")) => Request::Eval(body.to_owned()),
            _ => Request::Bad,
        }
    }
}

struct Response {
    status: u16,
    body: String,
}

impl Response {
    fn ok(body: String) -> Response {
        Response { status: 200, body }
    }

    fn error(status: u16, message: &str) -> Response {
        Response { status, body: message.to_owned() }
    }
}

#[derive(Clone, Copy)]
enum Table {
    Users,
    Grants,
    Posts,
}

/// What a page holds for its key: the first 256 bytes are the row.
fn fill_page(table: Table, key: u64, page: &mut [u8; 4096]) {
    let mut x = key.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ table as u64;
    for b in &mut page[..256] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

struct Row {
    key: u64,
    score: u64,
    tag: String,
}

impl Row {
    fn decode(table: Table, key: u64, page: &[u8; 4096]) -> Row {
        let row = &page[..256];
        let score = row.iter().map(|&b| u64::from(b)).sum();
        let tag = row[..8].iter().map(|&b| char::from(b'a' + b % 26)).collect::<String>();
        let prefix = match table {
            Table::Users => "user",
            Table::Grants => "grant",
            Table::Posts => "post",
        };
        Row { key, score, tag: format!("{prefix}-{tag}") }
    }

    fn to_json(&self) -> String {
        format!("{{\"key\":{},\"score\":{},\"tag\":\"{}\"}}", self.key, self.score, self.tag)
    }
}

struct User {
    id: u64,
    name: String,
    score: u64,
    admin: bool,
}

impl User {
    /// A third of the users are in a local cache.
    fn cached(id: u64) -> Option<User> {
        (id % 3 == 0).then(|| User {
            id,
            name: format!("cached-{id}"),
            score: id % 1000,
            admin: false,
        })
    }

    fn from_rows(id: u64, profile: &Row, grants: &Row) -> User {
        User { id, name: profile.tag.clone(), score: profile.score, admin: grants.score % 7 == 0 }
    }

    fn to_json(&self) -> String {
        format!(
            "{{\"id\":{},\"name\":\"{}\",\"score\":{},\"admin\":{}}}",
            self.id, self.name, self.score, self.admin
        )
    }
}

/// An arithmetic expression in prefix notation: `(+ 1 (* x3 4) x7)`.
enum Expr {
    Num(i64),
    Var(u8),
    Apply(Op, Vec<Expr>),
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Max,
}

impl Op {
    fn identity(self) -> i64 {
        match self {
            Op::Add | Op::Sub => 0,
            Op::Mul => 1,
            Op::Max => i64::MIN,
        }
    }

    fn apply(self, acc: i64, x: i64) -> i64 {
        match self {
            Op::Add => acc.wrapping_add(x),
            Op::Sub => acc.wrapping_sub(x),
            Op::Mul => acc.wrapping_mul(x),
            Op::Max => acc.max(x),
        }
    }
}

impl Expr {
    fn parse(source: &str) -> Option<Expr> {
        let spaced = source.replace('(', " ( ").replace(')', " ) ");
        let tokens: Vec<&str> = spaced.split_whitespace().collect();
        let mut pos = 0;
        let expr = Expr::parse_at(&tokens, &mut pos)?;
        (pos == tokens.len()).then_some(expr)
    }

    fn parse_at(tokens: &[&str], pos: &mut usize) -> Option<Expr> {
        let token = *tokens.get(*pos)?;
        *pos += 1;
        match token {
            "(" => {
                let op = match *tokens.get(*pos)? {
                    "+" => Op::Add,
                    "-" => Op::Sub,
                    "*" => Op::Mul,
                    "max" => Op::Max,
                    _ => return None,
                };
                *pos += 1;
                let mut args = Vec::new();
                while *tokens.get(*pos)? != ")" {
                    args.push(Expr::parse_at(tokens, pos)?);
                }
                *pos += 1;
                Some(Expr::Apply(op, args))
            }
            t if t.starts_with('x') => t[1..].parse().ok().map(Expr::Var),
            t => t.parse().ok().map(Expr::Num),
        }
    }
}

fn var_value(var: u8) -> i64 {
    i64::from(var) * 7919 % 101 - 50
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

// ---------------------------------------------------------------------------
// The requests, and the three runs.
// ---------------------------------------------------------------------------

/// A deterministic mix: 45% user lookups, 20% feeds, 10% batches, 25% eval.
fn requests(n: usize) -> Vec<String> {
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % bound
    };
    (0..n)
        .map(|_| match next(100) {
            0..45 => format!("GET /user/{} HTTP/1.1\r\nhost: tour\r\n\r\n", next(10_000)),
            45..65 => format!(
                "GET /feed/{}?len={} HTTP/1.1\r\nhost: tour\r\n\r\n",
                next(10_000),
                2 + next(5)
            ),
            65..75 => {
                let ids: Vec<String> = (0..3 + next(3)).map(|_| next(10_000).to_string()).collect();
                format!("GET /batch/{} HTTP/1.1\r\nhost: tour\r\n\r\n", ids.join(","))
            }
            _ => {
                let expr = random_expr(&mut next, 4);
                format!("POST /eval HTTP/1.1\r\nhost: tour\r\n\r\n{expr}")
            }
        })
        .collect()
}

fn random_expr(next: &mut impl FnMut(u64) -> u64, depth: u32) -> String {
    match next(if depth == 0 { 2 } else { 5 }) {
        0 => next(100).to_string(),
        1 => format!("x{}", next(32)),
        _ => {
            let op = ["+", "-", "*", "max"][next(4) as usize];
            let args: Vec<String> =
                (0..2 + next(3)).map(|_| random_expr(next, depth - 1)).collect();
            format!("({op} {})", args.join(" "))
        }
    }
}

#[derive(Clone, Copy)]
enum Variant {
    Plain,
    Boxed,
    Pooled,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::Plain, Variant::Boxed, Variant::Pooled];

    fn label(self) -> &'static str {
        match self {
            Variant::Plain => "plain async fn",
            Variant::Boxed => "Box::pin",
            Variant::Pooled => "#[pooled]",
        }
    }

    /// Serves every request once; returns the checksum and the time taken.
    fn run(self, rt: &tokio::runtime::Runtime, requests: &Arc<[String]>) -> (u64, Duration) {
        let requests = Arc::clone(requests);
        let start = Instant::now();
        let sum = match self {
            Variant::Plain => rt.block_on(plain::serve(requests)),
            Variant::Boxed => rt.block_on(boxed::serve(requests)),
            Variant::Pooled => rt.block_on(pooled::serve(requests)),
        };
        (sum, start.elapsed())
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime");
    let requests: Arc<[String]> = requests(REQUESTS).into();

    println!(
        "flowcoro tour: {REQUESTS} requests over {CONNECTIONS} connections, \
         tokio multi-thread runtime (2 workers), best of {ROUNDS} rounds"
    );

    // A first pass of each fills the pools and warms the allocator; it also
    // gives the checksum every later pass must reproduce.
    let expected = Variant::ALL.map(|v| v.run(&rt, &requests).0);
    assert!(expected.iter().all(|&sum| sum == expected[0]), "the variants disagree: {expected:x?}");
    let pooled_calls_before = pooled_calls();

    let mut best = [Duration::MAX; 3];
    for round in 1..=ROUNDS {
        print!("  round {round}/{ROUNDS}:");
        for (i, variant) in Variant::ALL.into_iter().enumerate() {
            let (sum, elapsed) = variant.run(&rt, &requests);
            assert_eq!(sum, expected[0], "{} answered differently", variant.label());
            best[i] = best[i].min(elapsed);
            print!("  {} {:>4} ms", variant.label(), elapsed.as_millis());
            let _ = std::io::stdout().flush();
        }
        println!();
    }
    println!("  same checksum for every variant in every round: {:016x}", expected[0]);

    // The pools count every call of the `pooled` variant; the other two make
    // the same calls.
    let calls = (pooled_calls() - pooled_calls_before) as f64 / (ROUNDS * REQUESTS) as f64;
    println!("  each request makes {calls:.1} async fn calls on average\n");

    let per_request = |d: Duration| d.as_secs_f64() / REQUESTS as f64;
    let boxed = per_request(best[Variant::Boxed as usize]);
    println!("  {:<16} {:>12} {:>12} {:>12}", "variant", "per request", "per call", "vs Box::pin");
    for variant in Variant::ALL {
        let t = per_request(best[variant as usize]);
        println!(
            "  {:<16} {:>12} {:>12} {:>11.2}x",
            variant.label(),
            human_time(t),
            human_time(t / calls),
            t / boxed
        );
    }

    println!("\nthe pools of the #[pooled] variant (flowcoro::report()):\n");
    print!("{}", flowcoro::report());
}

/// Calls made through the `pooled` variant's pools so far.
fn pooled_calls() -> u64 {
    flowcoro::pools()
        .iter()
        .filter(|p| p.name.starts_with("tour::pooled::"))
        .map(|p| p.allocations)
        .sum()
}

fn human_time(secs: f64) -> String {
    if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else if secs >= 1e-6 {
        format!("{:.2} µs", secs * 1e6)
    } else {
        format!("{:.0} ns", secs * 1e9)
    }
}
