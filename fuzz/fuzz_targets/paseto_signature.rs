//! `paseto_signature`: see `targets::paseto_signature` and fuzz/README.md.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::paseto_signature(data));
