//! `token_jwt`: see `targets::token_jwt` and fuzz/README.md.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::token_jwt(data));
