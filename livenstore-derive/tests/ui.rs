//! Refused inputs: one failure per file in `tests/ui`, with the expected diagnostics beside it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
