//! The `informly` binary end to end: every test runs the real executable in
//! its own temporary directory (a `keys/` subdirectory and a SQLite database),
//! and checks stdout, stderr and the exit status the way a script or a person
//! at the terminal would see them.
//!
//! Conventions pinned here: `tokens issue` and `admin-token` print only the
//! token on stdout in text mode; `--json` prints JSON on stdout; every error is
//! exactly one line on stderr starting with `error:` and a non-zero exit
//! (2 for command-line usage errors).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An app id that is well formed but exists nowhere.
const UNKNOWN_APP: &str = "app_01ZZZZZZZZZZZZZZZZZZZZZZZZ";
const UNKNOWN_TOKEN: &str = "tok_01ZZZZZZZZZZZZZZZZZZZZZZZZ";

/// Environment variables that would change the binary's behaviour if the
/// developer running the tests happened to have them set.
const FOREIGN_ENV: [&str; 8] = [
    "INFORMLY_DATABASE_URL",
    "INFORMLY_KEYS_DIR",
    "INFORMLY_ISSUER",
    "INFORMLY_AUDIENCE",
    "INFORMLY_LEEWAY",
    "INFORMLY_MAX_TOKEN_LIFETIME",
    "INFORMLY_MAX_ADMIN_TOKEN_LIFETIME",
    "RUST_BACKTRACE",
];

/// What a finished command printed.
struct Out {
    stdout: String,
    stderr: String,
}

/// One installation: a temporary directory with `keys/` (mode 0700) and a
/// database (`informly.db`, or a PostgreSQL database of its own on the
/// PostgreSQL twins), handed to the binary through its environment variables.
struct Cli {
    home: common::Home,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            home: common::Home::create(),
        }
    }

    fn path(&self) -> &Path {
        self.home.path()
    }

    fn keys_dir(&self) -> PathBuf {
        self.path().join("keys")
    }

    fn db_path(&self) -> PathBuf {
        self.path().join("informly.db")
    }

    fn db_url(&self) -> String {
        self.home.database_url()
    }

    /// Another, empty keys directory (mode 0700) next to the real one.
    fn other_keys_dir(&self) -> PathBuf {
        let dir = self.path().join("other-keys");
        mkdir_private(&dir);
        dir
    }

    /// The binary with nothing from the caller's environment that matters,
    /// run in the temporary directory.
    fn bare_cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("informly").expect("the informly binary");
        for var in FOREIGN_ENV {
            cmd.env_remove(var);
        }
        cmd.current_dir(self.path());
        cmd
    }

    /// The binary pointed at this installation through the environment.
    fn cmd(&self) -> Command {
        let mut cmd = self.bare_cmd();
        cmd.env("INFORMLY_DATABASE_URL", self.db_url())
            .env("INFORMLY_KEYS_DIR", self.keys_dir());
        cmd
    }

    /// Runs `args`, asserts success and returns stdout and stderr.
    fn run_ok(&self, args: &[&str]) -> Out {
        succeed(self.cmd().args(args))
    }

    /// Runs `args`, asserts success and returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.run_ok(args).stdout
    }

    /// Runs `args --json`, asserts success and parses stdout.
    fn ok_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        parse_json(&self.ok(&all))
    }

    /// Runs `args`, asserts a failure reported as one `error:` line on stderr
    /// (and nothing on stdout), and returns that line.
    fn fails(&self, args: &[&str]) -> String {
        fail(self.cmd().args(args))
    }

    // Domain helpers.

    fn workspace_id(&self, name: &str) -> String {
        let list = self.ok_json(&["workspaces", "list"]);
        let ws = list
            .as_array()
            .expect("workspaces list --json is an array")
            .iter()
            .find(|w| w["name"] == name)
            .unwrap_or_else(|| panic!("no workspace {name} in {list:#}"));
        str_field(ws, "id").to_owned()
    }

    fn create_workspace(&self, name: &str) -> String {
        let ws = self.ok_json(&["workspaces", "create", "--name", name]);
        assert_eq!(ws["name"], name, "{ws:#}");
        str_field(&ws, "id").to_owned()
    }

    fn create_app(&self, name: &str) -> String {
        let app = self.ok_json(&["apps", "create", "--name", name]);
        str_field(&app, "id").to_owned()
    }

    /// Issues a `contacts:read` token of `format` for an hour; returns the record
    /// with the `token` field.
    fn issue_json(&self, app: &str, format: &str) -> Value {
        self.ok_json(&[
            "tokens",
            "issue",
            "--app",
            app,
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
            "--format",
            format,
        ])
    }

    /// Issues a token in text mode and returns it (stdout must be the token alone).
    fn issue(&self, app: &str, format: &str) -> String {
        let out = self.ok(&[
            "tokens",
            "issue",
            "--app",
            app,
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
            "--format",
            format,
        ]);
        only_line(&out)
    }

    fn verify_json(&self, token: &str, extra: &[&str]) -> Value {
        let mut args = vec!["verify", token];
        args.extend_from_slice(extra);
        self.ok_json(&args)
    }

    fn keys_list(&self) -> Vec<Value> {
        self.ok_json(&["keys", "list"])
            .as_array()
            .expect("keys list --json is an array")
            .clone()
    }

    fn key_status(&self, kid: &str) -> String {
        let keys = self.keys_list();
        let key = keys
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap_or_else(|| panic!("no key {kid} in {keys:#?}"));
        str_field(key, "status").to_owned()
    }

    fn active_kid(&self, format: &str) -> String {
        let keys = self.keys_list();
        let active: Vec<&Value> = keys
            .iter()
            .filter(|k| k["format"] == format && k["status"] == "active")
            .collect();
        assert_eq!(
            active.len(),
            1,
            "exactly one active {format} key: {keys:#?}"
        );
        str_field(active[0], "kid").to_owned()
    }

    /// Rotates keys and returns the added entries (`kid`, `format`, `activates_at`).
    fn rotate(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["keys", "rotate"];
        all.extend_from_slice(args);
        self.ok_json(&all)
            .as_array()
            .expect("keys rotate --json is an array")
            .clone()
    }

    fn export(&self, flag: &str) -> Value {
        parse_json(&self.ok(&["keys", "export-public", flag]))
    }

    fn key_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.keys_dir())
            .expect("the keys directory")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        files
    }
}

fn mkdir_private(dir: &Path) {
    fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).expect("chmod 700");
}

fn run(cmd: &mut Command) -> (std::process::Output, Out) {
    let output = cmd.output().expect("the binary runs");
    let out = Out {
        stdout: String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8"),
    };
    // Every token printed is remembered, and what the CLI logs is kept: at
    // the end of the test neither may hold a token or a key secret.
    common::remember_tokens_in(&out.stdout);
    CLI_STDERR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push_str(&out.stderr);
    (output, out)
}

/// Everything the CLI wrote to stderr in this test binary.
static CLI_STDERR: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

impl Drop for Cli {
    /// Nothing the CLI logged (here or in any earlier test of this binary)
    /// holds a token it printed, or a secret of this installation's keys.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let logged = CLI_STDERR.lock().unwrap_or_else(|e| e.into_inner()).clone();
        common::assert_no_secrets("the CLI's stderr", &logged, &self.home.key_secrets());
    }
}

fn succeed(cmd: &mut Command) -> Out {
    let (output, out) = run(cmd);
    assert!(
        output.status.success(),
        "expected success: {cmd:?}\nstatus: {}\nstdout: {}\nstderr: {}",
        output.status,
        out.stdout,
        out.stderr
    );
    assert_no_panic(&out.stderr);
    out
}

fn fail(cmd: &mut Command) -> String {
    fail_with_code(cmd, None)
}

/// Asserts a failure (with `code` if given) reported as exactly one line on
/// stderr starting with `error:`, nothing on stdout; returns the line.
fn fail_with_code(cmd: &mut Command, code: Option<i32>) -> String {
    let (output, out) = run(cmd);
    assert!(
        !output.status.success(),
        "expected failure: {cmd:?}\nstdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    let actual = output.status.code();
    assert!(
        actual.is_some_and(|c| c != 0),
        "non-zero exit code, got {actual:?}"
    );
    if let Some(code) = code {
        assert_eq!(
            actual,
            Some(code),
            "exit code of {cmd:?}; stderr: {}",
            out.stderr
        );
    }
    assert_no_panic(&out.stderr);
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "an error is exactly one line on stderr: {cmd:?}\nstderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.starts_with("error:"),
        "an error line starts with `error:`: {}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with('\n'),
        "the error line ends with a newline: {:?}",
        out.stderr
    );
    assert_eq!(
        out.stdout, "",
        "nothing on stdout when a command fails: {cmd:?}"
    );
    out.stderr.trim_end().to_owned()
}

fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "the binary panicked:\n{stderr}"
    );
}

fn parse_json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{s}"))
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v:#}"))
}

/// The single line of `out`, which must end with a newline.
fn only_line(out: &str) -> String {
    assert!(out.ends_with('\n'), "output ends with a newline: {out:?}");
    let line = &out[..out.len() - 1];
    assert!(!line.contains('\n'), "output is exactly one line: {out:?}");
    assert!(!line.is_empty(), "output is not empty");
    line.to_owned()
}

fn unix(rfc3339: &str) -> i64 {
    OffsetDateTime::parse(rfc3339, &Rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339} is not RFC 3339: {e}"))
        .unix_timestamp()
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected {needle:?} in:\n{haystack}"
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn scopes(v: &Value) -> Vec<&str> {
    v["scopes"]
        .as_array()
        .unwrap_or_else(|| panic!("`scopes` is not an array in {v:#}"))
        .iter()
        .map(|s| s.as_str().expect("a scope is a string"))
        .collect()
}

fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, contents).expect("write a file");
    path
}

