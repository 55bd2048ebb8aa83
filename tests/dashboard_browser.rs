//! The dashboard in a real browser: headless Chromium, driven over WebDriver
//! (chromedriver and fantoccini), against the real binary and a dashboard user
//! made with the real CLI.
//!
//! What is pinned here (the pages' ids and texts are the dashboard's markup
//! contract):
//! - the whole path a person takes: sign in, create an app, generate a PASETO
//!   token and a JWT, copy one, use both with the Contacts API, revoke one,
//!   sign out; the token is shown once and never again;
//! - the failure paths a person can reach by hand: a wrong password or an
//!   unknown email (the same answer), a form without its CSRF field, an expiry
//!   in the past, no permission chosen, another workspace's app, and deleting
//!   an app (its tokens stop working);
//! - every field of the forms has a label, and signing in works from the
//!   keyboard.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`.ci/run` installs
//! them and sets `INFORMLY_TEST_BROWSER=1` at build time); otherwise reported
//! as ignored. With `INFORMLY_SCREENSHOTS=DIR` the flow test also saves the
//! screenshots of `docs/screenshots/` into DIR.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Backend, Home, Server, eventually, remember_secret, unix_now, unix_of};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The longest any one wait for the page may take. Generous, for a cold
/// Chromium on a busy two-core CI machine; a passing run never waits this long.
const PATIENCE: Duration = Duration::from_secs(20);

/// A chromedriver of our own, on a port it picked, with the Chromium it starts:
/// both are killed together when dropped (they share a process group), even
/// when a test fails half-way.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Chromium inherits the group: one kill(2) ends them all.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the chosen port, then drains what else it prints.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.split("started successfully on port ").nth(1) {
                    let _ = tx.send(port.trim_end_matches('.').to_owned());
                }
            }
        });
        // Killed on drop from here on, should it never say its port.
        let mut driver = Driver {
            child,
            url: String::new(),
        };
        let port = rx
            .recv_timeout(PATIENCE)
            .expect("chromedriver did not say which port it listens on");
        driver.url = format!("http://127.0.0.1:{port}");
        driver
    }

    /// Waits until chromedriver says it is ready for a session.
    async fn ready(&self) {
        let status = format!("{}/status", self.url);
        let ready = eventually(PATIENCE, || async {
            match reqwest::get(&status).await {
                Ok(response) => response
                    .json::<Value>()
                    .await
                    .is_ok_and(|body| body["value"]["ready"] == true),
                Err(_) => false,
            }
        })
        .await;
        assert!(ready.is_some(), "chromedriver is not ready at {status}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) on the process group of our own child.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Headless Chromium with a fresh profile, 1280×900.
struct Browser {
    client: Client,
    // Dropped after the client: Chromium is gone before its profile is removed.
    driver: Driver,
    profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let driver = Driver::start();
        driver.ready().await;
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--window-size=1280,900",
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        // Plain HTTP to the local chromedriver. (`ClientBuilder::rustls()`
        // would panic here: two rustls crypto providers are compiled in, ring
        // for reqwest and aws-lc-rs for fantoccini's hyper-rustls, and neither
        // is installed as the process default.)
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("cannot start Chromium through chromedriver: {e}"));
        Browser {
            client,
            driver,
            profile,
        }
    }

    /// Ends the session (Chromium quits); the driver is killed on drop.
    async fn close(self) {
        let Browser {
            client,
            driver,
            profile,
        } = self;
        let _ = client.close().await;
        drop(driver);
        drop(profile);
    }
}

/// The W3C "set permission" command, which fantoccini does not wrap: lets the
/// page write to the clipboard and the test read it back.
#[derive(Debug)]
struct GrantPermission(&'static str);

impl WebDriverCompatibleCommand for GrantPermission {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, url_parse::ParseError> {
        let session = session_id.expect("a session");
        base_url.join(&format!("session/{session}/permissions"))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        let body = json!({ "descriptor": { "name": self.0 }, "state": "granted" });
        (reqwest::Method::POST, Some(body.to_string()))
    }
}

/// `url::ParseError`, reached through reqwest (the `url` crate is not a direct
/// dependency).
mod url_parse {
    pub type ParseError = <reqwest::Url as std::str::FromStr>::Err;
}

// ---------------------------------------------------------------------------
// The site: a server, a dashboard user, a browser
// ---------------------------------------------------------------------------

const WORKSPACE: &str = "acme";
const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";
const WRONG_PASSWORD: &str = "not the password at all";

/// The expiry presets of the token form that the tests pick (the custom date
/// is set by script, see the expiry test).
#[derive(Clone, Copy, Debug)]
enum Expiry {
    Days7,
    Days90,
}

impl Expiry {
    fn id(self) -> &'static str {
        match self {
            Expiry::Days7 => "expiry-7d",
            Expiry::Days90 => "expiry-90d",
        }
    }

    fn days(self) -> i64 {
        match self {
            Expiry::Days7 => 7,
            Expiry::Days90 => 90,
        }
    }
}

struct Site {
    // Dropped first: Chromium goes before the server it talks to.
    browser: Option<Browser>,
    server: Server,
}

