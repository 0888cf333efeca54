//! A real HTTP server on hyper 1 and tower, written twice: with boxed
//! futures and `#[async_trait]`, as the ecosystem writes it today, and with
//! flowcoro's pools. Both serve the same load over loopback; the example
//! prints the throughput, the latency and the heap allocations of each.
//!
//! ```text
//! cargo run --release --example server
//! ```
//!
//! The service (see `stack.rs`; `load.rs` serves and drives it) is a small key-value store behind three
//! `tower` layers (timing, request id, bearer-token auth), on hyper's
//! HTTP/1.1 server and tokio's multi-thread runtime. One route lists the
//! items under a prefix with a streamed response body, a chunk per item,
//! drained from the store's listing stream. The boxed stack boxes each
//! layer's future, the handler's future, the future of each `#[async_trait]`
//! store call, and for a listing the store's stream (a `BoxStream`) and the
//! body's (a `StreamBody` over a `BoxStream`); the pooled one takes those
//! frames from pools instead (`PooledDyn` futures, `PooledStream` streams)
//! and is otherwise the same code.
//!
//! For each variant in turn, boxed first, a fresh server gets a warm-up and
//! then a fixed, deterministic workload from the built-in load generator
//! (hyper's client, a fixed number of keep-alive connections, each sending
//! its requests one after the other). A counting global allocator gives the
//! allocations per request of the measured part: they include the load
//! generator's, which is the same code for both variants, so the difference
//! between the two is the server's. Every round must give the same
//! responses, byte for byte (status, `x-request-id` and body); the example
//! fails if not. It ends with `flowcoro::report()`: the pools of the pooled
//! stack.

mod load;
mod stack;

use std::alloc::System;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

use load::{Allocs, Error, Measurement, Mix, Plan, Variant};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The load per variant and round: about five seconds each in release on
/// two cores.
const PLAN: Plan = Plan { connections: 8, warmup: 5_000, requests: 600_000, mix: Mix::Store };

/// Rounds: each measures both variants, boxed first; the second shows how
/// stable the figures are.
const ROUNDS: usize = 2;

/// Worker threads of the runtime, shared by the server and the load
/// generator.
const WORKERS: usize = 2;

/// The counting allocator's totals so far, for the whole process.
fn allocs() -> Allocs {
    let stats = GLOBAL.stats();
    Allocs { count: stats.allocations as u64, bytes: stats.bytes_allocated as u64 }
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let outcome = runtime.block_on(run());
    // After a run that went well, every server and connection has ended;
    // after an error, what is still running is dropped here.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server example: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Error> {
    println!(
        "flowcoro server example: hyper 1 + tower on tokio's multi-thread runtime \
         ({WORKERS} workers), {} keep-alive connections over loopback",
        PLAN.connections
    );
    println!(
        "each variant, each round: a fresh server, {} warm-up requests, then {} measured",
        grouped(PLAN.warmup as f64),
        grouped(PLAN.requests as f64)
    );

    let mut runs: Vec<Measurement> = Vec::new();
    for round in 1..=ROUNDS {
        for variant in Variant::ALL {
            let mut measured = measure(round, variant).await?;
            println!(
                "  round {round}  {:<6}  {:>8} req/s  p50 {:>7}  p99 {:>7}  \
                 {:>6.2} allocations/req  {:>6} bytes/req",
                variant.label(),
                grouped(measured.report.throughput()),
                micros(measured.report.percentile(0.50)),
                micros(measured.report.percentile(0.99)),
                measured.allocs_per_request(),
                grouped(measured.bytes_per_request()),
            );
            match runs.first() {
                None => check_request_ids(&measured)?,
                Some(first) => {
                    check_same(first, &measured)?;
                    // Checked: the first run's responses are enough to keep,
                    // and its workload is the same one.
                    measured.report.responses = Vec::new();
                    measured.workload = first.workload.clone();
                }
            }
            runs.push(measured);
        }
    }
    println!(
        "\nall {} runs gave the same {} responses, byte for byte (status, x-request-id, body)",
        runs.len(),
        grouped(PLAN.requests as f64)
    );

    let workload = &runs[0].workload;
    let (layers, calls, streams) = workload.boxes_per_request();
    println!();
    println!(
        "per request, the boxed stack boxes {layers:.2} futures of layers and the handler, \
         makes {calls:.2} #[async_trait] calls and boxes {streams:.2} streams of listings \
         and their bodies: {:.2} boxes the pooled stack replaces",
        workload.replaced_boxes_per_request()
    );
    println!();
    print_table(&runs);

    println!("\nthe pools of the pooled stack (flowcoro::report()):\n");
    print!("{}", flowcoro::report());
    Ok(())
}