// Workspaces and apps.

#[test]
fn workspaces_and_apps_are_created_and_listed_in_text_and_json() {
    let cli = Cli::new();

    // A fresh install has the default workspace and no apps.
    let text = cli.ok(&["workspaces", "list"]);
    assert!(text.starts_with("ID"), "a header row: {text}");
    assert_contains(&text, "NAME");
    assert_contains(&text, "default");
    assert_eq!(cli.ok(&["apps", "list"]).trim(), "(none)");
    let default_id = cli.workspace_id("default");
    assert!(default_id.starts_with("ws_"), "{default_id}");

    // A named workspace, in text then in JSON.
    let created = only_line(&cli.ok(&["workspaces", "create", "--name", "acme"]));
    assert!(created.starts_with("created workspace ws_"), "{created}");
    assert_contains(&created, "acme");
    let acme_id = cli.workspace_id("acme");
    let beta = cli.ok_json(&["workspaces", "create", "--name", "beta"]);
    assert!(str_field(&beta, "id").starts_with("ws_"), "{beta:#}");
    unix(str_field(&beta, "created_at"));

    let list = cli.ok_json(&["workspaces", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| str_field(w, "name"))
        .collect();
    assert_eq!(names.len(), 3, "{list:#}");
    for name in ["default", "acme", "beta"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let text = cli.ok(&["workspaces", "list"]);
    for id in [&default_id, &acme_id] {
        assert_contains(&text, id);
    }

    // An app in the default workspace.
    let crm = cli.ok_json(&[
        "apps",
        "create",
        "--name",
        "crm",
        "--description",
        "The CRM sync",
    ]);
    let crm_id = str_field(&crm, "id").to_owned();
    assert!(crm_id.starts_with("app_"), "{crm:#}");
    assert_eq!(crm["workspace_id"], default_id.as_str());
    assert_eq!(crm["name"], "crm");
    assert_eq!(crm["description"], "The CRM sync");
    unix(str_field(&crm, "created_at"));

    // Apps in a named workspace, by name and by id; the same app name is
    // fine in another workspace.
    let text = only_line(&cli.ok(&["apps", "create", "--name", "crm", "--workspace", "acme"]));
    assert!(text.starts_with("created app app_"), "{text}");
    assert_contains(&text, "acme");
    let shop = cli.ok_json(&["apps", "create", "--name", "shop", "--workspace", &acme_id]);
    assert_eq!(shop["workspace_id"], acme_id.as_str());
    assert_eq!(shop["description"], Value::Null);

    let default_apps = cli.ok_json(&["apps", "list"]);
    let default_apps = default_apps.as_array().unwrap();
    assert_eq!(default_apps.len(), 1, "{default_apps:#?}");
    assert_eq!(default_apps[0]["id"], crm_id.as_str());

    let acme_apps = cli.ok_json(&["apps", "list", "--workspace", "acme"]);
    let acme_apps = acme_apps.as_array().unwrap();
    assert_eq!(acme_apps.len(), 2, "{acme_apps:#?}");
    assert!(
        acme_apps
            .iter()
            .all(|a| a["workspace_id"] == acme_id.as_str())
    );
    let mut acme_names: Vec<&str> = acme_apps.iter().map(|a| str_field(a, "name")).collect();
    acme_names.sort_unstable();
    assert_eq!(acme_names, ["crm", "shop"]);
    assert!(acme_apps.iter().all(|a| a["id"] != crm_id.as_str()));

    let text = cli.ok(&["apps", "list"]);
    assert!(text.starts_with("ID"), "a header row: {text}");
    for cell in [
        "NAME",
        "DESCRIPTION",
        crm_id.as_str(),
        "crm",
        "The CRM sync",
    ] {
        assert_contains(&text, cell);
    }
    assert_eq!(
        cli.ok(&["apps", "list", "--workspace", "beta"]).trim(),
        "(none)"
    );

    // `--json` is global: before the subcommand too.
    let list = parse_json(&cli.ok(&["--json", "apps", "list", "--workspace", "acme"]));
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[test]
fn migrate_reports_an_up_to_date_database_in_text_and_json() {
    let cli = Cli::new();
    assert_eq!(only_line(&cli.ok(&["migrate"])), "database is up to date");
    assert_eq!(
        cli.ok_json(&["migrate"]),
        serde_json::json!({"migrated": true})
    );
}

#[test]
fn the_database_and_keys_directory_can_be_given_as_flags_instead_of_environment_variables() {
    let cli = Cli::new();
    let db = cli.db_url();
    let keys = cli.keys_dir().display().to_string();
    let app = parse_json(
        &succeed(cli.bare_cmd().args([
            "--database-url",
            &db,
            "--keys-dir",
            &keys,
            "--json",
            "apps",
            "create",
            "--name",
            "flags",
        ]))
        .stdout,
    );
    let app_id = str_field(&app, "id");
    // Flags after the subcommand, too.
    let token = only_line(
        &succeed(cli.bare_cmd().args([
            "tokens",
            "issue",
            "--app",
            app_id,
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
            "--database-url",
            &db,
            "--keys-dir",
            &keys,
        ]))
        .stdout,
    );
    // The environment variables name the same installation.
    let verified = cli.verify_json(&token, &[]);
    assert_eq!(verified["subject"], app_id);
    assert_eq!(cli.key_files().len(), 1);
    // A flag wins over its environment variable.
    let elsewhere = cli.other_keys_dir();
    let list = parse_json(
        &succeed(
            cli.cmd()
                .args(["keys", "list", "--json", "--keys-dir"])
                .arg(&elsewhere),
        )
        .stdout,
    );
    assert_eq!(list, serde_json::json!([]));
}

// Issuing and verifying.

#[test]
fn tokens_issue_prints_only_the_token_on_stdout_and_the_details_on_stderr() {
    let cli = Cli::new();
    let app = cli.create_app("crm");

    let out = cli.run_ok(&[
        "tokens",
        "issue",
        "--app",
        &app,
        "--scope",
        "contacts:read",
        "--expires-in",
        "1h",
    ]);
    let paseto = only_line(&out.stdout);
    assert!(paseto.starts_with("v4.public."), "{paseto}");
    assert_contains(&out.stderr, "generated the first paseto signing key");
    assert_contains(&out.stderr, "issued paseto token tok_");
    assert_contains(&out.stderr, "shown only once");
    assert!(
        !out.stderr.contains(&paseto),
        "the token is printed once, on stdout"
    );

    let out = cli.run_ok(&[
        "tokens",
        "issue",
        "--app",
        &app,
        "--scope",
        "contacts:read",
        "--expires-in",
        "1h",
        "--format",
        "jwt",
    ]);
    let jwt = only_line(&out.stdout);
    assert!(jwt.starts_with("eyJ"), "{jwt}");
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    assert_contains(&out.stderr, "generated the first jwt signing key");
    assert_contains(&out.stderr, "issued jwt token tok_");

    // The second token of a format finds its key: nothing is generated.
    let out = cli.run_ok(&[
        "tokens",
        "issue",
        "--app",
        &app,
        "--scope",
        "contacts:read",
        "--expires-in",
        "1h",
    ]);
    assert!(!out.stderr.contains("generated"), "{}", out.stderr);
    assert_eq!(cli.key_files().len(), 2);
}

#[test]
fn tokens_issue_with_json_prints_the_record_and_the_token() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let ws = cli.workspace_id("default");

    for format in ["paseto", "jwt"] {
        let issued = cli.ok_json(&[
            "tokens",
            "issue",
            "--app",
            &app,
            "--scope",
            "contacts:read,contacts:write",
            "--scope",
            "coupons:validate",
            "--expires-in",
            "2h",
            "--format",
            format,
            "--name",
            "nightly sync",
        ]);
        let id = str_field(&issued, "id");
        assert!(id.starts_with("tok_"), "{issued:#}");
        assert_eq!(issued["app_id"], app.as_str());
        assert_eq!(issued["workspace_id"], ws.as_str());
        assert_eq!(issued["name"], "nightly sync");
        assert_eq!(issued["format"], format);
        assert_eq!(issued["revoked_at"], Value::Null);
        let mut got = scopes(&issued);
        got.sort_unstable();
        assert_eq!(got, ["contacts:read", "contacts:write", "coupons:validate"]);
        let lifetime =
            unix(str_field(&issued, "expires_at")) - unix(str_field(&issued, "created_at"));
        assert_eq!(lifetime, 7200, "{issued:#}");
        let token = str_field(&issued, "token");
        match format {
            "paseto" => assert!(token.starts_with("v4.public."), "{token}"),
            _ => assert!(token.starts_with("eyJ"), "{token}"),
        }
        assert_eq!(str_field(&issued, "kid"), cli.active_kid(format));
    }

    // --expires-at: the record expires exactly then.
    let at = OffsetDateTime::from_unix_timestamp(now() + 3 * 3600).unwrap();
    let at = at.format(&Rfc3339).unwrap();
    let issued = cli.ok_json(&[
        "tokens",
        "issue",
        "--app",
        &app,
        "--scope",
        "contacts:read",
        "--expires-at",
        &at,
    ]);
    assert_eq!(unix(str_field(&issued, "expires_at")), unix(&at));
    assert_eq!(issued["format"], "paseto", "PASETO is the default format");
}

#[test]
fn paseto_and_jwt_tokens_verify_offline_with_the_keys_directory() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let ws = cli.workspace_id("default");

    for format in ["paseto", "jwt"] {
        let issued = cli.issue_json(&app, format);
        let token = str_field(&issued, "token");

        let out = cli.run_ok(&["verify", token]);
        assert!(
            out.stdout.starts_with(&format!("valid {format} token\n")),
            "{}",
            out.stdout
        );
        assert_contains(&out.stdout, str_field(&issued, "id"));
        assert_contains(&out.stdout, &app);
        assert_contains(&out.stdout, "contacts:read");
        assert_contains(&out.stdout, str_field(&issued, "kid"));
        assert_contains(&out.stderr, "revocation is not checked");

        let verified = cli.verify_json(token, &[]);
        assert_eq!(verified["valid"], true);
        assert_eq!(verified["revocation_checked"], false);
        assert_eq!(verified["format"], format);
        assert_eq!(verified["kid"], issued["kid"]);
        assert_eq!(verified["token_id"], issued["id"]);
        assert_eq!(verified["workspace"], ws.as_str());
        assert_eq!(verified["subject"], app.as_str());
        assert_eq!(scopes(&verified), ["contacts:read"]);
        assert_eq!(verified["expires_at"], issued["expires_at"]);
    }
}

#[test]
fn tokens_verify_with_only_the_exported_public_documents() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let paseto = cli.issue_json(&app, "paseto");
    let jwt = cli.issue_json(&app, "jwt");
    let paseto_token = str_field(&paseto, "token");
    let jwt_token = str_field(&jwt, "token");

    // The documents, as a downstream service would receive them.
    let paserk_text = cli.ok(&["keys", "export-public"]);
    assert_eq!(
        parse_json(&paserk_text),
        cli.export("--paserk"),
        "--paserk is the default"
    );
    let paserk_doc = parse_json(&paserk_text);
    let paserk_keys = paserk_doc["keys"].as_array().expect("a `keys` array");
    assert_eq!(paserk_keys.len(), 1, "{paserk_doc:#}");
    assert_eq!(paserk_keys[0]["kid"], paseto["kid"]);
    assert_eq!(paserk_keys[0]["status"], "active");
    let public_key = str_field(&paserk_keys[0], "paserk");
    assert!(public_key.starts_with("k4.public."), "{public_key}");

    let jwks_text = cli.ok(&["keys", "export-public", "--jwks"]);
    let jwks_doc = parse_json(&jwks_text);
    let jwks_keys = jwks_doc["keys"].as_array().expect("a `keys` array");
    assert_eq!(jwks_keys.len(), 1, "{jwks_doc:#}");
    let jwk = &jwks_keys[0];
    assert_eq!(jwk["kid"], jwt["kid"]);
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["use"], "sig");
    assert!(
        jwk.get("d").is_none(),
        "no private part in the JWKS: {jwk:#}"
    );
    assert!(
        !paserk_text.contains("secret"),
        "no secret key in the PASERK set"
    );

    let docs = tempfile::tempdir().unwrap();
    let paserk_file = write_file(docs.path(), "paserk.json", &paserk_text);
    let jwks_file = write_file(docs.path(), "jwks.json", &jwks_text);
    let paserk_file = paserk_file.to_str().unwrap();
    let jwks_file = jwks_file.to_str().unwrap();

    // An empty keys directory: verifying from it alone fails, so the
    // successes below come from the documents.
    let empty = cli.other_keys_dir();
    let empty = empty.to_str().unwrap();
    let err = cli.fails(&["verify", paseto_token, "--keys-dir", empty]);
    assert_contains(&err, "unknown key");

    let cases: [(&str, &Value, [&str; 2]); 3] = [
        (paseto_token, &paseto, ["--paserk", paserk_file]),
        (paseto_token, &paseto, ["--paserk", public_key]),
        (jwt_token, &jwt, ["--jwks", jwks_file]),
    ];
    for (token, issued, flags) in cases {
        for keys_dir in [empty, "/nonexistent/informly-cli-test/keys"] {
            let mut args = vec!["verify", token, "--keys-dir", keys_dir];
            args.extend_from_slice(&flags);
            let out = cli.run_ok(&args);
            assert!(
                out.stdout.starts_with("valid "),
                "{flags:?}: {}",
                out.stdout
            );
            assert_contains(&out.stderr, "revocation is not checked");

            let verified = cli.verify_json(token, &["--keys-dir", keys_dir, flags[0], flags[1]]);
            assert_eq!(verified["token_id"], issued["id"], "{flags:?}");
            assert_eq!(verified["kid"], issued["kid"], "{flags:?}");
            assert_eq!(verified["format"], issued["format"], "{flags:?}");
        }
    }
    assert!(!Path::new("/nonexistent/informly-cli-test").exists());
}