/// A server with workspace `acme` holding the dashboard user alice, and a
/// browser that has not signed in.
async fn site() -> Site {
    let server = Server::start_in(Home::new(), &[]).await;
    server
        .home
        .run(&["workspaces", "create", "--name", WORKSPACE]);
    add_user(&server.home, EMAIL, WORKSPACE, PASSWORD);
    // Passwords, like tokens, must never reach a log.
    remember_secret(PASSWORD);
    remember_secret(WRONG_PASSWORD);
    Site {
        browser: Some(Browser::start().await),
        server,
    }
}

/// Declares a browser test: a `#[tokio::test]` that runs `$body` with
/// `$site`, a fresh [`site`] (a server and a browser not signed in), then
/// closes the browser. Built without `INFORMLY_TEST_BROWSER=1` it is reported
/// as ignored, saying what it needs.
macro_rules! browser_test {
    ($name:ident, |$site:ident| $body:block) => {
        #[tokio::test]
        #[cfg_attr(
            not(browser_tests),
            ignore = "browser: install chromium and chromium-driver, set INFORMLY_TEST_BROWSER=1"
        )]
        async fn $name() {
            let $site = site().await;
            $body
            $site.close().await;
        }
    };
}

/// `informly users add … --password-stdin`, the password on stdin.
fn add_user(home: &Home, email: &str, workspace: &str, password: &str) {
    let mut child = home
        .cli()
        .args(["users", "add", "--email", email, "--workspace", workspace])
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run informly users add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write the password");
    let output = child.wait_with_output().expect("informly users add");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "informly users add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("usr_"), "no user id printed: {stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stdout.contains(password), "users add printed the password");
    assert!(!stderr.contains(password), "users add printed the password");
}

impl Site {
    fn client(&self) -> &Client {
        &self.browser.as_ref().expect("the browser is open").client
    }

    async fn close(mut self) {
        if let Some(browser) = self.browser.take() {
            browser.close().await;
        }
    }

