//! The fuzz targets' regression inputs, on stable Rust: every file under
//! `fuzz/regressions/<target>/` (crashes once found, and a few seeds) runs
//! through its target, the very code cargo-fuzz runs (`fuzz/targets/`). A
//! crash fixed stays fixed; fuzzing itself stays out of CI (fuzz/README.md).

#[path = "../fuzz/targets/mod.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// A fuzz target: one input in, a panic for a finding.
type Target = fn(&[u8]);

/// Every target, with its function: the fuzz binaries and these must agree
/// (checked below).
const TARGETS: [(&str, Target); 7] = [
    ("token_paseto", targets::token_paseto),
    ("token_jwt", targets::token_jwt),
    ("scopes", targets::scopes),
    ("footer_kid", targets::footer_kid),
    ("contacts_body", targets::contacts_body),
    ("revocation_feed", targets::revocation_feed),
    ("paseto_signature", targets::paseto_signature),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of a directory, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs every regression input of `target`, and names each one that fails.
fn replay(target: &str) {
    let (_, run) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let inputs = files(&fuzz_dir().join("regressions").join(target));
    assert!(
        !inputs.is_empty(),
        "fuzz/regressions/{target}/ has no inputs"
    );
    let failed: Vec<String> = inputs
        .iter()
        .filter(|input| {
            let data = std::fs::read(input).expect("readable input");
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_err()
        })
        .map(|input| input.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{target}: these inputs fail: {failed:#?}"
    );
}

#[test]
fn token_paseto_regressions_pass() {
    replay("token_paseto");
}

#[test]
fn paseto_signature_regressions_pass() {
    replay("paseto_signature");
}

#[test]
fn token_jwt_regressions_pass() {
    replay("token_jwt");
}

#[test]
fn scopes_regressions_pass() {
    replay("scopes");
}

#[test]
fn footer_kid_regressions_pass() {
    replay("footer_kid");
}

#[test]
fn contacts_body_regressions_pass() {
    replay("contacts_body");
}

#[test]
fn revocation_feed_regressions_pass() {
    replay("revocation_feed");
}

#[test]
fn every_fuzz_target_has_its_regressions_replayed_here() {
    let binaries: Vec<String> = files(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    let replayed: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    let mut binaries_sorted = binaries.clone();
    binaries_sorted.sort();
    let mut replayed_sorted = replayed.clone();
    replayed_sorted.sort();
    assert_eq!(
        binaries_sorted, replayed_sorted,
        "fuzz/fuzz_targets/ and TARGETS differ"
    );
}

/// Not a check: writes the seed corpora for a fuzzing session into
/// `fuzz/corpus/<target>/` (git-ignored): tokens and claims made with the
/// fixture keys, §9 footers and headers, scope lists, contact bodies, and the
/// official tokens of ../shared/testdata (PASETO, RFC 8037, Wycheproof JWS).
#[test]
#[ignore = "writes fuzz/corpus/: run by hand before fuzzing (fuzz/README.md)"]
fn write_seed_corpora() {
    let corpus = fuzz_dir().join("corpus");
    let mut seeds = targets::seeds();
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    for file in [
        "paseto/v4.json",
        "jwt/ed25519-jws-vectors.json",
        "wycheproof/json_web_signature_test.json",
    ] {
        let Ok(text) = std::fs::read_to_string(testdata.join(file)) else {
            eprintln!("skipping {file}: not found");
            continue;
        };
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let mut tokens = Vec::new();
        collect_tokens(&json, &mut tokens);
        for (i, token) in tokens.iter().enumerate() {
            let name = format!("vector-{}-{i}", file.replace('/', "-"));
            for target in ["token_paseto", "token_jwt"] {
                seeds.push((target, name.clone(), [b"\0", token.as_bytes()].concat()));
            }
        }
    }
    for (target, name, data) in &seeds {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        std::fs::write(dir.join(format!("seed-{name}")), data).expect("write seed");
    }
    eprintln!("wrote {} seeds under {}", seeds.len(), corpus.display());
}

/// Every string in `json` that looks like a token.
fn collect_tokens(json: &serde_json::Value, out: &mut Vec<String>) {
    match json {
        serde_json::Value::String(s)
            if s.len() > 20
                && ["v2.", "v3.", "v4.", "eyJ"]
                    .iter()
                    .any(|p| s.starts_with(p)) =>
        {
            out.push(s.clone());
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_tokens(v, out)),
        serde_json::Value::Object(members) => members.values().for_each(|v| collect_tokens(v, out)),
        _ => {}
    }
}
