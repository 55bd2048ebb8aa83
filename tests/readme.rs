//! The README's quickstart, run as written against a real server: every `sh`
//! block of the Quickstart section except the one that puts the release binary
//! on PATH (the test build's binary is put there instead). The server runs as
//! the set-up command starts it, on a free port instead of 8080. A line ending
//! in `# error: …` must fail with that message on stderr.

mod common;

use std::path::Path;
use std::process::Command;

fn quickstart_script(port: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme.find("## Quickstart").expect("a Quickstart section");
    let end = start
        + readme[start + 1..]
            .find("\n## ")
            .expect("a section after Quickstart")
        + 1;
    let section = &readme[start..end];

    let mut script = String::from("set -euo pipefail\n");
    let mut blocks = 0;
    for block in section.split("```sh\n").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        if block.contains("export PATH") {
            continue;
        }
        blocks += 1;
        for line in block
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
            .lines()
        {
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
    assert!(blocks >= 5, "the quickstart has its blocks");
    script
}

#[tokio::test]
async fn the_readme_quickstart_runs_as_written() {
    let server = common::Server::start().await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_informly")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bash = Command::new("bash");
    bash.arg("-c")
        .arg(quickstart_script(&port))
        .current_dir(server.home.path())
        .env("PATH", path)
        .env_remove("INFORMLY_KEYS_DIR");
    // On SQLite the commands run on their defaults, as a newcomer's do; on
    // PostgreSQL they are pointed at the server's database.
    match server.home.backend {
        common::Backend::Sqlite => bash.env_remove("INFORMLY_DATABASE_URL"),
        common::Backend::Postgres => bash.env("INFORMLY_DATABASE_URL", server.home.database_url()),
    };
    let output = bash.output().expect("bash runs");
    assert!(
        output.status.success(),
        "quickstart failed:\n--- stdout\n{}\n--- stderr\n{}\n--- server log\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
}

informly_postgres_twins! {
    tests: [
        the_readme_quickstart_runs_as_written,
    ],
    sqlite_only: [
    ],
}
