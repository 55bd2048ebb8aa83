//! Tests run on PostgreSQL too when `INFORMLY_TEST_POSTGRES_URL` is set at
//! build time, the interoperability test (Python) when `INFORMLY_TEST_INTEROP=1`,
//! the API conformance test when `INFORMLY_TEST_SCHEMATHESIS=1`, and the
//! dashboard's browser tests (headless Chromium) when `INFORMLY_TEST_BROWSER=1`,
//! the tests with a real Prometheus and promtool when
//! `INFORMLY_TEST_PROMETHEUS=1`;
//! otherwise they are compiled as ignored, so the test report shows them
//! skipped rather than silently passing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(interop_tests)");
    println!("cargo::rerun-if-env-changed=INFORMLY_TEST_INTEROP");
    if std::env::var_os("INFORMLY_TEST_INTEROP").is_some_and(|v| v == "1") {
        println!("cargo::rustc-cfg=interop_tests");
    }
    println!("cargo::rustc-check-cfg=cfg(schemathesis_tests)");
    println!("cargo::rerun-if-env-changed=INFORMLY_TEST_SCHEMATHESIS");
    if std::env::var_os("INFORMLY_TEST_SCHEMATHESIS").is_some_and(|v| v == "1") {
        println!("cargo::rustc-cfg=schemathesis_tests");
    }
    println!("cargo::rustc-check-cfg=cfg(browser_tests)");
    println!("cargo::rerun-if-env-changed=INFORMLY_TEST_BROWSER");
    if std::env::var_os("INFORMLY_TEST_BROWSER").is_some_and(|v| v == "1") {
        println!("cargo::rustc-cfg=browser_tests");
    }
    println!("cargo::rustc-check-cfg=cfg(prometheus_tests)");
    println!("cargo::rerun-if-env-changed=INFORMLY_TEST_PROMETHEUS");
    if std::env::var_os("INFORMLY_TEST_PROMETHEUS").is_some_and(|v| v == "1") {
        println!("cargo::rustc-cfg=prometheus_tests");
    }
    println!("cargo::rerun-if-env-changed=INFORMLY_TEST_POSTGRES_URL");
    if std::env::var_os("INFORMLY_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