#[test]
fn verify_reads_the_token_from_stdin_when_given_a_dash() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    for format in ["paseto", "jwt"] {
        let issued = cli.issue_json(&app, format);
        let token = str_field(&issued, "token");
        let out = succeed(
            cli.cmd()
                .args(["verify", "-", "--json"])
                .write_stdin(format!("{token}\n")),
        );
        let verified = parse_json(&out.stdout);
        assert_eq!(verified["token_id"], issued["id"]);
        assert_eq!(verified["format"], format);
        assert_contains(&out.stderr, "revocation is not checked");
    }
    // Nothing on stdin is an invalid token, not a hang or a panic.
    let err = fail(cli.cmd().args(["verify", "-"]).write_stdin(""));
    assert_contains(&err, "token rejected");
}

#[test]
fn a_paseto_token_does_not_verify_with_only_the_jwks_and_a_jwt_not_with_only_the_paserk_keys() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let paseto = cli.issue(&app, "paseto");
    let jwt = cli.issue(&app, "jwt");

    let docs = tempfile::tempdir().unwrap();
    let paserk_text = cli.ok(&["keys", "export-public", "--paserk"]);
    let public_key = str_field(&parse_json(&paserk_text)["keys"][0], "paserk").to_owned();
    let paserk_file = write_file(docs.path(), "paserk.json", &paserk_text);
    let jwks_file = write_file(
        docs.path(),
        "jwks.json",
        &cli.ok(&["keys", "export-public", "--jwks"]),
    );
    let paserk_file = paserk_file.to_str().unwrap();
    let jwks_file = jwks_file.to_str().unwrap();
    let empty = cli.other_keys_dir();
    let empty = empty.to_str().unwrap();

    let cases = [
        (&paseto, ["--jwks", jwks_file]),
        (&jwt, ["--paserk", paserk_file]),
        (&jwt, ["--paserk", public_key.as_str()]),
    ];
    for (token, flags) in cases {
        let err = cli.fails(&["verify", token, "--keys-dir", empty, flags[0], flags[1]]);
        assert!(err.starts_with("error: token rejected:"), "{err}");
        assert!(
            err.contains("unknown key") || err.contains("other format"),
            "the reason says the key is not there: {err}"
        );
    }
    // A PASERK key of another version is refused as a key, not looked for
    // as a file of that name.
    let k3 = public_key.replacen("k4.", "k3.", 1);
    let err = cli.fails(&["verify", &paseto, "--keys-dir", empty, "--paserk", &k3]);
    assert_eq!(err, "error: --paserk: not a PASERK k4.public key");
}

// Keys.

#[test]
fn keys_rotate_without_a_delay_activates_the_new_keys_at_once() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let old_paseto = cli.issue_json(&app, "paseto");
    let old_jwt = cli.issue_json(&app, "jwt");
    let old_kids = [str_field(&old_paseto, "kid"), str_field(&old_jwt, "kid")];

    let added = cli.rotate(&[]);
    assert_eq!(added.len(), 2, "both formats by default: {added:#?}");
    let mut formats: Vec<&str> = added.iter().map(|a| str_field(a, "format")).collect();
    formats.sort_unstable();
    assert_eq!(formats, ["jwt", "paseto"]);
    assert!(unix(str_field(&added[0], "activates_at")) <= now());

    for (old, format) in [(&old_paseto, "paseto"), (&old_jwt, "jwt")] {
        let new = added.iter().find(|a| a["format"] == format).unwrap();
        let new_kid = str_field(new, "kid");
        assert!(!old_kids.contains(&new_kid), "a new key id");
        assert_eq!(
            cli.key_status(new_kid),
            "active",
            "the new {format} key signs at once"
        );
        assert_eq!(
            cli.key_status(str_field(old, "kid")),
            "retiring",
            "the old {format} key"
        );
        assert_eq!(cli.active_kid(format), new_kid);

        // Tokens issued before still verify, with the old key.
        let verified = cli.verify_json(str_field(old, "token"), &[]);
        assert_eq!(verified["kid"], old["kid"]);

        // New tokens are signed by the new key.
        let issued = cli.issue_json(&app, format);
        assert_eq!(issued["kid"], new_kid);
        let verified = cli.verify_json(str_field(&issued, "token"), &[]);
        assert_eq!(verified["kid"], new_kid);
    }

    // Both generations are published.
    let paserk = cli.export("--paserk");
    let statuses: Vec<(&str, &str)> = paserk["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (str_field(k, "kid"), str_field(k, "status")))
        .collect();
    assert_eq!(statuses.len(), 2, "{paserk:#}");
    assert!(
        statuses.contains(&(old_kids[0], "retiring")),
        "{statuses:?}"
    );
    assert_eq!(cli.export("--jwks")["keys"].as_array().unwrap().len(), 2);
}

#[test]
fn each_rotation_activates_the_key_it_adds_even_within_the_same_second() {
    // Key times are whole seconds, so several rotations in a row usually share
    // one second; the key just added must still be the one that signs.
    let cli = Cli::new();
    let app = cli.create_app("crm");
    cli.issue(&app, "paseto");
    for round in 1..=5 {
        let added = cli.rotate(&["--format", "paseto"]);
        let kid = str_field(&added[0], "kid");
        assert_eq!(
            cli.key_status(kid),
            "active",
            "rotation {round}: the key just added signs; keys: {:#?}",
            cli.keys_list()
        );
        let issued = cli.issue_json(&app, "paseto");
        assert_eq!(
            issued["kid"], kid,
            "rotation {round}: new tokens use the new key"
        );
    }
}

