//! Tests run on PostgreSQL too when `INFORMLY_TEST_POSTGRES_URL` is set at
//! build time; otherwise those twins are compiled as ignored, so the test
//! report shows them skipped rather than silently passing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=INFORMLY_TEST_POSTGRES_URL");
    if std::env::var_os("INFORMLY_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