    async fn goto(&self, path: &str) {
        let url = self.server.url(path);
        self.client()
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The path of the page shown.
    async fn path(&self) -> String {
        self.client()
            .current_url()
            .await
            .expect("the current URL")
            .path()
            .to_owned()
    }

    /// The first element `css` matches, once the page has one.
    async fn element(&self, css: &str) -> Element {
        let path = self.path().await;
        self.client()
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` on {path}: {e}"))
    }

    /// Whether the page shown has an element `css` matches, right now.
    async fn has(&self, css: &str) -> bool {
        !self
            .client()
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
            .is_empty()
    }

    /// The trimmed text of the first element `css` matches.
    async fn text(&self, css: &str) -> String {
        let element = self.element(css).await;
        element.text().await.expect("text").trim().to_owned()
    }

    /// The `value` of a form field.
    async fn value(&self, css: &str) -> String {
        let element = self.element(css).await;
        element
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.element(css).await;
        field.clear().await.expect("clear");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
    }

    async fn click(&self, css: &str) {
        self.element(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// Ticks a checkbox or picks a radio button the way a person does, by
    /// its label, and checks that it took.
    async fn choose(&self, id: &str) {
        self.click(&format!("label[for='{id}']")).await;
        let input = self.element(&format!("#{id}")).await;
        assert!(
            input.is_selected().await.expect("is_selected"),
            "#{id} is not selected after a click on its label"
        );
    }

    /// Clicks the copy button `button`, waits for `status` to say so, and
    /// returns what the clipboard holds.
    async fn copy(&self, button: &str, status: &str) -> String {
        self.click(&format!("#{button}")).await;
        self.client()
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&format!(
                "//*[@id='{status}'][contains(normalize-space(), 'Copied')]"
            )))
            .await
            .unwrap_or_else(|e| panic!("#{status} does not say Copied after #{button}: {e}"));
        let clipboard = self
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1];
             navigator.clipboard.readText().then(done, e => done('error: ' + e));",
                vec![],
            )
            .await
            .expect("read the clipboard");
        clipboard.as_str().unwrap_or_default().to_owned()
    }

    /// Waits for a page whose `h1` reads `text`.
    async fn heading(&self, text: &str) {
        let xpath = format!("//h1[normalize-space()='{text}']");
        if let Err(e) = self
            .client()
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await
        {
            let shown = self.client().find(Locator::Css("h1")).await;
            let shown = match shown {
                Ok(h1) => h1.text().await.unwrap_or_default(),
                Err(_) => "(no h1)".to_owned(),
            };
            panic!(
                "no page headed {text:?} at {}: {e}; the h1 is {shown:?}",
                self.path().await
            );
        }
    }

    /// The flash message after a redirect starts with `message` (it may say
    /// more, e.g. what follows from it).
    async fn assert_flash(&self, message: &str) {
        let flash = self.text("#flash").await;
        assert!(
            flash.starts_with(message),
            "flash {flash:?}, expected {message:?}"
        );
        let role = self.element("#flash").await.attr("role").await;
        assert_eq!(
            role.expect("attr").as_deref(),
            Some("status"),
            "#flash role"
        );
    }

    /// Runs a script in the page.
    async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.client()
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The dashboard session cookie as a `Cookie:` header value, to ask the
    /// server what the browser cannot tell (status codes).
    async fn session_cookie(&self) -> String {
        let cookie = self
            .client()
            .get_named_cookie("informly_session")
            .await
            .expect("the informly_session cookie");
        format!("{}={}", cookie.name(), cookie.value())
    }

    /// A GET of a dashboard page with the given cookie, redirects not
    /// followed: the status, and the `Location` of a redirect.
    async fn fetch_page(&self, path: &str, cookie: &str) -> (u16, Option<String>) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let response = client
            .get(self.server.url(path))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        (response.status().as_u16(), location)
    }

    // --- The dashboard's steps -------------------------------------------

    /// Fills in the sign-in form and submits it; does not wait for the answer.
    async fn submit_login(&self, email: &str, password: &str) {
        self.goto("/dashboard/login").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("#login-submit").await;
    }

    /// Signs in as alice; lands on Apps.
    async fn log_in(&self) {
        self.submit_login(EMAIL, PASSWORD).await;
        assert_eq!(self.text("#current-user").await, EMAIL);
        assert_eq!(self.path().await, "/dashboard/settings/apps");
        // The session id must never reach a log either.
        let cookie = self.session_cookie().await;
        let (_, id) = cookie.split_once('=').expect("name=value");
        assert!(!id.is_empty(), "an empty session cookie");
        remember_secret(id);
    }

    /// Creates an app from the Apps page; lands on the app's page. Returns
    /// its id.
    async fn create_app(&self, name: &str, description: &str) -> String {
        self.goto("/dashboard/settings/apps").await;
        self.fill("#app-name", name).await;
        self.fill("#app-description", description).await;
        self.click_button("create-app-form", "Create app").await;
        let app = self.text("#app-id").await;
        assert!(app.starts_with("app_"), "app id {app:?}");
        self.assert_flash("App created.").await;
        assert_eq!(self.text("h1").await, name);
        app
    }

    /// Clicks the button of form `#form` that reads `label`.
    async fn click_button(&self, form: &str, label: &str) {
        let xpath = format!("//form[@id='{form}']//button[normalize-space()='{label}']");
        self.client()
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {label:?} in #{form}: {e}"))
            .click()
            .await
            .expect("click");
    }

    async fn open_app(&self, app: &str) {
        self.goto(&format!("/dashboard/settings/apps/{app}")).await;
        assert_eq!(self.text("#app-id").await, app);
    }

    /// Opens the token form from the app's page.
    async fn open_token_form(&self, app: &str) {
        self.open_app(app).await;
        self.click("#generate-token").await;
        self.element("#token-form").await;
        assert_eq!(
            self.path().await,
            format!("/dashboard/settings/apps/{app}/tokens/new")
        );
    }

    /// Fills in the token form (scopes like `contacts:read`; format `paseto`
    /// or `jwt`) without submitting it.
    async fn fill_token_form(&self, name: &str, scopes: &[&str], expiry: Expiry, format: &str) {
        self.fill("#token-name", name).await;
        for scope in scopes {
            self.choose(&format!("scope-{}", scope.replace(':', "-")))
                .await;
        }
        self.choose(expiry.id()).await;
        self.choose(&format!("format-{format}")).await;
    }

    /// Submits the filled token form; returns the token shown once.
    async fn submit_token_form(&self) -> String {
        self.click("#generate-submit").await;
        self.heading("Copy your new token").await;
        let token = self.value("#new-token").await;
        remember_secret(&token);
        token
    }

    /// The token rows of the app page shown: (token id, status).
    async fn token_rows(&self) -> Vec<(String, String)> {
        let rows = self
            .client()
            .find_all(Locator::Css("#tokens-table tr[data-token-id]"))
            .await
            .expect("token rows");
        let mut out = Vec::new();
        for row in rows {
            let id = row.attr("data-token-id").await.expect("attr");
            let status = row
                .find(Locator::Css(".token-status"))
                .await
                .expect("a .token-status cell")
                .text()
                .await
                .expect("text");
            out.push((id.unwrap_or_default(), status.trim().to_owned()));
        }
        out
    }

    /// The text of a cell of a token's row on the app page shown.
    async fn token_cell(&self, token_id: &str, class: &str) -> String {
        self.text(&format!("tr[data-token-id='{token_id}'] .{class}"))
            .await
    }

    /// Revokes a token through its confirm page; lands back on the app page.
    async fn revoke(&self, app: &str, token_id: &str) {
        self.open_app(app).await;
        self.click(&format!("tr[data-token-id='{token_id}'] a.revoke-token"))
            .await;
        self.element("#confirm-form").await;
        assert_eq!(
            self.path().await,
            format!("/dashboard/settings/apps/{app}/tokens/{token_id}/revoke")
        );
        assert_eq!(self.text("#confirm-submit").await, "Revoke token");
        self.click("#confirm-submit").await;
        self.element("#tokens-table").await;
        self.assert_flash("Token revoked.").await;
    }

    /// Saves what the window shows, from the top of the page, as `name` in
    /// the screenshot directory (if any).
    async fn screenshot(&self, shots: &Option<std::path::PathBuf>, name: &str) {
        let Some(dir) = shots else { return };
        self.script("window.scrollTo(0, 0);", vec![]).await;
        let png = self.client().screenshot().await.expect("a screenshot");
        std::fs::create_dir_all(dir).expect("the screenshot directory");
        std::fs::write(dir.join(name), png).expect("write the screenshot");
    }

    /// Sizes the window so that the page itself (the viewport) is
    /// `width`×`height`: headless Chromium counts some browser chrome in the
    /// window size.
    async fn set_viewport(&self, width: u32, height: u32) {
        let client = self.client();
        client
            .set_window_size(width, height)
            .await
            .expect("set the window size");
        let inner = self
            .script("return [window.innerWidth, window.innerHeight];", vec![])
            .await;
        let size = |i: usize| u32::try_from(inner[i].as_u64().expect("a size")).expect("u32");
        let (extra_width, extra_height) =
            (width - size(0).min(width), height - size(1).min(height));
        client
            .set_window_size(width + extra_width, height + extra_height)
            .await
            .expect("set the window size");
    }

    // --- The API, with a token from the dashboard ---------------------------

    async fn contacts_status(&self, token: &str) -> u16 {
        self.server
            .get("/v1/contacts", token)
            .await
            .status()
            .as_u16()
    }

    /// `POST /v1/contacts`, then `GET /v1/contacts` lists it: the token works.
    async fn use_contacts_api(&self, token: &str, email: &str) {
        let created = self
            .server
            .post("/v1/contacts", token, &json!({ "email": email }))
            .await;
        assert_eq!(created.status(), 201, "create a contact");
        let emails = self.server.contact_emails(token).await;
        assert!(
            emails.iter().any(|e| e == email),
            "{email} not in {emails:?}"
        );
    }

    /// The caller's own record, `GET /v1/token`.
    async fn token_record(&self, token: &str) -> Value {
        let response = self.server.get("/v1/token", token).await;
        assert_eq!(response.status(), 200, "GET /v1/token");
        response.json().await.expect("json")
    }

    /// Asserts that the API refuses `token` (401), soon.
    async fn assert_token_rejected(&self, token: &str, why: &str) {
        let refused = eventually(Duration::from_secs(5), || async {
            self.contacts_status(token).await == 401
        })
        .await;
        assert!(refused.is_some(), "the API still accepts a token {why}");
    }

    // --- The CLI's view, to check what the browser cannot see -------------

    fn apps_of(&self, workspace: &str) -> Vec<Value> {
        let list = self
            .server
            .home
            .run_json(&["apps", "list", "--workspace", workspace]);
        list.as_array().expect("an array").clone()
    }

    fn tokens_of(&self, app: &str) -> Vec<Value> {
        let list = self.server.home.run_json(&["tokens", "list", "--app", app]);
        list.as_array().expect("an array").clone()
    }
}

/// A token's record (`GET /v1/token`) expires after the preset chosen, give
/// or take a day (presets may round to a day's end).
fn assert_expires_in(record: &Value, expiry: Expiry) {
    let days = (unix_of(&record["expires_at"]) - unix_now()) as f64 / 86_400.0;
    let wanted = expiry.days() as f64;
    assert!(
        (wanted - 1.0..=wanted + 1.0).contains(&days),
        "a {wanted}-day token expires in {days:.2} days"
    );
}

/// Where the flow test saves its screenshots: `INFORMLY_SCREENSHOTS`, on the
/// SQLite run only (the PostgreSQL twin would overwrite the same files).
fn screenshot_dir() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("INFORMLY_SCREENSHOTS").filter(|d| !d.is_empty())?;
    (common::backend() == Backend::Sqlite).then(|| dir.into())
}

// ---------------------------------------------------------------------------
// The whole path
// ---------------------------------------------------------------------------

browser_test!(
    a_user_signs_in_creates_an_app_and_generates_uses_and_revokes_tokens_then_signs_out,
    |site| {
        let shots = screenshot_dir();

        // Signing in.
        site.goto("/dashboard").await;
        site.element("#login-form").await;
        assert_eq!(site.path().await, "/dashboard/login");
        site.screenshot(&shots, "login.png").await;
        site.log_in().await;
        site.heading("Apps").await;
        assert!(site.has("#apps-empty").await, "a new workspace has no apps");

        // An app: created, listed, opened.
        let app = site
            .create_app("Zapier sync", "Pushes new contacts to Zapier")
            .await;
        assert!(site.has("#tokens-empty").await, "a new app has no tokens");
        site.click("nav a[href='/dashboard/settings/apps']").await;
        let link = format!("#apps-table tr[data-app-id='{app}'] a");
        assert_eq!(site.text(&link).await, "Zapier sync");
        site.click(&link).await;
        assert_eq!(site.text("#app-id").await, app);
        for permission in ["clipboard-read", "clipboard-write"] {
            site.client()
                .issue_cmd(GrantPermission(permission))
                .await
                .unwrap_or_else(|e| panic!("grant {permission}: {e}"));
        }
        assert_eq!(site.copy("copy-app-id", "app-id-status").await, app);

        // A PASETO token, 90 days, read and write. The custom date counts
        // only when chosen, so only then can it be changed.
        site.click("#generate-token").await;
        let date = site.element("#expires-on").await;
        assert!(
            !date.is_enabled().await.expect("enabled?"),
            "#expires-on enabled"
        );
        assert!(!site.value("#expires-on").await.is_empty(), "no date shown");
        site.choose("expiry-custom").await;
        assert!(
            date.is_enabled().await.expect("enabled?"),
            "#expires-on disabled"
        );
        site.fill_token_form(
            "zapier",
            &["contacts:read", "contacts:write"],
            Expiry::Days90,
            "paseto",
        )
        .await;
        site.screenshot(&shots, "generate-token.png").await;
        let paseto = site.submit_token_form().await;
        assert!(paseto.starts_with("v4.public."), "{paseto}");
        let new_token = site.element("#new-token").await;
        assert!(
            new_token.attr("readonly").await.expect("attr").is_some(),
            "#new-token is not read-only"
        );
        assert!(
            site.text("#token-warning")
                .await
                .contains("will not be able to see it again"),
            "the warning says the token is shown once"
        );

        // Copy: the button says so, and the clipboard holds the token.
        site.click("#copy-token").await;
        site.client()
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(
                "//*[@id='copy-status'][contains(normalize-space(), 'Copied')]",
            ))
            .await
            .expect("#copy-status says Copied after a click on #copy-token");
        let clipboard = site
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1];
             navigator.clipboard.readText().then(done, e => done('error: ' + e));",
                vec![],
            )
            .await
            .expect("read the clipboard");
        assert!(
            clipboard.as_str() == Some(paseto.as_str()),
            "the clipboard does not hold the token (it holds {} characters)",
            clipboard.as_str().map_or(0, str::len)
        );
        // The curl line, copied, tries the token against this service.
        let curl = site.copy("copy-curl", "curl-status").await;
        assert_eq!(
            curl,
            format!(
                "curl -H 'Authorization: Bearer {paseto}' {}",
                site.server.url("/v1/token")
            )
        );
        if shots.is_some() {
            // A picture of a credential is still a credential: the published one
            // shows a stand-in of the same shape.
            site.script(
                "const field = document.getElementById('new-token');
             const stand_in = 'v4.public.' + 'x'.repeat(field.value.length - 10);
             const curl = document.getElementById('curl-line');
             curl.value = curl.value.replace(field.value, stand_in);
             field.value = stand_in;",
                vec![],
            )
            .await;
        }
        site.screenshot(&shots, "token-created.png").await;

        // Done: the token is listed, active, and never shown again.
        site.click("#done").await;
        site.element("#tokens-table").await;
        assert_eq!(site.text("#app-id").await, app);
        let rows = site.token_rows().await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        let (paseto_id, status) = rows[0].clone();
        assert_eq!(status, "active");
        // The name, and (below it) the token's id.
        let name = site.token_cell(&paseto_id, "token-name").await;
        assert_eq!(name.lines().next(), Some("zapier"), "name cell {name:?}");
        assert_eq!(site.token_cell(&paseto_id, "token-format").await, "PASETO");
        let scopes = site.token_cell(&paseto_id, "token-scopes").await;
        assert!(
            scopes.contains("contacts:read") && scopes.contains("contacts:write"),
            "scopes cell {scopes:?}"
        );
        let source = site.client().source().await.expect("page source");
        assert!(
            !source.contains(&paseto),
            "the app page shows the token again"
        );

        // The token is the one listed, with what was chosen, and it works.
        let record = site.token_record(&paseto).await;
        assert_eq!(record["id"], paseto_id.as_str());
        assert_eq!(record["app"], app.as_str());
        assert_eq!(record["format"], "paseto");
        assert_eq!(record["scopes"], json!(["contacts:read", "contacts:write"]));
        assert_expires_in(&record, Expiry::Days90);
        site.use_contacts_api(&paseto, "ada@example.com").await;

        // Revoked through the confirm page: listed as revoked, refused by the API.
        site.revoke(&app, &paseto_id).await;
        assert_eq!(site.token_cell(&paseto_id, "token-status").await, "revoked");
        assert!(
            !site
                .has(&format!("tr[data-token-id='{paseto_id}'] a.revoke-token"))
                .await,
            "a revoked token still offers Revoke"
        );
        site.assert_token_rejected(&paseto, "revoked in the dashboard")
            .await;

        // A JWT, 7 days, read and write: it works too.
        site.open_token_form(&app).await;
        site.fill_token_form(
            "nightly",
            &["contacts:read", "contacts:write"],
            Expiry::Days7,
            "jwt",
        )
        .await;
        let jwt = site.submit_token_form().await;
        assert!(
            jwt.starts_with("eyJ") && jwt.matches('.').count() == 2,
            "not a JWT: {} characters",
            jwt.len()
        );
        site.click("#done").await;
        site.element("#tokens-table").await;
        let record = site.token_record(&jwt).await;
        assert_eq!(record["format"], "jwt");
        assert_eq!(record["scopes"], json!(["contacts:read", "contacts:write"]));
        assert_expires_in(&record, Expiry::Days7);
        let jwt_id = record["id"].as_str().expect("id").to_owned();
        assert_eq!(site.token_cell(&jwt_id, "token-format").await, "JWT");
        assert_eq!(site.token_cell(&jwt_id, "token-status").await, "active");
        assert_eq!(site.token_rows().await.len(), 2);
        let source = site.client().source().await.expect("page source");
        assert!(!source.contains(&jwt), "the app page shows the JWT again");
        site.use_contacts_api(&jwt, "grace@example.com").await;
        site.screenshot(&shots, "app.png").await;

        // Apps counts the active tokens; Keys lists the key ring.
        site.click("nav a[href='/dashboard/settings/apps']").await;
        let count = format!("#apps-table tr[data-app-id='{app}'] td.app-tokens");
        assert_eq!(site.text(&count).await, "1", "one active token");
        site.screenshot(&shots, "apps.png").await;
        site.click("nav a[href='/dashboard/settings/keys']").await;
        site.element("#keys-table").await;
        let states = site
            .client()
            .find_all(Locator::Css("#keys-table tr[data-kid] .key-state"))
            .await
            .expect("key states");
        let mut active = 0;
        for state in states {
            active += usize::from(state.text().await.expect("text").trim() == "active");
        }
        assert!(active >= 2, "an active PASETO key and an active JWT key");
        assert!(
            site.text("#rotate-commands")
                .await
                .contains("informly keys rotate"),
            "Keys shows how to rotate"
        );
        site.screenshot(&shots, "keys.png").await;

        // The same pages on a phone.
        if shots.is_some() {
            site.set_viewport(390, 844).await;
            site.goto("/dashboard/settings/apps").await;
            site.element("#apps-table").await;
            site.screenshot(&shots, "apps-phone.png").await;
            site.open_token_form(&app).await;
            site.screenshot(&shots, "generate-token-phone.png").await;
            site.set_viewport(1280, 900).await;
        }

        // Signing out ends the session, in the browser and on the server.
        let cookie = site.session_cookie().await;
        site.click_button("logout-form", "Log out").await;
        site.element("#login-form").await;
        site.goto("/dashboard/settings/apps").await;
        site.element("#login-form").await;
        assert_eq!(site.path().await, "/dashboard/login");
        let (status, location) = site.fetch_page("/dashboard/settings/apps", &cookie).await;
        assert_eq!(
            (status, location.as_deref()),
            (303, Some("/dashboard/login")),
            "the old session cookie still works after signing out"
        );
    }
);

