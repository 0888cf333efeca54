//! The library calls the downstream implementations through `dyn`, and the
//! pools are the implementations' own.

use downstream::{Echo, Memory};
use futures::executor::block_on;
use store::Store;

#[test]
fn implementations_from_another_crate_through_dyn() {
    let memory = Memory([("k".to_owned(), "value".to_owned())].into_iter().collect());
    let stores: Vec<Box<dyn Store>> = vec![Box::new(memory), Box::new(Echo(3))];
    assert_eq!(block_on(stores[0].get("k")), Some("value".to_owned()));
    assert_eq!(block_on(stores[1].get("ab")), Some("ababab".to_owned()));
    assert_eq!(block_on(store::total_len(&stores, "k")), 5 + 3);

    let pools = store::flowcoro::pools();
    let calls = |name: &str| {
        pools.iter().find(|s| s.name == name).map(|s| (s.allocations, s.live)).unwrap_or_else(
            || panic!("no pool {name} in {:?}", pools.iter().map(|s| s.name).collect::<Vec<_>>()),
        )
    };
    // Each implementation's methods have their own pools, named after them;
    // the default body's pool is the library's.
    assert_eq!(calls("<downstream::Memory as store::Store>::get"), (2, 0));
    assert_eq!(calls("<downstream::Echo as store::Store>::get"), (1, 0));
    assert_eq!(calls("<downstream::Echo as store::Store>::len"), (1, 0));
    assert_eq!(calls("store::Store::len"), (1, 0));
}