#[test]
fn keys_rotate_with_activate_after_adds_a_pending_key_that_is_published_but_does_not_sign() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let before = cli.issue_json(&app, "paseto");
    let old_kid = str_field(&before, "kid");

    let text = only_line(&cli.ok(&[
        "keys",
        "rotate",
        "--format",
        "paseto",
        "--activate-after",
        "1h",
    ]));
    assert!(text.starts_with("added paseto key k4.pid."), "{text}");
    let keys = cli.keys_list();
    assert_eq!(keys.len(), 2, "only a PASETO key was added: {keys:#?}");
    let new = keys.iter().find(|k| k["kid"] != old_kid).unwrap();
    let new_kid = str_field(new, "kid");
    assert_eq!(new["format"], "paseto");
    assert_eq!(new["status"], "pending");
    assert!(new_kid.starts_with("k4.pid."), "{new_kid}");
    let delay = unix(str_field(new, "activates_at")) - unix(str_field(new, "created_at"));
    assert_eq!(delay, 3600, "{new:#}");
    assert_eq!(cli.key_status(old_kid), "active");

    // New tokens are still signed by the old key.
    let issued = cli.issue_json(&app, "paseto");
    assert_eq!(issued["kid"], old_kid);
    assert_eq!(
        cli.verify_json(str_field(&issued, "token"), &[])["kid"],
        old_kid
    );

    // The pending key is already published, marked pending.
    let paserk = cli.export("--paserk");
    let published = paserk["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == new_kid)
        .unwrap_or_else(|| panic!("pending key {new_kid} is published: {paserk:#}"));
    assert_eq!(published["status"], "pending");
    assert!(str_field(published, "paserk").starts_with("k4.public."));

    // A pending JWT key goes to the JWKS the same way.
    cli.issue(&app, "jwt");
    let added = cli.rotate(&["--format", "jwt", "--activate-after", "15m"]);
    let jwt_kid = str_field(&added[0], "kid");
    assert_eq!(cli.key_status(jwt_kid), "pending");
    let jwks = cli.export("--jwks");
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == jwt_kid),
        "pending JWT key is published: {jwks:#}"
    );
}

#[test]
fn old_tokens_verify_until_their_key_is_retired_and_fail_after() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let old = [cli.issue_json(&app, "paseto"), cli.issue_json(&app, "jwt")];
    cli.rotate(&[]);

    for issued in &old {
        let kid = str_field(issued, "kid");
        let token = str_field(issued, "token");
        assert_eq!(cli.key_status(kid), "retiring");
        assert_eq!(
            cli.verify_json(token, &[])["kid"],
            kid,
            "verifies while retiring"
        );

        let text = only_line(&cli.ok(&["keys", "retire", kid]));
        assert!(text.starts_with(&format!("retired key {kid}")), "{text}");
        assert_eq!(cli.key_status(kid), "retired");

        let err = cli.fails(&["verify", token]);
        assert_contains(&err, "retired");

        let err = cli.fails(&["keys", "retire", kid]);
        assert_contains(&err, "already retired");
    }

    // Retired keys are not published.
    let paserk = cli.ok(&["keys", "export-public", "--paserk"]);
    let jwks = cli.ok(&["keys", "export-public", "--jwks"]);
    for issued in &old {
        let kid = str_field(issued, "kid");
        assert!(
            !paserk.contains(kid) && !jwks.contains(kid),
            "{kid} is not published"
        );
    }
    assert_eq!(parse_json(&paserk)["keys"].as_array().unwrap().len(), 1);
    assert_eq!(parse_json(&jwks)["keys"].as_array().unwrap().len(), 1);

    // New tokens still verify.
    for format in ["paseto", "jwt"] {
        let issued = cli.issue_json(&app, format);
        cli.verify_json(str_field(&issued, "token"), &[]);
    }

    let err = cli.fails(&["keys", "retire", "k4.pid.nope"]);
    assert_contains(&err, "k4.pid.nope");
}

#[test]
fn retiring_the_active_key_is_refused_with_a_hint_to_rotate_first() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    for format in ["paseto", "jwt"] {
        let issued = cli.issue_json(&app, format);
        let kid = str_field(&issued, "kid");
        let err = cli.fails(&["keys", "retire", kid]);
        assert_contains(&err, "rotate first");
        assert_contains(&err, "keys rotate");
        assert_eq!(cli.key_status(kid), "active");
        cli.verify_json(str_field(&issued, "token"), &[]);
    }
}

// Revocation and deletion.

#[test]
fn a_revoked_token_shows_as_revoked_in_the_token_list() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let kept = cli.issue_json(&app, "paseto");
    let revoked = cli.issue_json(&app, "jwt");
    let revoked_id = str_field(&revoked, "id");
    let kept_id = str_field(&kept, "id");

    let text = only_line(&cli.ok(&["tokens", "revoke", revoked_id]));
    assert_eq!(text, format!("revoked token {revoked_id}"));

    let list = cli.ok_json(&["tokens", "list", "--app", &app]);
    let list = list.as_array().expect("tokens list --json is an array");
    assert_eq!(list.len(), 2, "{list:#?}");
    let find = |id: &str| list.iter().find(|t| t["id"] == id).unwrap().clone();
    let record = find(revoked_id);
    let revoked_at = str_field(&record, "revoked_at").to_owned();
    assert!((unix(&revoked_at) - now()).abs() < 60, "{record:#}");
    assert_eq!(find(kept_id)["revoked_at"], Value::Null);
    for record in list {
        assert!(
            record.get("token").is_none(),
            "a listed record carries no token: {record:#}"
        );
    }

    let text = cli.ok(&["tokens", "list", "--app", &app]);
    let row = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("a row for {id} in:\n{text}"))
            .to_owned()
    };
    assert_contains(&row(revoked_id), "revoked");
    assert!(!row(kept_id).contains("revoked"), "{}", row(kept_id));
    assert_contains(&row(kept_id), "active");
    assert!(
        !text.contains(str_field(&kept, "token")),
        "the list never shows a token"
    );

    // Revoking again changes nothing.
    let again = cli.ok_json(&["tokens", "revoke", revoked_id]);
    assert_eq!(again["revoked_at"], revoked_at.as_str());

    // Offline verification cannot know, and says so.
    let out = cli.run_ok(&["verify", str_field(&revoked, "token")]);
    assert_contains(&out.stderr, "revocation is not checked");
}

#[test]
fn tokens_revoke_all_revokes_every_token_of_the_app_by_name_and_later_tokens_stay_active() {
    let cli = Cli::new();
    let app = cli.create_app("Nightly export");
    let first = cli.issue_json(&app, "paseto");
    let second = cli.issue_json(&app, "jwt");

    let text = only_line(&cli.ok(&["tokens", "revoke", "--app", "Nightly export", "--all"]));
    assert_eq!(
        text,
        format!("revoked every token of app {app}; tokens issued from now on work")
    );
    let later = cli.issue_json(&app, "paseto");
    let list = cli.ok_json(&["tokens", "list", "--app", &app]);
    let status = |record: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == record["id"])
            .map(|t| t["status"].clone())
            .unwrap()
    };
    assert_eq!(status(&first), "revoked");
    assert_eq!(status(&second), "revoked");
    assert_eq!(status(&later), "active");
    let json = cli.ok_json(&["tokens", "revoke", "--app", &app, "--all"]);
    assert_eq!(json, serde_json::json!({"app": app, "revoked": "all"}));

    // Usage mistakes: one line, exit 2.
    for args in [
        &["tokens", "revoke"][..],
        &["tokens", "revoke", "--all"],
        &["tokens", "revoke", "--app", &app],
    ] {
        let err = fail_with_code(cli.cmd().args(args), Some(2));
        assert_contains(&err, "error:");
    }
}

#[test]
fn tokens_list_shows_last_used_and_uses_and_filters_tokens_unused_for_a_while() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let issued = cli.issue_json(&app, "paseto");
    let text = cli.ok(&["tokens", "list", "--app", &app]);
    let header = text.lines().next().unwrap_or_default();
    assert!(
        header.contains("LAST USED") && header.contains("USES"),
        "{text}"
    );
    assert_contains(&text, "never");

    let listed = cli.ok_json(&["tokens", "list", "--app", &app, "--unused-for", "0s"]);
    assert_eq!(listed[0]["id"], issued["id"]);
    assert_eq!(listed[0]["last_used_at"], Value::Null);
    assert_eq!(listed[0]["uses"], 0);
    assert_eq!(listed[0]["used_scopes"], serde_json::json!([]));
    assert_eq!(
        listed[0]["unused_scopes"],
        serde_json::json!(["contacts:read"])
    );
    let fresh = cli.ok_json(&["tokens", "list", "--app", &app, "--unused-for", "1d"]);
    assert_eq!(
        fresh,
        serde_json::json!([]),
        "issued just now: not unused for a day"
    );
    let err = fail(
        cli.cmd()
            .args(["tokens", "list", "--app", &app, "--unused-for", "1mo"]),
    );
    assert_contains(&err, "--unused-for");
}