/// The flow's PostgreSQL twin, declared by hand: it needs Chromium as well as
/// PostgreSQL, and the twins of `informly_postgres_twins!` are ignored only
/// without PostgreSQL.
mod on_postgres_in_the_browser {
    #[test]
    #[cfg_attr(
        not(all(postgres_tests, browser_tests)),
        ignore = "PostgreSQL and browser: set INFORMLY_TEST_POSTGRES_URL and INFORMLY_TEST_BROWSER=1"
    )]
    fn a_user_signs_in_creates_an_app_and_generates_uses_and_revokes_tokens_then_signs_out() {
        crate::common::on_postgres(
            super::a_user_signs_in_creates_an_app_and_generates_uses_and_revokes_tokens_then_signs_out,
        )
    }
}

// ---------------------------------------------------------------------------
// Failure paths
// ---------------------------------------------------------------------------

browser_test!(
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    |site| {
        let cases = [
            (EMAIL, WRONG_PASSWORD, "a wrong password"),
            ("mallory@example.com", PASSWORD, "an unknown email"),
        ];
        for (email, password, case) in cases {
            site.submit_login(email, password).await;
            assert_eq!(
                site.text("#form-error").await,
                "Incorrect email or password.",
                "{case}"
            );
            let role = site.element("#form-error").await.attr("role").await;
            assert_eq!(role.expect("attr").as_deref(), Some("alert"), "{case}");
            assert_eq!(site.path().await, "/dashboard/login", "{case}");
            assert!(!site.has("#current-user").await, "{case}: signed in");
            site.element("#login-form").await;
        }
        site.log_in().await;
    }
);

