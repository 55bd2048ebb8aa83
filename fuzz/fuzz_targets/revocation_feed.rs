//! `revocation_feed`: see `targets::revocation_feed` and fuzz/README.md.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::revocation_feed(data));
