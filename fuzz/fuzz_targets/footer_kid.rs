//! `footer_kid`: see `targets::footer_kid` and fuzz/README.md.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::footer_kid(data));