browser_test!(
    a_form_without_its_csrf_field_or_with_a_wrong_one_is_refused_and_changes_nothing,
    |site| {
        // Sign-in, without its CSRF field: refused, not signed in.
        site.goto("/dashboard/login").await;
        site.fill("#email", EMAIL).await;
        site.fill("#password", PASSWORD).await;
        site.script(
            "document.querySelector('#login-form input[name=csrf]').remove();",
            vec![],
        )
        .await;
        site.click("#login-submit").await;
        site.heading("This form has expired").await;
        assert!(!site.has("#current-user").await, "signed in without CSRF");

        // Creating an app: without the field, and with a wrong value.
        site.log_in().await;
        let tamperings = [
            (
                "document.querySelector('#create-app-form input[name=csrf]').remove();",
                "without its CSRF field",
            ),
            (
                "document.querySelector('#create-app-form input[name=csrf]').value = 'x' + \
             document.querySelector('#create-app-form input[name=csrf]').value;",
                "with a wrong CSRF value",
            ),
        ];
        for (tamper, case) in tamperings {
            site.goto("/dashboard/settings/apps").await;
            site.fill("#app-name", "Sneaky").await;
            site.script(tamper, vec![]).await;
            site.click_button("create-app-form", "Create app").await;
            site.heading("This form has expired").await;
            assert!(
                site.apps_of(WORKSPACE).is_empty(),
                "an app was created {case}"
            );
        }
    }
);

