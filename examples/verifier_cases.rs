//! Writes `testdata/verifier-cases.json`: the cases every Informly verifier
//! (the Rust remote verifier, the Python and the TypeScript packages) must
//! answer alike — tokens, key documents, feed pages, a time and the expected
//! outcome. Deterministic: fixed keys, a fixed "now" (Ed25519 signatures are
//! deterministic), so the file only changes when the cases do.
//!
//! ```text
//! cargo run --example verifier_cases            # rewrite testdata/verifier-cases.json
//! cargo run --example verifier_cases -- --check # exit 1 if the file is out of date
//! ```
//!
//! The format is described in `testdata/README.md`; `tests/verifier_cases.rs`
//! runs every case through `informly::remote::RemoteVerifier` and checks the
//! committed file is what this writes.

#[path = "verifier_cases/cases.rs"]
mod cases;

use std::process::ExitCode;

fn main() -> ExitCode {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(cases::OUTPUT);
    let generated = cases::generate();
    let check = std::env::args().any(|a| a == "--check");
    if check {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == generated {
            println!("{} is up to date", cases::OUTPUT);
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "error: {} is out of date: run `cargo run --example verifier_cases`",
            cases::OUTPUT
        );
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::write(&path, &generated) {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {} ({} bytes)", cases::OUTPUT, generated.len());
    ExitCode::SUCCESS
}
