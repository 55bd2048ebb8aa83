//! `contacts_body`: see `targets::contacts_body` and fuzz/README.md.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::contacts_body(data));