browser_test!(
    an_expiry_in_the_past_is_refused_and_no_token_is_created,
    |site| {
        site.log_in().await;
        let app = site.create_app("Past", "").await;
        site.open_token_form(&app).await;
        site.fill("#token-name", "too late").await;
        site.choose("scope-contacts-read").await;
        site.choose("expiry-custom").await;
        let yesterday = time::OffsetDateTime::now_utc()
            .date()
            .previous_day()
            .expect("a day before today");
        let yesterday = format!(
            "{}-{:02}-{:02}",
            yesterday.year(),
            u8::from(yesterday.month()),
            yesterday.day()
        );
        // Date inputs are awkward to type into; the value is what is submitted.
        // The form's own validation is off: the server's check is what is tested
        // (a `min` attribute would only be a convenience).
        site.script(
            "document.getElementById('expires-on').value = arguments[0];
         document.getElementById('token-form').noValidate = true;",
            vec![json!(yesterday)],
        )
        .await;
        site.click("#generate-submit").await;
        let error = site.element("#expiry-error").await;
        assert!(
            error.is_displayed().await.expect("displayed"),
            "#expiry-error hidden"
        );
        assert!(!error.text().await.expect("text").trim().is_empty());
        assert_eq!(
            site.value("#token-name").await,
            "too late",
            "the name is kept"
        );
        assert!(
            site.element("#scope-contacts-read")
                .await
                .is_selected()
                .await
                .expect("is_selected"),
            "the chosen permission is kept"
        );
        assert_eq!(
            site.value("#expires-on").await,
            yesterday,
            "the date is kept"
        );
        assert!(!site.has("#new-token").await, "a token was shown");
        assert!(site.tokens_of(&app).is_empty(), "a token was created");
    }
);