#[test]
fn tokens_roll_prints_the_successor_once_says_when_the_old_token_stops_and_refuses_a_second_roll() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let old = cli.issue_json(&app, "jwt");
    let old_id = str_field(&old, "id");

    let out = cli.run_ok(&[
        "tokens",
        "roll",
        old_id,
        "--expires-in",
        "30d",
        "--overlap",
        "1h",
    ]);
    let token = only_line(&out.stdout);
    assert!(
        token.starts_with("v4.public.") || token.starts_with("ey"),
        "{token}"
    );
    assert!(
        token.starts_with("ey"),
        "the old token's format (JWT): {token}"
    );
    assert_contains(&out.stderr, &format!("token {old_id} stops working at "));
    let verified = cli.verify_json(&token, &[]);
    assert_eq!(verified["scopes"], serde_json::json!(["contacts:read"]));

    let list = cli.ok_json(&["tokens", "list", "--app", &app]);
    let find = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone()
    };
    let rolled = find(old_id);
    assert_eq!(rolled["status"], "rolling");
    let successor = find(rolled["replaced_by"].as_str().expect("replaced_by"));
    assert_eq!(successor["replaces"], old_id);
    let stops = unix(str_field(&rolled, "revoked_at"));
    assert!((stops - (now() + 3600)).abs() < 60, "{rolled:#}");

    let err = fail(
        cli.cmd()
            .args(["tokens", "roll", old_id, "--expires-in", "30d"]),
    );
    assert_contains(&err, "already rolled");
    assert_contains(&err, successor["id"].as_str().unwrap());
    let err = fail(cli.cmd().args([
        "tokens",
        "roll",
        successor["id"].as_str().unwrap(),
        "--expires-in",
        "30d",
        "--overlap",
        "8d",
    ]));
    assert_contains(&err, "--overlap");
    // One of --expires-in and --expires-at is required.
    fail_with_code(cli.cmd().args(["tokens", "roll", old_id]), Some(2));
}

#[test]
fn tokens_list_without_an_app_lists_every_apps_tokens_and_those_expiring_soon() {
    let cli = Cli::new();
    let crm = cli.create_app("crm");
    let export = cli.create_app("export");
    let soon = cli.ok_json(&[
        "tokens",
        "issue",
        "--app",
        &crm,
        "--scope",
        "contacts:read",
        "--expires-in",
        "3d",
    ]);
    let later = cli.ok_json(&[
        "tokens",
        "issue",
        "--app",
        &export,
        "--scope",
        "contacts:read",
        "--expires-in",
        "60d",
    ]);
    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = cli.ok_json(&["tokens", "list"]);
    assert_eq!(
        ids(&all),
        vec![str_field(&soon, "id"), str_field(&later, "id")]
    );
    let expiring = cli.ok_json(&["tokens", "list", "--expiring-within", "14d"]);
    assert_eq!(ids(&expiring), vec![str_field(&soon, "id")]);
    let text = cli.ok(&["tokens", "list", "--expiring-within", "14d"]);
    assert!(
        text.lines().next().unwrap_or_default().contains("APP"),
        "{text}"
    );
    assert_contains(&text, &crm);
    let of_app = cli.ok_json(&[
        "tokens",
        "list",
        "--app",
        "export",
        "--expiring-within",
        "14d",
    ]);
    assert_eq!(of_app, serde_json::json!([]));
    let err = fail(cli.cmd().args(["tokens", "list", "--unused-for", "1d"]));
    assert_contains(&err, "--unused-for needs --app");
}

#[test]
fn revoking_an_unknown_token_or_one_of_another_workspace_fails_as_not_found() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    cli.create_workspace("acme");
    let issued = cli.issue_json(&app, "paseto");
    let id = str_field(&issued, "id");

    let err = cli.fails(&["tokens", "revoke", UNKNOWN_TOKEN]);
    assert_contains(&err, "not found");
    assert_contains(&err, UNKNOWN_TOKEN);

    let err = cli.fails(&["tokens", "revoke", id, "--workspace", "acme"]);
    assert_contains(&err, "not found");
    let list = cli.ok_json(&["tokens", "list", "--app", &app]);
    assert_eq!(list[0]["revoked_at"], Value::Null, "still not revoked");

    // Nor are another workspace's apps visible from it.
    let err = cli.fails(&["tokens", "list", "--app", &app, "--workspace", "acme"]);
    assert_contains(&err, "not found");
}

#[test]
fn an_app_is_named_by_its_id_or_by_its_name() {
    let cli = Cli::new();
    let app = cli.create_app("Nightly export");
    let issued = cli.ok_json(&[
        "tokens",
        "issue",
        "--app",
        "Nightly export",
        "--scope",
        "contacts:read",
        "--expires-in",
        "1h",
    ]);
    assert_eq!(str_field(&issued, "app_id"), app);
    let listed = cli.ok_json(&["tokens", "list", "--app", "nightly EXPORT"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let err = cli.fails(&["tokens", "list", "--app", "Weekly export"]);
    assert_contains(&err, "no app has the id or the name `Weekly export`");
    let text = only_line(&cli.ok(&["apps", "delete", "Nightly export"]));
    assert!(text.starts_with(&format!("deleted app {app}")), "{text}");
}

#[test]
fn durations_take_s_m_h_d_w_and_refuse_months_naming_the_flag() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let issue = |expiry: &str| {
        vec![
            "tokens".to_owned(),
            "issue".to_owned(),
            "--app".to_owned(),
            app.clone(),
            "--scope".to_owned(),
            "contacts:read".to_owned(),
            "--expires-in".to_owned(),
            expiry.to_owned(),
        ]
    };
    let args = issue("2w");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let issued = cli.ok_json(&args);
    let lifetime = unix(str_field(&issued, "expires_at")) - now();
    assert!(
        (14 * 86_400 - 60..=14 * 86_400).contains(&lifetime),
        "{lifetime}"
    );
    for months in ["1 month", "1mo", "1y"] {
        let args = issue(months);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = cli.fails(&args);
        assert_contains(&err, "--expires-in");
        assert_contains(&err, "give days");
    }
    let args = issue("400d");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = cli.fails(&args);
    assert_contains(&err, "--expires-in: the expiry may be at most 366d away");
}

#[test]
fn a_misspelt_scope_or_subcommand_gets_a_suggestion_and_scopes_may_be_space_separated() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let issue = |scope: &str| {
        [
            "tokens",
            "issue",
            "--app",
            app.as_str(),
            "--scope",
            scope,
            "--expires-in",
            "1h",
        ]
        .map(str::to_owned)
    };
    let err = cli.fails(&issue("contacts:reed").each_ref().map(String::as_str));
    assert_contains(
        &err,
        "--scope: unknown scope `contacts:reed`: did you mean `contacts:read`?",
    );
    assert_contains(&err, "The scopes are: contacts:read, contacts:write");
    let err = cli.fails(&issue("contacts:*").each_ref().map(String::as_str));
    assert_contains(&err, "wildcards are not allowed");
    let issued = cli.ok_json(
        &issue("contacts:read contacts:write")
            .each_ref()
            .map(String::as_str),
    );
    assert_eq!(scopes(&issued), ["contacts:read", "contacts:write"]);
    let err = fail_with_code(cli.cmd().args(["tokens", "isue"]), Some(2));
    assert_contains(&err, "'issue'");
}

#[test]
fn help_describes_every_option_lists_values_separates_global_options_and_shows_examples() {
    let cli = Cli::new();
    let help = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--help");
        cli.ok(&all)
    };
    let issue = help(&["tokens", "issue"]);
    assert_contains(&issue, "<--expires-in <DURATION>|--expires-at <TIME>>");
    assert_contains(&issue, "[possible values: paseto, jwt]");
    assert_contains(&issue, "Global options:");
    assert_contains(&issue, "Examples:");
    let (own, global) = issue.split_once("Global options:").expect("two headings");
    assert!(!own.contains("--database-url"), "{issue}");
    assert_contains(global, "--database-url");
    for args in [
        &["tokens", "issue"][..],
        &["tokens", "list"],
        &["tokens", "revoke"],
        &["apps", "create"],
        &["apps", "delete"],
        &["users", "add"],
        &["admin-token"],
        &["verify"],
        &["workspaces", "create"],
    ] {
        let text = help(args);
        assert!(text.contains("Example"), "{args:?} shows no example");
        // Every option of the command itself says what it is.
        let own = text.split("Global options:").next().unwrap_or_default();
        let lines: Vec<&str> = own.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.trim_start().starts_with("--") {
                continue;
            }
            // Beside the option, or (clap's long layout) on the next line.
            let beside = line
                .split("  ")
                .filter(|part| !part.trim().is_empty())
                .count()
                > 1;
            let below = lines.get(i + 1).is_some_and(|next| {
                let next = next.trim_start();
                !next.is_empty() && !next.starts_with('-')
            });
            assert!(
                beside || below,
                "{args:?}: `{}` has no description",
                line.trim()
            );
        }
    }
}

#[test]
fn deleting_an_app_makes_its_token_list_not_found() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let other = cli.create_app("shop");
    cli.issue(&app, "paseto");

    let text = only_line(&cli.ok(&["apps", "delete", &app]));
    assert!(text.starts_with(&format!("deleted app {app}")), "{text}");

    let err = cli.fails(&["tokens", "list", "--app", &app]);
    assert_contains(&err, "not found");
    assert_contains(&err, &app);
    let err = cli.fails(&[
        "tokens",
        "issue",
        "--app",
        &app,
        "--scope",
        "contacts:read",
        "--expires-in",
        "1h",
    ]);
    assert_contains(&err, "not found");
    let err = cli.fails(&["apps", "delete", &app]);
    assert_contains(&err, "not found");

    let apps = cli.ok_json(&["apps", "list"]);
    let ids: Vec<&str> = apps
        .as_array()
        .unwrap()
        .iter()
        .map(|a| str_field(a, "id"))
        .collect();
    assert_eq!(ids, [other.as_str()]);
    assert_eq!(
        cli.ok_json(&["apps", "delete", &other]),
        serde_json::json!({"deleted": other})
    );
}

// Admin tokens.

