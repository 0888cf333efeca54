//! Compiles and runs every case of `tests/pass` in an edition 2024 crate:
//! lifetime capture of return-position `impl Trait` differs between
//! editions, and the attribute must behave the same in both. (trybuild
//! runs the same cases in edition 2021, the facade's edition.) Plus the
//! cases only edition 2024 compiles.
#![cfg(test)]

#[path = "../../pass/arg-patterns.rs"]
mod arg_patterns;

#[path = "../../pass/async-recursion-surface.rs"]
mod async_recursion_surface;

#[path = "../../pass/async-trait-surface.rs"]
mod async_trait_surface;

#[path = "../../pass/attribute-composition.rs"]
mod attribute_composition;

#[path = "../../pass/deny-warnings.rs"]
mod deny_warnings;

#[path = "../../pass/dyn-trait-deny-warnings.rs"]
mod dyn_trait_deny_warnings;

#[path = "../../pass/dyn-trait-local.rs"]
mod dyn_trait_local;

#[path = "../../pass/dyn-trait-no-implicit-prelude.rs"]
mod dyn_trait_no_implicit_prelude;

#[path = "../../pass/dyn-trait.rs"]
mod dyn_trait;

#[path = "../../pass/free-fn.rs"]
mod free_fn;

#[path = "../../pass/generic-fn.rs"]
mod generic_fn;

mod hidden_lifetime_in_path;

#[path = "../../pass/impl-generics.rs"]
mod impl_generics;

#[path = "../../pass/impl-trait-arg.rs"]
mod impl_trait_arg;

#[path = "../../pass/inherent-impl-block.rs"]
mod inherent_impl_block;

#[path = "../../pass/method-mut-self.rs"]
mod method_mut_self;

#[path = "../../pass/method-pin-self.rs"]
mod method_pin_self;

#[path = "../../pass/method-ref-self.rs"]
mod method_ref_self;

#[path = "../../pass/method-self-by-value.rs"]
mod method_self_by_value;

#[path = "../../pass/named-lifetime-in-path.rs"]
mod named_lifetime_in_path;

#[path = "../../pass/no-implicit-prelude.rs"]
mod no_implicit_prelude;

#[path = "../../pass/options.rs"]
mod options;

#[path = "../../pass/pool-block.rs"]
mod pool_block;

#[path = "../../pass/question-mark-and-return.rs"]
mod question_mark_and_return;

#[path = "../../pass/recursion.rs"]
mod recursion;

#[path = "../../pass/shadowed-names.rs"]
mod shadowed_names;

#[path = "../../pass/static-frames.rs"]
mod static_frames;

#[path = "../../pass/streams.rs"]
mod streams;

#[path = "../../pass/trait-impl.rs"]
mod trait_impl;

#[path = "../../pass/two-elided-lifetimes.rs"]
mod two_elided_lifetimes;

#[path = "../../pass/unsafe-fn.rs"]
mod unsafe_fn;

#[test]
fn async_recursion_surface() {
    async_recursion_surface::main();
}

#[test]
fn async_trait_surface() {
    async_trait_surface::main();
}

#[test]
fn attribute_composition() {
    attribute_composition::main();
}

#[test]
fn arg_patterns() {
    arg_patterns::main();
}

#[test]
fn deny_warnings() {
    deny_warnings::main();
}

#[test]
fn dyn_trait_deny_warnings() {
    dyn_trait_deny_warnings::main();
}

#[test]
fn dyn_trait_local() {
    dyn_trait_local::main();
}

#[test]
fn dyn_trait_no_implicit_prelude() {
    dyn_trait_no_implicit_prelude::main();
}

#[test]
fn dyn_trait() {
    dyn_trait::main();
}

#[test]
fn free_fn() {
    free_fn::main();
}

#[test]
fn generic_fn() {
    generic_fn::main();
}

#[test]
fn hidden_lifetime_in_path() {
    hidden_lifetime_in_path::main();
}

#[test]
fn named_lifetime_in_path() {
    named_lifetime_in_path::main();
}

#[test]
fn impl_generics() {
    impl_generics::main();
}

#[test]
fn impl_trait_arg() {
    impl_trait_arg::main();
}

#[test]
fn inherent_impl_block() {
    inherent_impl_block::main();
}

#[test]
fn method_mut_self() {
    method_mut_self::main();
}

#[test]
fn method_pin_self() {
    method_pin_self::main();
}

#[test]
fn method_ref_self() {
    method_ref_self::main();
}

#[test]
fn method_self_by_value() {
    method_self_by_value::main();
}

#[test]
fn no_implicit_prelude() {
    no_implicit_prelude::main();
}

#[test]
fn options() {
    options::main();
}

#[test]
fn pool_block() {
    pool_block::main();
}

#[test]
fn question_mark_and_return() {
    question_mark_and_return::main();
}

#[test]
fn recursion() {
    recursion::main();
}

#[test]
fn shadowed_names() {
    shadowed_names::main();
}

#[test]
fn static_frames() {
    static_frames::main();
}

#[test]
fn trait_impl() {
    trait_impl::main();
}

#[test]
fn two_elided_lifetimes() {
    two_elided_lifetimes::main();
}

#[test]
fn unsafe_fn() {
    unsafe_fn::main();
}

/// Each file of `tests/pass` has its module above.
#[test]
fn every_pass_case_is_listed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../pass");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .expect("tests/pass exists")
        .map(|entry| entry.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".rs"))
        .collect();
    on_disk.sort();
    let listed: Vec<String> = include_str!("lib.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("#[path = \"../../pass/"))
        .filter_map(|rest| rest.strip_suffix("\"]"))
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, on_disk);
}

#[test]
fn streams() {
    streams::main();
}