browser_test!(
    a_token_without_any_permission_is_refused_and_none_is_created,
    |site| {
        site.log_in().await;
        let app = site.create_app("No scopes", "").await;
        site.open_token_form(&app).await;
        site.fill("#token-name", "nothing").await;
        site.script(
            "document.querySelectorAll('#token-form input[name=scope]')
             .forEach(box => { box.checked = false; });",
            vec![],
        )
        .await;
        site.click("#generate-submit").await;
        assert_eq!(
            site.text("#scope-error").await,
            "Choose at least one permission."
        );
        assert_eq!(
            site.value("#token-name").await,
            "nothing",
            "the name is kept"
        );
        assert!(!site.has("#new-token").await, "a token was shown");
        assert!(site.tokens_of(&app).is_empty(), "a token was created");
    }
);

browser_test!(
    another_workspaces_app_and_an_unknown_page_are_not_found,
    |site| {
        let home = &site.server.home;
        home.run(&["workspaces", "create", "--name", "other"]);
        let theirs = home.run_json(&["apps", "create", "--workspace", "other", "--name", "x"]);
        let theirs = theirs["id"].as_str().expect("id").to_owned();
        let token = home.run(&[
            "tokens",
            "issue",
            "--app",
            &theirs,
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
        ]);
        let their_token = home.run_json(&["tokens", "list", "--app", &theirs])[0]["id"]
            .as_str()
            .expect("a token id")
            .to_owned();

        site.log_in().await;
        let cookie = site.session_cookie().await;
        let pages = [
            format!("/dashboard/settings/apps/{theirs}"),
            format!("/dashboard/settings/apps/{theirs}/tokens/new"),
            format!("/dashboard/settings/apps/{theirs}/delete"),
            format!("/dashboard/settings/apps/{theirs}/tokens/{their_token}/revoke"),
            "/dashboard/settings/apps/app_01J00000000000000000000000".to_owned(),
            "/dashboard/no-such-page".to_owned(),
        ];
        for page in &pages {
            site.goto(page).await;
            site.heading("Not found").await;
            assert!(
                !site.has("#confirm-form").await && !site.has("#token-form").await,
                "{page} offers a form"
            );
            let (status, _) = site.fetch_page(page, &cookie).await;
            assert_eq!(status, 404, "{page}");
        }
        assert_eq!(site.apps_of("other").len(), 1, "their app is untouched");
        assert_eq!(site.contacts_status(&token).await, 200, "their token works");
    }
);

browser_test!(
    deleting_an_app_through_its_confirm_page_rejects_its_tokens,
    |site| {
        site.log_in().await;
        let app = site.create_app("Doomed", "Deleted in a moment").await;
        let token = site.server.home.run(&[
            "tokens",
            "issue",
            "--app",
            &app,
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
        ]);
        assert_eq!(site.contacts_status(&token).await, 200, "the token works");

        site.open_app(&app).await;
        site.click("#delete-app").await;
        site.element("#confirm-form").await;
        assert_eq!(
            site.path().await,
            format!("/dashboard/settings/apps/{app}/delete")
        );
        assert_eq!(site.text("#confirm-submit").await, "Delete app");
        site.click("#confirm-submit").await;
        site.heading("Apps").await;
        site.assert_flash("App deleted.").await;
        assert_eq!(site.path().await, "/dashboard/settings/apps");
        assert!(
            !site.has(&format!("tr[data-app-id='{app}']")).await,
            "the deleted app is still listed"
        );
        assert!(site.apps_of(WORKSPACE).is_empty(), "the app still exists");
        site.assert_token_rejected(&token, "of a deleted app").await;
    }
);

