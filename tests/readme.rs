//! The README's quickstart, run as written: every `sh` block of the Quickstart
//! section but the first (which puts the release binary on PATH; here the test
//! build's binary is put there instead), in a fresh directory. A line ending in
//! `# error: …` must fail with that message on stderr.

use std::path::Path;
use std::process::Command;

fn quickstart_script() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme.find("## Quickstart").expect("a Quickstart section");
    let end = start
        + readme[start..]
            .find("\n## ")
            .expect("a section after Quickstart");
    let section = &readme[start..end];

    let mut script = String::from("set -euo pipefail\n");
    for (i, block) in section.split("```sh\n").skip(1).enumerate() {
        let block = block.split("```").next().unwrap_or_default();
        if i == 0 {
            assert!(block.contains("PATH"), "the first block sets PATH");
            continue;
        }
        for line in block.lines() {
            match line.split_once("# error: ") {
                Some((command, message)) => script.push_str(&format!(
                    "if {command} 2>err.txt; then echo 'expected failure: {command}' >&2; exit 1; fi\n\
                     grep -qF -- '{message}' err.txt || {{ cat err.txt >&2; exit 1; }}\n"
                )),
                None => {
                    script.push_str(line);
                    script.push('\n');
                }
            }
        }
    }
    script
}

#[test]
fn the_readme_quickstart_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_informly")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(quickstart_script())
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("INFORMLY_DATABASE_URL")
        .env_remove("INFORMLY_KEYS_DIR")
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "quickstart failed:\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
