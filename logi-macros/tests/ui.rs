//! The compile-time contract of `#[logi::protected]`: every form compiles (and the handlers
//! route), every misuse is an error pointing at the user's own tokens.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