/// Measures one variant, with a progress line on stderr while it runs.
async fn measure(round: usize, variant: Variant) -> Result<Measurement, Error> {
    let progress = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let progress = Arc::clone(&progress);
        let total = PLAN.warmup + PLAN.requests;
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                let done = progress.load(Ordering::Relaxed);
                let phase = if done < PLAN.warmup { "warming up" } else { "measuring " };
                eprint!("\r  round {round}  {:<6}  {phase} {done:>7}/{total}", variant.label());
            }
        }
    });
    let measured = load::measure(variant, &PLAN, allocs, &progress).await;
    ticker.abort();
    // Cancelled, as it was asked to be.
    let _ = ticker.await;
    eprint!("\r{:70}\r", "");
    measured
}

/// Fails unless each response carries the request id its connection's
/// sequence gives it.
fn check_request_ids(run: &Measurement) -> Result<(), Error> {
    for (n, response) in run.report.responses.iter().enumerate() {
        let expected = run.workload.request_id(n);
        let id = response.request_id.as_deref();
        if id.and_then(|id| id.parse().ok()) != Some(expected) {
            return Err(format!("request {n} has request id {id:?}, not {expected}").into());
        }
    }
    Ok(())
}

/// Fails unless `run` saw the same responses as `first`.
fn check_same(first: &Measurement, run: &Measurement) -> Result<(), Error> {
    let (a, b) = (&first.report.responses, &run.report.responses);
    if a.len() != b.len() {
        let (x, y) = (first.variant.label(), run.variant.label());
        return Err(format!("{} responses for {x}, {} for {y}", a.len(), b.len()).into());
    }
    match (0..a.len()).find(|&n| a[n] != b[n]) {
        None => Ok(()),
        Some(n) => Err(format!(
            "the variants answered request {n} differently:\n  {}: {:?}\n  {}: {:?}",
            first.variant.label(),
            a[n],
            run.variant.label(),
            b[n]
        )
        .into()),
    }
}

/// One variant's figures over all its rounds.
struct Totals {
    throughput: f64,
    p50: Duration,
    p99: Duration,
    allocs: f64,
    bytes: f64,
}

impl Totals {
    fn of(runs: &[Measurement], variant: Variant) -> Totals {
        let mine: Vec<&Measurement> = runs.iter().filter(|m| m.variant == variant).collect();
        let requests: usize = mine.iter().map(|m| m.report.requests).sum();
        let elapsed: Duration = mine.iter().map(|m| m.report.elapsed).sum();
        let mut latencies: Vec<Duration> =
            mine.iter().flat_map(|m| m.report.latencies.iter().copied()).collect();
        latencies.sort_unstable();
        let allocs: u64 = mine.iter().map(|m| m.allocs.count).sum();
        let bytes: u64 = mine.iter().map(|m| m.allocs.bytes).sum();
        Totals {
            throughput: requests as f64 / elapsed.as_secs_f64(),
            p50: load::percentile(&latencies, 0.50),
            p99: load::percentile(&latencies, 0.99),
            allocs: allocs as f64 / requests as f64,
            bytes: bytes as f64 / requests as f64,
        }
    }
}

fn print_table(runs: &[Measurement]) {
    let boxed = Totals::of(runs, Variant::Boxed);
    let pooled = Totals::of(runs, Variant::Pooled);
    println!("all rounds together:");
    println!("  {:<20} {:>12} {:>12} {:>14}", "", "boxed", "pooled", "pooled/boxed");
    let row = |name: &str, b: String, p: String, ratio: f64| {
        println!("  {name:<20} {b:>12} {p:>12} {ratio:>13.2}x");
    };
    row(
        "requests/s",
        grouped(boxed.throughput),
        grouped(pooled.throughput),
        pooled.throughput / boxed.throughput,
    );
    let secs = |d: Duration| d.as_secs_f64();
    row("p50 latency", micros(boxed.p50), micros(pooled.p50), secs(pooled.p50) / secs(boxed.p50));
    row("p99 latency", micros(boxed.p99), micros(pooled.p99), secs(pooled.p99) / secs(boxed.p99));
    row(
        "allocations/request",
        format!("{:.2}", boxed.allocs),
        format!("{:.2}", pooled.allocs),
        pooled.allocs / boxed.allocs,
    );
    row("bytes/request", grouped(boxed.bytes), grouped(pooled.bytes), pooled.bytes / boxed.bytes);
    println!(
        "  {:<20} {:>12.2} allocations and {} bytes fewer per request",
        "pooled saves",
        boxed.allocs - pooled.allocs,
        grouped(boxed.bytes - pooled.bytes)
    );
    println!(
        "  (allocations count the whole process: the server and the load generator, which \
         runs the same code for both, so the difference is the server's)"
    );
}

/// A latency in microseconds.
fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// A number rounded to an integer, with thousands separated: `41,234`.
fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < -0.5 { format!("-{out}") } else { out }
}