browser_test!(
    a_token_is_rolled_with_an_overlap_the_new_one_shown_once_and_the_old_row_says_when_it_stops,
    |site| {
        site.log_in().await;
        let app = site.create_app("Rolled", "").await;
        site.open_token_form(&app).await;
        site.fill_token_form("sync", &["contacts:read"], Expiry::Days7, "paseto")
            .await;
        let old = site.submit_token_form().await;
        site.click("#done").await;
        let rows = site.token_rows().await;
        let (old_id, _) = rows[0].clone();

        site.click(&format!("tr[data-token-id='{old_id}'] a.roll-token"))
            .await;
        site.heading("Roll a token").await;
        assert!(
            site.element("#overlap-24h")
                .await
                .is_selected()
                .await
                .expect("is_selected"),
            "24 hours by default"
        );
        site.choose("overlap-1h").await;
        site.choose("expiry-90d").await;
        let new = site.submit_token_form().await;
        assert_ne!(new, old);
        assert!(site.text("#rolled-note").await.contains("stops working at"));
        assert_eq!(site.contacts_status(&new).await, 200);
        assert_eq!(site.contacts_status(&old).await, 200, "during the overlap");

        site.click("#done").await;
        site.element("#tokens-table").await;
        let status = site.token_cell(&old_id, "token-status").await;
        assert_eq!(status, "rolling");
        let row = site.text(&format!("tr[data-token-id='{old_id}']")).await;
        assert!(row.contains("stops working at"), "{row}");
        assert!(
            !site
                .has(&format!("tr[data-token-id='{old_id}'] a.roll-token"))
                .await,
            "a rolling token is not offered a second roll"
        );
    }
);

// ---------------------------------------------------------------------------
// Accessibility
// ---------------------------------------------------------------------------

browser_test!(
    every_field_has_a_label_and_signing_in_works_from_the_keyboard,
    |site| {
        // Sign-in with the keyboard alone: type, Enter.
        site.goto("/dashboard/login").await;
        assert_labelled(&site, "#login-form").await;
        site.element("#email")
            .await
            .send_keys(EMAIL)
            .await
            .expect("type");
        let enter = char::from(Key::Enter).to_string();
        site.element("#password")
            .await
            .send_keys(&format!("{PASSWORD}{enter}"))
            .await
            .expect("type");
        assert_eq!(site.text("#current-user").await, EMAIL);

        assert_labelled(&site, "#create-app-form").await;
        let app = site.create_app("Labels", "").await;
        site.open_token_form(&app).await;
        assert_labelled(&site, "#token-form").await;
        let modules = site
            .client()
            .find_all(Locator::Css("#token-form fieldset.scope-module"))
            .await
            .expect("fieldsets");
        assert!(!modules.is_empty(), "no scope fieldsets");
        for module in modules {
            let legend = module.find(Locator::Css("legend")).await.expect("a legend");
            assert!(!legend.text().await.expect("text").trim().is_empty());
        }
    }
);

/// Every visible field of `form` (inputs, textareas, selects) has an id and a
/// `label[for=id]` with some text.
async fn assert_labelled(site: &Site, form: &str) {
    site.element(form).await;
    let css = format!(
        "{form} input:not([type=hidden]):not([type=submit]), {form} textarea, {form} select"
    );
    let fields = site
        .client()
        .find_all(Locator::Css(&css))
        .await
        .expect("fields");
    assert!(!fields.is_empty(), "{form} has no fields");
    for field in fields {
        let html = field.html(false).await.expect("html");
        let id = field.attr("id").await.expect("attr").unwrap_or_default();
        assert!(!id.is_empty(), "a field of {form} has no id: {html}");
        let label = site
            .client()
            .find_all(Locator::Css(&format!("label[for='{id}']")))
            .await
            .expect("labels");
        assert_eq!(label.len(), 1, "#{id} in {form} has {} labels", label.len());
        let text = label[0].text().await.expect("text");
        assert!(!text.trim().is_empty(), "#{id} has an empty label");
    }
}

informly_postgres_twins! {
    tests: [],
    sqlite_only: [
        a_user_signs_in_creates_an_app_and_generates_uses_and_revokes_tokens_then_signs_out:
            "its PostgreSQL twin is declared by hand in `on_postgres_in_the_browser`: it needs Chromium too, which the macro's twins cannot require",
        a_wrong_password_and_an_unknown_email_get_the_same_answer:
            "the dashboard's failure paths do not depend on the backend (the whole path runs on both); SQLite only to keep CI time down",
        a_form_without_its_csrf_field_or_with_a_wrong_one_is_refused_and_changes_nothing:
            "the dashboard's failure paths do not depend on the backend (the whole path runs on both); SQLite only to keep CI time down",
        an_expiry_in_the_past_is_refused_and_no_token_is_created:
            "the dashboard's failure paths do not depend on the backend (the whole path runs on both); SQLite only to keep CI time down",
        a_token_without_any_permission_is_refused_and_none_is_created:
            "the dashboard's failure paths do not depend on the backend (the whole path runs on both); SQLite only to keep CI time down",
        another_workspaces_app_and_an_unknown_page_are_not_found:
            "the dashboard's failure paths do not depend on the backend (the whole path runs on both); SQLite only to keep CI time down",
        deleting_an_app_through_its_confirm_page_rejects_its_tokens:
            "the dashboard's failure paths do not depend on the backend (the whole path runs on both); SQLite only to keep CI time down",
        every_field_has_a_label_and_signing_in_works_from_the_keyboard:
            "checks markup, which does not depend on the backend; SQLite only to keep CI time down",
        a_token_is_rolled_with_an_overlap_the_new_one_shown_once_and_the_old_row_says_when_it_stops:
            "the roll's backend paths run on both in tests/dashboard.rs; SQLite only to keep CI time down",
    ],
}
