//! The `server` example's stack under test: both variants over loopback on
//! tokio's multi-thread runtime, every response checked against a model of
//! the service, the two variants' responses compared, and the heap
//! allocations per request counted to show that the pooled stack saves one
//! for each box it replaces, future or stream: under the store's mix of
//! requests, and under one of item writes and listings, whose streamed
//! bodies box two streams each in the boxed stack.

#[path = "../examples/server/load.rs"]
mod load;
#[path = "../examples/server/stack.rs"]
mod stack;

use std::alloc::System;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use http::StatusCode;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

use load::{Allocs, Kind, Measurement, Mix, Plan, Variant, Workload};

// This test binary's own allocator: the counts below are this process's.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn allocs() -> Allocs {
    let stats = GLOBAL.stats();
    Allocs { count: stats.allocations as u64, bytes: stats.bytes_allocated as u64 }
}

/// Small enough to take well under a second per variant in a debug build.
const PLAN: Plan = Plan { connections: 4, warmup: 1_000, requests: 2_000, mix: Mix::Store };

/// The same load of item writes and listings, half and half.
const LISTINGS: Plan = Plan { mix: Mix::Listings, ..PLAN };

/// What the pooled stack may fall short of one saved allocation per replaced
/// box, per request on average. A pooled frame costs an allocation when no
/// cached frame is at hand: the warm-up fills the pools, but a worker can
/// still run dry while frames freed on the other worker pile up there, and
/// on a slow machine a run that outlasts the pools' decay hold (500 ms) gives
/// idle frames back and takes some again. The rest of the process (hyper,
/// tokio, the load generator) runs the same code for both variants, but
/// buffers that grow now and then can grow in one variant's measured run and
/// not in the other's. Seen here: a shortfall of 0.000 to 0.015 per request
/// (at most 30 allocations over the 2,000 requests), on two cores and pinned
/// to one. 0.25 leaves room for a slower machine and still fails if any one
/// box were left in place: a layer, the handler or the `Store` trait's
/// futures each account for 0.75 boxes per request or more under [`PLAN`],
/// and each of a listing's two streams (the store's listing and the body's)
/// for 0.5 under [`LISTINGS`] (0.1 under [`PLAN`], too little to tell).
const TOLERANCE: f64 = 0.25;

/// The body and status the service must answer `call` with, given the
/// items stored so far, which it updates.
fn expected(
    call: &load::Call,
    id: u64,
    items: &mut HashMap<String, String>,
) -> (StatusCode, String) {
    let key = &call.key;
    match call.kind {
        Kind::GetItem => match items.get(key) {
            Some(value) => (StatusCode::OK, format!("{key} = {value}\nrequest {id}\n")),
            None => (StatusCode::NOT_FOUND, format!("no item {key}\nrequest {id}\n")),
        },
        Kind::PutItem => match items.insert(key.clone(), call.value.clone()) {
            Some(old) => (StatusCode::OK, format!("replaced {key} (was {old})\nrequest {id}\n")),
            None => (StatusCode::CREATED, format!("created {key}\nrequest {id}\n")),
        },
        Kind::ListItems => {
            let mut listed: Vec<(&String, &String)> =
                items.iter().filter(|(k, _)| k.starts_with(key.as_str())).collect();
            listed.sort_unstable();
            let mut body: String = listed.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
            body += &format!("{} items\nrequest {id}\n", listed.len());
            (StatusCode::OK, body)
        }
        Kind::Health => (StatusCode::OK, format!("ok\nrequest {id}\n")),
        Kind::NoRoute => {
            (StatusCode::NOT_FOUND, format!("no route for GET /missing/{key}\nrequest {id}\n"))
        }
        Kind::NoToken => (StatusCode::UNAUTHORIZED, "a bearer token is required\n".to_owned()),
    }
}