#[test]
fn admin_token_prints_a_token_that_verifies_offline_with_the_admin_scopes() {
    let cli = Cli::new();
    let out = cli.run_ok(&["admin-token"]);
    let token = only_line(&out.stdout);
    assert!(token.starts_with("v4.public."), "{token}");
    assert!(!out.stderr.contains(&token));

    let verified = cli.verify_json(&token, &[]);
    assert_eq!(
        scopes(&verified),
        [
            "apps:read",
            "apps:write",
            "apps:delete",
            "audit:read",
            "webhooks:read",
            "webhooks:write",
            "webhooks:delete"
        ]
    );
    assert_eq!(verified["workspace"], cli.workspace_id("default").as_str());
    let lifetime =
        unix(str_field(&verified, "expires_at")) - unix(str_field(&verified, "issued_at"));
    assert_eq!(lifetime, 3600, "one hour by default");

    let acme = cli.create_workspace("acme");
    let issued = cli.ok_json(&["admin-token", "--workspace", "acme", "--expires-in", "24h"]);
    assert_eq!(issued["workspace_id"], acme.as_str());
    assert_eq!(issued["app_id"], Value::Null);
    let verified = cli.verify_json(str_field(&issued, "token"), &[]);
    assert_eq!(verified["workspace"], acme.as_str());
    assert_eq!(verified["token_id"], issued["id"]);
    let lifetime =
        unix(str_field(&verified, "expires_at")) - unix(str_field(&verified, "issued_at"));
    assert_eq!(lifetime, 86_400);
}

#[test]
fn admin_token_refuses_a_lifetime_over_24_hours() {
    let cli = Cli::new();
    cli.ok(&["admin-token"]);
    let err = cli.fails(&["admin-token", "--expires-in", "48h"]);
    assert_contains(&err, "expir");
    let err = cli.fails(&["admin-token", "--workspace", "nope"]);
    assert_contains(&err, "not found");
}

// Error paths.

#[test]
fn issuing_for_an_unknown_app_fails_as_not_found() {
    let cli = Cli::new();
    let err = cli.fails(&[
        "tokens",
        "issue",
        "--app",
        UNKNOWN_APP,
        "--scope",
        "contacts:read",
        "--expires-in",
        "1h",
    ]);
    assert_contains(&err, UNKNOWN_APP);
    assert_contains(&err, "not found");
}

#[test]
fn issuing_with_a_bad_scope_fails_naming_the_scope() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    for scope in [
        "contacts:*",
        "apps:read",
        "Contacts:Read",
        "contacts:read,contacts:admin",
    ] {
        let err = cli.fails(&[
            "tokens",
            "issue",
            "--app",
            &app,
            "--scope",
            scope,
            "--expires-in",
            "1h",
        ]);
        let bad = scope.rsplit(',').next().unwrap();
        assert_contains(&err, bad);
    }
    assert_eq!(
        cli.ok_json(&["tokens", "list", "--app", &app]),
        serde_json::json!([])
    );
}

#[test]
fn issuing_with_an_expiry_in_the_past_too_far_or_too_soon_fails() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    cli.issue(&app, "paseto");
    cli.issue(&app, "jwt");
    let cases = [
        (["--expires-at", "2000-01-01T00:00:00Z"], "in the past"),
        (["--expires-in", "400d"], "366d"),
        (["--expires-in", "30"], "60 seconds"),
        (["--expires-in", "soon"], "soon"),
        (["--expires-at", "tomorrow"], "tomorrow"),
    ];
    for format in ["paseto", "jwt"] {
        for (expiry, expected) in cases {
            let err = cli.fails(&[
                "tokens",
                "issue",
                "--app",
                &app,
                "--scope",
                "contacts:read",
                "--format",
                format,
                expiry[0],
                expiry[1],
            ]);
            assert_contains(&err, expected);
        }
    }
    let list = cli.ok_json(&["tokens", "list", "--app", &app]);
    assert_eq!(list.as_array().unwrap().len(), 2, "no token was recorded");
}

#[test]
fn a_rejected_issuance_prints_only_the_error_and_generates_no_key() {
    // A fresh install: no key yet. A request refused for its expiry does not
    // need a key, so it must neither create one nor print more than the error.
    let cli = Cli::new();
    let app = cli.create_app("crm");
    for format in ["paseto", "jwt"] {
        let err = cli.fails(&[
            "tokens",
            "issue",
            "--app",
            &app,
            "--scope",
            "contacts:read",
            "--expires-in",
            "400d",
            "--format",
            format,
        ]);
        assert_contains(&err, "366d");
    }
    let err = cli.fails(&["admin-token", "--expires-in", "48h"]);
    assert_contains(&err, "expir");
    assert_eq!(
        cli.key_files(),
        Vec::<PathBuf>::new(),
        "no key was generated"
    );
}

#[test]
fn a_missing_keys_directory_is_reported_with_its_path_and_mkdir() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let token = cli.issue(&app, "paseto");
    let missing = cli.path().join("missing").join("keys");
    let missing_str = missing.to_str().unwrap();

    let commands: [&[&str]; 7] = [
        &["keys", "list"],
        &["keys", "rotate"],
        &["keys", "retire", "k4.pid.x"],
        &["keys", "export-public"],
        &[
            "tokens",
            "issue",
            "--app",
            &app,
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
        ],
        &["admin-token"],
        &["verify", &token],
    ];
    for args in commands {
        let err = fail(cli.cmd().args(args).args(["--keys-dir", missing_str]));
        assert_contains(&err, missing_str);
        assert_contains(&err, "mkdir");
        assert!(
            !missing.exists(),
            "the CLI never creates the keys directory"
        );
    }
    // Through the environment variable too.
    let err = fail(
        cli.cmd()
            .env("INFORMLY_KEYS_DIR", "/nonexistent/informly-cli-test")
            .args(["keys", "list"]),
    );
    assert_contains(&err, "/nonexistent/informly-cli-test");
    assert_contains(&err, "mkdir");
    assert!(!Path::new("/nonexistent/informly-cli-test").exists());
}

#[test]
fn a_key_file_readable_by_others_is_refused_naming_the_file_and_chmod() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let token = cli.issue(&app, "paseto");
    let files = cli.key_files();
    assert_eq!(files.len(), 1);
    let key_file = &files[0];
    fs::set_permissions(key_file, fs::Permissions::from_mode(0o644)).unwrap();
    let key_file = key_file.to_str().unwrap();

    let commands: [&[&str]; 7] = [
        &["keys", "list"],
        &["keys", "rotate"],
        &["keys", "export-public", "--jwks"],
        &[
            "tokens",
            "issue",
            "--app",
            &app,
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
        ],
        &[
            "tokens",
            "issue",
            "--app",
            &app,
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
            "--format",
            "jwt",
        ],
        &["admin-token"],
        &["verify", &token],
    ];
    for args in commands {
        let err = cli.fails(args);
        assert_contains(&err, key_file);
        assert_contains(&err, "chmod 600");
    }
    assert_eq!(
        cli.key_files().len(),
        1,
        "nothing was added next to the unsafe file"
    );
    assert_eq!(
        mode(&cli.key_files()[0]),
        0o644,
        "the CLI does not fix modes silently"
    );
}

#[test]
fn unknown_subcommands_and_flags_fail_with_one_line_and_exit_code_2() {
    let cli = Cli::new();
    let cases: [&[&str]; 6] = [
        &["frobnicate"],
        &["keys", "frobnicate"],
        &["keys", "list", "--frob"],
        &["--frob", "apps", "list"],
        &[
            "tokens",
            "issue",
            "--app",
            "x",
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
            "--format",
            "xml",
        ],
        &["keys", "export-public", "--jwks", "--paserk"],
    ];
    for args in cases {
        let err = fail_with_code(cli.cmd().args(args), Some(2));
        assert_contains(&err, "see --help");
    }
    let err = fail_with_code(cli.cmd().arg("frobnicate"), Some(2));
    assert_contains(&err, "frobnicate");
    let err = fail_with_code(cli.cmd().args(["keys", "list", "--frob"]), Some(2));
    assert_contains(&err, "--frob");
    let err = fail_with_code(
        cli.cmd().args([
            "tokens",
            "issue",
            "--app",
            "x",
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
            "--format",
            "xml",
        ]),
        Some(2),
    );
    assert_contains(&err, "xml");
}

#[test]
fn a_missing_required_argument_is_named_in_the_one_line_error() {
    let cli = Cli::new();
    let err = fail_with_code(
        cli.cmd().args([
            "tokens",
            "issue",
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
        ]),
        Some(2),
    );
    assert_contains(&err, "--app");
    let err = fail_with_code(
        cli.cmd()
            .args(["tokens", "issue", "--app", "x", "--scope", "contacts:read"]),
        Some(2),
    );
    assert!(
        err.contains("--expires-in") || err.contains("--expires-at"),
        "{err}"
    );
    let err = fail_with_code(cli.cmd().arg("verify"), Some(2));
    assert_contains(&err, "TOKEN");
}

#[test]
fn verify_rejects_a_garbage_token_with_one_line() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let token = cli.issue(&app, "paseto");
    let jwt = cli.issue(&app, "jwt");
    // A tampered signature: flip one character of the body.
    let mut tampered = token.clone().into_bytes();
    let i = "v4.public.".len() + 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let truncated = &jwt[..jwt.len() - 4];

    for garbage in [
        "garbage",
        "",
        "v4.public.",
        "v4.public.AAAA",
        "v4.local.AAAA",
        "eyJ.eyJ.AAAA",
        "eyJhbGciOiJub25lIn0.e30.",
        tampered.as_str(),
        truncated,
        "é",
    ] {
        let err = cli.fails(&["verify", garbage]);
        assert!(
            err.starts_with("error: token rejected:"),
            "{garbage:?}: {err}"
        );
    }
}

