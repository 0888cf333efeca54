//! trybuild cases of `#[pooled]`: `tests/ui` must fail to compile with the
//! committed `.stderr`; `tests/pass` must compile and run.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/**/*.rs");
    t.pass("tests/pass/**/*.rs");
}