/// Checks every response of a measurement against the model. The measured
/// workload's keys are not the warm-up's, so it starts from an empty store;
/// each key belongs to one connection, so replaying the calls in order gives
/// what each connection saw.
fn check_responses(measured: &Measurement) {
    let workload: &Workload = &measured.workload;
    let responses = &measured.report.responses;
    assert_eq!(
        responses.len(),
        workload.calls.len(),
        "{:?}: a response per request",
        measured.variant
    );
    let mut items = HashMap::new();
    for (n, (call, response)) in workload.calls.iter().zip(responses).enumerate() {
        let id = workload.request_id(n);
        let (status, body) = expected(call, id, &mut items);
        let what =
            format!("{} request {n} ({:?} {})", measured.variant.label(), call.kind, call.key);
        assert_eq!(response.status, status, "{what}");
        assert_eq!(std::str::from_utf8(&response.body), Ok(body.as_str()), "{what}");
        assert_eq!(response.request_id, Some(id.to_string()), "{what}");
        assert!(response.timed, "{what}: no x-elapsed-us header");
    }
}

#[test]
fn both_variants_answer_alike_and_the_pooled_one_allocates_one_less_per_box() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let progress = Arc::new(AtomicUsize::new(0));
    let every = [Kind::GetItem, Kind::PutItem, Kind::ListItems, Kind::Health, Kind::NoRoute];
    let plans = [
        (PLAN, [&every[..], &[Kind::NoToken]].concat()),
        (LISTINGS, vec![Kind::PutItem, Kind::ListItems]),
    ];
    for (plan, kinds) in plans {
        // One after the other: the allocation counts are the whole
        // process's.
        let [boxed, pooled] = Variant::ALL.map(|variant| {
            runtime
                .block_on(load::measure(variant, &plan, allocs, &progress))
                .unwrap_or_else(|e| panic!("measuring {variant:?} under {:?}: {e}", plan.mix))
        });
        check_savings(&plan, &kinds, &boxed, &pooled);
    }
    drop(runtime);

    // The boxes are gone, not moved: the pools' frames come from the heap
    // only while they fill. Three layers, the handler, the three `Store`
    // methods and the listings' bodies.
    let pools: Vec<_> =
        flowcoro::pools().into_iter().filter(|s| s.name.starts_with("server: ")).collect();
    assert_eq!(pools.len(), 8, "{pools:?}");
    for pool in &pools {
        assert_eq!(pool.live, 0, "{pool:?}");
        assert!(pool.hit_ratio() > 0.9, "{pool:?}");
    }
}

/// Checks both variants' responses under `plan`, whose workload has each of
/// `kinds`, and that the pooled one saves an allocation per box it
/// replaces, within [`TOLERANCE`].
fn check_savings(plan: &Plan, kinds: &[Kind], boxed: &Measurement, pooled: &Measurement) {
    check_responses(boxed);
    check_responses(pooled);
    assert_eq!(boxed.report.responses, pooled.report.responses, "{:?}", plan.mix);
    let count = |k: Kind| boxed.workload.calls.iter().filter(|c| c.kind == k).count();
    for &kind in kinds {
        assert!(count(kind) > 0, "the {:?} workload has no {kind:?} request", plan.mix);
    }

    for measured in [boxed, pooled] {
        let report = &measured.report;
        assert_eq!(report.latencies.len(), report.requests);
        assert!(report.percentile(0.5) <= report.percentile(0.99));
        assert!(report.percentile(0.99) <= report.elapsed);
        // Shown with `--nocapture`.
        println!(
            "{:?}: {:<6} {:>6.0} req/s, {:.2} allocations and {:.0} bytes per request",
            plan.mix,
            measured.variant.label(),
            report.throughput(),
            measured.allocs_per_request(),
            measured.bytes_per_request(),
        );
    }

    let replaced = boxed.workload.replaced_boxes_per_request();
    let (_, _, streams) = boxed.workload.boxes_per_request();
    let saved = boxed.allocs_per_request() - pooled.allocs_per_request();
    println!(
        "{:?}: pooled saves {saved:.3} allocations per request; it replaces {replaced:.3} \
         boxes, {streams:.3} of them streams",
        plan.mix
    );
    assert!(
        saved >= replaced - TOLERANCE,
        "{:?}: the pooled stack saves {saved:.2} allocations per request, not the {replaced:.2} \
         boxes it replaces ({streams:.2} of them streams; boxed {:.2}, pooled {:.2} per request)",
        plan.mix,
        boxed.allocs_per_request(),
        pooled.allocs_per_request(),
    );
}