#[test]
fn verify_rejects_a_100_kib_token_with_one_line() {
    let cli = Cli::new();
    cli.issue(&cli.create_app("crm"), "paseto");
    let huge = format!("v4.public.{}", "A".repeat(100 * 1024));
    let err = cli.fails(&["verify", &huge]);
    assert_contains(&err, "8192");
    assert!(
        err.len() < 300,
        "the error does not echo the token: {} bytes",
        err.len()
    );

    let err = fail(cli.cmd().args(["verify", "-"]).write_stdin(huge));
    assert_contains(&err, "8192");
}

#[test]
fn duplicate_workspace_names_are_refused() {
    let cli = Cli::new();
    cli.create_workspace("acme");
    let err = cli.fails(&["workspaces", "create", "--name", "acme"]);
    assert_contains(&err, "already exists");
    assert_contains(&err, "acme");
    let err = cli.fails(&["workspaces", "create", "--name", "default"]);
    assert_contains(&err, "already exists");
    assert_eq!(
        cli.ok_json(&["workspaces", "list"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn duplicate_app_names_in_a_workspace_are_refused() {
    let cli = Cli::new();
    cli.create_workspace("acme");
    cli.create_app("crm");
    let err = cli.fails(&["apps", "create", "--name", "crm"]);
    assert_contains(&err, "already exists");
    assert_contains(&err, "crm");
    cli.ok(&["apps", "create", "--name", "crm", "--workspace", "acme"]);
    let err = cli.fails(&["apps", "create", "--name", "crm", "--workspace", "acme"]);
    assert_contains(&err, "already exists");
    assert_eq!(cli.ok_json(&["apps", "list"]).as_array().unwrap().len(), 1);
}

// Files on disk.

#[test]
fn key_files_and_the_database_file_are_created_with_mode_0600() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    assert_eq!(mode(&cli.db_path()), 0o600, "the database file");
    cli.issue(&app, "paseto");
    cli.issue(&app, "jwt");
    cli.rotate(&[]);
    cli.rotate(&["--format", "jwt", "--activate-after", "1h"]);
    let retiring = cli
        .keys_list()
        .into_iter()
        .find(|k| k["status"] == "retiring")
        .expect("a retiring key");
    cli.ok(&["keys", "retire", str_field(&retiring, "kid")]);

    let files = cli.key_files();
    assert_eq!(files.len(), 5, "{files:?}");
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            name.ends_with(".key") && !name.starts_with('.'),
            "no stray file: {name}"
        );
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(
        mode(&cli.keys_dir()),
        0o700,
        "the keys directory is left as it was"
    );

    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", cli.db_path().display()));
        if suffix.is_empty() || path.exists() {
            assert_eq!(mode(&path) & 0o077, 0, "{} is private", path.display());
        }
    }
    assert_eq!(mode(&cli.db_path()), 0o600);
}

#[test]
fn no_token_string_is_ever_stored_in_the_database() {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    let paseto = cli.issue_json(&app, "paseto");
    let jwt = cli.issue_json(&app, "jwt");
    let admin = cli.ok_json(&["admin-token"]);
    let text_token = cli.issue(&app, "jwt");

    let bytes = cli.home.database_bytes();
    let contains =
        |needle: &[u8]| !needle.is_empty() && bytes.windows(needle.len()).any(|w| w == needle);

    // Sanity: the records are there, so these are the right files.
    for issued in [&paseto, &jwt, &admin] {
        assert!(
            contains(str_field(issued, "id").as_bytes()),
            "record {} is stored",
            issued["id"]
        );
    }

    let tokens = [
        str_field(&paseto, "token"),
        str_field(&jwt, "token"),
        str_field(&admin, "token"),
        text_token.as_str(),
    ];
    for token in tokens {
        assert!(
            !contains(token.as_bytes()),
            "a token string is in the database"
        );
        let (encoded_signature, signature) = if let Some(rest) = token.strip_prefix("v4.public.") {
            // body = base64url(message || 64-byte signature), then `.footer`.
            let body = rest.split('.').next().unwrap();
            let raw = URL_SAFE_NO_PAD.decode(body).expect("a base64url body");
            (body.to_owned(), raw[raw.len() - 64..].to_vec())
        } else {
            let signature = token.rsplit('.').next().unwrap();
            (
                signature.to_owned(),
                URL_SAFE_NO_PAD
                    .decode(signature)
                    .expect("a base64url signature"),
            )
        };
        assert_eq!(signature.len(), 64);
        assert!(
            !contains(encoded_signature.as_bytes()),
            "a signature (encoded) is in the database"
        );
        assert!(
            !contains(&signature),
            "a signature (raw bytes) is in the database"
        );
    }
}

/// The check every test ends with (no token or key secret in what the server
/// or the CLI logged) does catch one: a token printed by the CLI, then found
/// in a log, fails it; so does a key file's secret.
#[test]
fn the_log_check_catches_a_printed_token_or_a_key_secret_in_a_log() {
    let cli = Cli::new();
    let app = cli.create_app("leak");
    let token = cli.issue(&app, "paseto");
    let secret = cli.home.key_secrets().pop().expect("a key file");
    let caught = |log: String, keys: Vec<String>| {
        std::panic::catch_unwind(move || common::assert_no_secrets("a log", &log, &keys)).is_err()
    };
    assert!(caught(format!("INFO served token={token}"), Vec::new()));
    assert!(caught(format!("secret={secret}"), vec![secret.clone()]));
    assert!(!caught("INFO served status=200".to_owned(), vec![secret]));
}

#[test]
fn a_command_run_where_there_is_no_database_names_the_path_it_looked_at_and_creates_nothing() {
    let cli = Cli::new();
    let elsewhere = cli.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let elsewhere = elsewhere.canonicalize().unwrap();
    let looked_at = elsewhere.join("informly.db");

    let commands: [&[&str]; 7] = [
        &["apps", "list"],
        &["workspaces", "list"],
        &["users", "list"],
        &["tokens", "list", "--app", "Nightly export"],
        &["tokens", "revoke", UNKNOWN_TOKEN],
        &["keys", "rotate"],
        &["admin-token"],
    ];
    for args in commands {
        let err = fail(cli.bare_cmd().current_dir(&elsewhere).args(args));
        assert_contains(&err, &format!("no database at {}", looked_at.display()));
        assert_contains(&err, "where `informly serve` runs");
        assert_contains(&err, "INFORMLY_DATABASE_URL");
        assert!(!looked_at.exists(), "{args:?} created a database");
        assert!(
            !elsewhere.join("keys").exists(),
            "{args:?} made a keys directory"
        );
    }
    // The same through the variable, naming the file it points at.
    let err = fail(
        cli.bare_cmd()
            .env("INFORMLY_DATABASE_URL", "sqlite:///nonexistent/informly.db")
            .args(["apps", "list"]),
    );
    assert_contains(&err, "no database at /nonexistent/informly.db");

    // `migrate` is the one command that creates one (besides `serve`).
    succeed(cli.bare_cmd().current_dir(&elsewhere).arg("migrate"));
    assert_eq!(mode(&looked_at), 0o600);
    let apps = parse_json(
        &succeed(
            cli.bare_cmd()
                .current_dir(&elsewhere)
                .args(["apps", "list", "--json"]),
        )
        .stdout,
    );
    assert_eq!(apps, serde_json::json!([]));
}

#[test]
fn no_first_key_is_generated_while_the_database_records_tokens_signed_by_keys_not_in_the_keys_directory()
 {
    let cli = Cli::new();
    let app = cli.create_app("crm");
    cli.issue(&app, "paseto");
    let other = cli.other_keys_dir();
    let other_str = other.to_str().unwrap();
    let is_empty = |dir: &Path| fs::read_dir(dir).unwrap().next().is_none();

    let commands: [&[&str]; 3] = [
        &["admin-token"],
        &[
            "tokens",
            "issue",
            "--app",
            &app,
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
            "--format",
            "jwt",
        ],
        &["serve", "--listen", "127.0.0.1:0"],
    ];
    for args in commands {
        let err = fail(cli.cmd().env("INFORMLY_KEYS_DIR", other_str).args(args));
        assert_contains(&err, &format!("the keys directory {other_str} has no"));
        assert_contains(&err, "tokens signed by 1 key(s) it does not hold");
        assert_contains(&err, "no key was generated");
        assert!(is_empty(&other), "{args:?} generated a key in {other_str}");
    }

    // Asked for explicitly, a key is made; then that directory signs.
    cli.ok(&[
        "keys",
        "rotate",
        "--format",
        "paseto",
        "--keys-dir",
        other_str,
    ]);
    let admin = cli.ok(&["admin-token", "--keys-dir", other_str]);
    assert!(only_line(&admin).starts_with("v4.public."));
    // The right directory never needed the guard.
    cli.ok(&["admin-token"]);
}

#[test]
fn contacts_import_reads_csv_and_jsonl_and_lists_each_refused_row_with_its_line() {
    let cli = Cli::new();
    cli.ok(&["migrate"]);
    // A BOM, quoted cells with commas and quotes, tags and attributes.
    let csv = write_file(
        cli.path(),
        "people.csv",
        "\u{feff}email,first_name,last_name,phone,company,tags,attributes\n\
         ada@example.com,Ada,Lovelace,+44 20,\"Analytical, Engines\",vip; beta,\"{\"\"plan\"\": \"\"pro\"\"}\"\n\
         ADA@example.com,Duplicate,,,,,\n\
         not-an-address,Bad,,,,,\n\
         bo@example.com,\"Bo, \"\"Jr.\"\"\",,,,,\n\
         cy@example.com,Cy,,,,,[1]\n\
         short@example.com,Short\n\
         di@example.com,,,,,,\n",
    );
    let (output, out) = run(cli
        .cmd()
        .args(["contacts", "import", csv.to_str().unwrap()]));
    assert_eq!(output.status.code(), Some(1), "{}", out.stderr);
    assert_no_panic(&out.stderr);
    assert_contains(&out.stdout, "imported 3 contacts from");
    let stderr: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        stderr,
        [
            "4 not imported: 1 duplicate email, 2 invalid fields, 1 unreadable",
            "  line 3: a contact with email `ADA@example.com` already exists",
            "  line 4: email: must be a valid email address",
            "  line 6: attributes: must be a JSON object",
            "  line 7: the row has 2 cells where the header has 7",
            "error: 4 of 7 contacts were not imported (see above)",
        ],
        "{}",
        out.stderr
    );

    // JSON Lines, with --json: every failure with its line and problem.
    let jsonl = write_file(
        cli.path(),
        "more.jsonl",
        "{\"email\": \"ev@example.com\", \"tags\": [\"new\"]}\n\n\
         {\"email\": \"ada@example.com\"}\n\
         {\"email\": \"fo@example.com\", \"bogus\": 1}\n\
         not json\n\
         {\"email\": \"gu@example.com\", \"attributes\": {\"n\": 1}}\n",
    );
    let (output, out) =
        run(cli
            .cmd()
            .args(["contacts", "import", jsonl.to_str().unwrap(), "--json"]));
    assert_eq!(output.status.code(), Some(1), "{}", out.stderr);
    let summary = parse_json(&out.stdout);
    assert_eq!(
        (summary["imported"].clone(), summary["failed"].clone()),
        (2.into(), 3.into()),
        "{summary:#}"
    );
    let failures: Vec<(u64, u64)> = summary["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| (f["line"].as_u64().unwrap(), f["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(failures, [(3, 409), (4, 422), (5, 400)], "{summary:#}");
    assert_eq!(summary["failures"][1]["errors"][0]["field"], "bogus");
    assert_eq!(
        only_line(&out.stderr),
        "error: 3 of 5 contacts were not imported (see above)"
    );

    // What was imported is there: importing it again finds every email taken.
    let again = write_file(
        cli.path(),
        "again.jsonl",
        &["ada", "bo", "di", "ev", "gu"]
            .iter()
            .map(|name| format!("{{\"email\": \"{name}@example.com\"}}\n"))
            .collect::<String>(),
    );
    let (_, out) = run(cli
        .cmd()
        .args(["contacts", "import", again.to_str().unwrap(), "--json"]));
    let summary = parse_json(&out.stdout);
    assert_eq!(
        (summary["imported"].clone(), summary["failed"].clone()),
        (0.into(), 5.into()),
        "{summary:#}"
    );

    // A clean file exits 0, in another workspace where those emails are free.
    cli.create_workspace("acme");
    let out = cli.run_ok(&[
        "contacts",
        "import",
        again.to_str().unwrap(),
        "--workspace",
        "acme",
    ]);
    let expected = format!(
        "imported 5 contacts from {} into workspace acme in ",
        again.display()
    );
    assert!(
        only_line(&out.stdout).starts_with(&expected),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn contacts_import_draws_a_progress_bar_on_a_terminal_and_none_when_piped() {
    let cli = Cli::new();
    cli.ok(&["migrate"]);
    let rows: String = (0..20_000)
        .map(|i| format!("{{\"email\": \"p{i}@example.com\"}}\n"))
        .collect();
    let file = write_file(cli.path(), "many.jsonl", &rows);

    // Piped (as every test runs it): no bar, only the summary.
    let out = cli.run_ok(&["contacts", "import", file.to_str().unwrap()]);
    assert_eq!(out.stderr, "");
    // On a terminal (`script` gives it one): the bar, with its counts.
    let more: String = (0..20_000)
        .map(|i| format!("{{\"email\": \"q{i}@example.com\"}}\n"))
        .collect();
    let file = write_file(cli.path(), "more.jsonl", &more);
    let command = format!(
        "{} contacts import {}",
        assert_cmd::cargo::cargo_bin("informly").display(),
        file.display()
    );
    let mut script = std::process::Command::new("script");
    for var in FOREIGN_ENV {
        script.env_remove(var);
    }
    let output = script
        .args(["-qec", &command, "/dev/null"])
        .env("INFORMLY_DATABASE_URL", cli.db_url())
        .env("INFORMLY_KEYS_DIR", cli.keys_dir())
        .env("TERM", "xterm")
        .current_dir(cli.path())
        .output()
        .expect("script runs");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains(" imported, 0 failed"),
        "no progress bar in: {shown:?}"
    );
    assert!(shown.contains("imported 20000 contacts from"), "{shown}");
}

#[test]
fn contacts_import_refuses_unknown_columns_and_file_types_in_one_line_before_importing() {
    let cli = Cli::new();
    cli.ok(&["migrate"]);
    let cases = [
        (
            "a.csv",
            "email,nickname\na@example.com,A\n",
            "unknown column `nickname`",
        ),
        ("b.csv", "first_name\nA\n", "no `email` column"),
        (
            "c.csv",
            "email,email\na@example.com,b@example.com\n",
            "the column `email` appears twice",
        ),
        ("d.txt", "a@example.com\n", "give a .csv or a .jsonl"),
    ];
    for (name, contents, expected) in cases {
        let file = write_file(cli.path(), name, contents);
        let error = cli.fails(&["contacts", "import", file.to_str().unwrap()]);
        assert_contains(&error, expected);
    }
    let error = cli.fails(&["contacts", "import", "missing.csv"]);
    assert_contains(&error, "cannot open missing.csv");
    // Nothing was imported: the one good address is still free.
    let file = write_file(cli.path(), "ok.csv", "email\na@example.com\n");
    cli.ok(&["contacts", "import", file.to_str().unwrap()]);
}

informly_postgres_twins! {
    tests: [
        contacts_import_reads_csv_and_jsonl_and_lists_each_refused_row_with_its_line,
        contacts_import_refuses_unknown_columns_and_file_types_in_one_line_before_importing,
        contacts_import_draws_a_progress_bar_on_a_terminal_and_none_when_piped,
        tokens_list_without_an_app_lists_every_apps_tokens_and_those_expiring_soon,
        tokens_roll_prints_the_successor_once_says_when_the_old_token_stops_and_refuses_a_second_roll,
        tokens_list_shows_last_used_and_uses_and_filters_tokens_unused_for_a_while,
        tokens_revoke_all_revokes_every_token_of_the_app_by_name_and_later_tokens_stay_active,
        no_first_key_is_generated_while_the_database_records_tokens_signed_by_keys_not_in_the_keys_directory,
        workspaces_and_apps_are_created_and_listed_in_text_and_json,
        migrate_reports_an_up_to_date_database_in_text_and_json,
        the_database_and_keys_directory_can_be_given_as_flags_instead_of_environment_variables,
        tokens_issue_prints_only_the_token_on_stdout_and_the_details_on_stderr,
        tokens_issue_with_json_prints_the_record_and_the_token,
        paseto_and_jwt_tokens_verify_offline_with_the_keys_directory,
        tokens_verify_with_only_the_exported_public_documents,
        verify_reads_the_token_from_stdin_when_given_a_dash,
        a_paseto_token_does_not_verify_with_only_the_jwks_and_a_jwt_not_with_only_the_paserk_keys,
        keys_rotate_without_a_delay_activates_the_new_keys_at_once,
        each_rotation_activates_the_key_it_adds_even_within_the_same_second,
        keys_rotate_with_activate_after_adds_a_pending_key_that_is_published_but_does_not_sign,
        old_tokens_verify_until_their_key_is_retired_and_fail_after,
        retiring_the_active_key_is_refused_with_a_hint_to_rotate_first,
        a_revoked_token_shows_as_revoked_in_the_token_list,
        revoking_an_unknown_token_or_one_of_another_workspace_fails_as_not_found,
        deleting_an_app_makes_its_token_list_not_found,
        an_app_is_named_by_its_id_or_by_its_name,
        durations_take_s_m_h_d_w_and_refuse_months_naming_the_flag,
        a_misspelt_scope_or_subcommand_gets_a_suggestion_and_scopes_may_be_space_separated,
        admin_token_prints_a_token_that_verifies_offline_with_the_admin_scopes,
        admin_token_refuses_a_lifetime_over_24_hours,
        issuing_for_an_unknown_app_fails_as_not_found,
        issuing_with_a_bad_scope_fails_naming_the_scope,
        issuing_with_an_expiry_in_the_past_too_far_or_too_soon_fails,
        a_rejected_issuance_prints_only_the_error_and_generates_no_key,
        a_missing_keys_directory_is_reported_with_its_path_and_mkdir,
        a_key_file_readable_by_others_is_refused_naming_the_file_and_chmod,
        unknown_subcommands_and_flags_fail_with_one_line_and_exit_code_2,
        a_missing_required_argument_is_named_in_the_one_line_error,
        verify_rejects_a_garbage_token_with_one_line,
        verify_rejects_a_100_kib_token_with_one_line,
        duplicate_workspace_names_are_refused,
        duplicate_app_names_in_a_workspace_are_refused,
        no_token_string_is_ever_stored_in_the_database,
    ],
    sqlite_only: [
        key_files_and_the_database_file_are_created_with_mode_0600: "checks the mode of the SQLite file",
        the_log_check_catches_a_printed_token_or_a_key_secret_in_a_log: "checks the test helpers, not the backend",
        help_describes_every_option_lists_values_separates_global_options_and_shows_examples: "help text only: it never opens a database",
        a_command_run_where_there_is_no_database_names_the_path_it_looked_at_and_creates_nothing: "a missing SQLite file is what it tests",
    ],
}
