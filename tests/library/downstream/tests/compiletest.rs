//! What an implementor of the library's trait sees when it gets it wrong.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
