//! The remote verifier's unit tests, against a tiny fake Informly server on a
//! thread; time is a hand-moved clock.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use super::feed::FULL_LIST_EVERY_S;
use super::fetch::redact;
use super::*;
use crate::clock::ManualClock;
use crate::token::{
    AppCutoff, Format, KeySet, KeyStatus, RevocationFeed, RevokedToken, Scope, ScopeSet,
    SigningKey, Subject, TokenClaims,
};

const NOW: UnixTime = 1_800_000_000;
const APP: &str = "app_01J0000000000000000000000C";

type Route = dyn Fn(&str) -> (u16, String) + Send + Sync;

/// A tiny HTTP/1.1 server on a thread (std only): answers every request
/// through `route` (given the path and query) and records what was asked.
struct Upstream {
    base: String,
    asked: Arc<StdMutex<Vec<String>>>,
}

impl Upstream {
    fn start(route: Arc<Route>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(StdMutex::new(Vec::new()));
        let log = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let target = line.split(' ').nth(1).unwrap_or("").to_owned();
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                log.lock().unwrap().push(target.clone());
                let (status, body) = route(&target);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Upstream { base, asked }
    }

    fn count(&self, path: &str) -> usize {
        let asked = self.asked.lock().unwrap();
        asked.iter().filter(|t| t.starts_with(path)).count()
    }
}

/// What the fake Informly server publishes; tests change it as they go.
struct Published {
    keys: Vec<(SigningKey, KeyStatus)>,
    denylist: Vec<RevokedToken>,
    cutoffs: Vec<AppCutoff>,
    up: bool,
    /// Overrides the page's `iat` (to serve an old page).
    issued_at: Option<UnixTime>,
}

fn paseto_key(byte: u8) -> SigningKey {
    SigningKey::from_seed(Format::Paseto, &[byte; 32]).unwrap()
}

fn jwt_key(byte: u8) -> SigningKey {
    SigningKey::from_seed(Format::Jwt, &[byte; 32]).unwrap()
}

fn informly(published: Arc<StdMutex<Published>>, clock: Arc<ManualClock>) -> Upstream {
    Upstream::start(Arc::new(move |target: &str| {
        let p = published.lock().unwrap();
        if !p.up {
            return (503, "{}".to_owned());
        }
        let mut keys = KeySet::new();
        for (key, status) in &p.keys {
            keys.insert(key.public_key(), *status).unwrap();
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        match path {
            PASERK_PATH => (200, serde_json::to_string(&keys.paserk_set()).unwrap()),
            JWKS_PATH => (200, serde_json::to_string(&keys.jwks()).unwrap()),
            REVOCATIONS_PATH => {
                let since = query.strip_prefix("since=").map(str::to_owned);
                let now = clock.unix();
                let iat = p.issued_at.unwrap_or(now);
                let page = RevocationFeed {
                    issuer: Policy::DEFAULT_ISSUER.to_owned(),
                    issued_at: iat,
                    expires_at: iat + 60,
                    since: since.clone(),
                    next: "bmV4dA".to_owned(),
                    full: since.is_none(),
                    revoked: p.denylist.clone(),
                    cutoffs: p.cutoffs.clone(),
                };
                let signer = p
                    .keys
                    .iter()
                    .find(|(k, s)| k.format() == Format::Paseto && *s == KeyStatus::Active)
                    .map(|(k, _)| k)
                    .unwrap();
                let feed = page.sign(signer).unwrap();
                (200, serde_json::json!({ "feed": feed }).to_string())
            }
            _ => (404, "{}".to_owned()),
        }
    }))
}

struct Setup {
    upstream: Upstream,
    published: Arc<StdMutex<Published>>,
    clock: Arc<ManualClock>,
}

fn setup() -> Setup {
    let clock = Arc::new(ManualClock::at(NOW));
    let published = Arc::new(StdMutex::new(Published {
        keys: vec![
            (paseto_key(1), KeyStatus::Active),
            (jwt_key(2), KeyStatus::Active),
        ],
        denylist: Vec::new(),
        cutoffs: Vec::new(),
        up: true,
        issued_at: None,
    }));
    let upstream = informly(published.clone(), clock.clone());
    Setup {
        upstream,
        published,
        clock,
    }
}

impl Setup {
    fn builder(&self) -> Builder {
        RemoteVerifier::builder()
            .base_url(&self.upstream.base)
            .clock(self.clock.clone())
            // Background work stays out of the way: tests poll by hand.
            .key_refresh(Duration::from_secs(3600))
            .feed_interval(Duration::from_secs(3600))
    }
}

fn claims(token_id: &str, scopes: &[&str]) -> TokenClaims {
    TokenClaims {
        token_id: token_id.to_owned(),
        workspace: "ws_01J0000000000000000000000B".to_owned(),
        subject: Subject::App(APP.to_owned()),
        scopes: ScopeSet::parse_for_app(scopes.iter().copied()).unwrap(),
        issued_at: NOW,
        not_before: NOW,
        expires_at: NOW + 3600,
    }
}

fn token(key: &SigningKey, token_id: &str) -> String {
    key.sign(&claims(token_id, &["contacts:read"]), &Policy::default())
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const TOK_A: &str = "tok_01J0000000000000000000000A";
const TOK_B: &str = "tok_01J0000000000000000000000D";

#[test]
fn tokens_of_both_formats_verify_with_the_published_keys_and_scopes_are_checked_in_one_call() {
    let s = setup();
    runtime().block_on(async {
        let verifier = s.builder().build().await.unwrap();
        for key in [paseto_key(1), jwt_key(2)] {
            let verified = verifier.verify(&token(&key, TOK_A)).await.unwrap();
            assert_eq!(verified.app_id(), Some(APP));
            assert_eq!(verified.workspace(), "ws_01J0000000000000000000000B");
            assert!(verified.require(Scope::CONTACTS_READ).is_ok());
            assert_eq!(
                verified.require(Scope::CONTACTS_WRITE).err(),
                Some(token::MissingScope(Scope::CONTACTS_WRITE))
            );
        }
        assert_eq!(
            verifier.verify("garbage").await,
            Err(VerifyError::Token(token::Error::UnsupportedFormat))
        );
        // Expiry follows the injected clock.
        s.clock.advance(3600 + 31);
        verifier.poll_revocations().await.unwrap();
        assert_eq!(
            verifier.verify(&token(&paseto_key(1), TOK_A)).await,
            Err(VerifyError::Token(token::Error::Expired))
        );
    });
}

#[test]
fn a_revoked_token_or_app_is_refused_after_the_next_poll() {
    let s = setup();
    runtime().block_on(async {
        let verifier = s.builder().build().await.unwrap();
        let (a, b) = (token(&paseto_key(1), TOK_A), token(&jwt_key(2), TOK_B));
        assert!(verifier.verify(&a).await.is_ok());
        s.published.lock().unwrap().denylist = vec![RevokedToken {
            token_id: TOK_A.to_owned(),
            expires_at: NOW + 3600,
            from: None,
        }];
        assert!(verifier.verify(&a).await.is_ok(), "not polled yet");
        verifier.poll_revocations().await.unwrap();
        assert_eq!(
            verifier.verify(&a).await,
            Err(VerifyError::Token(token::Error::Revoked))
        );
        assert!(verifier.verify(&b).await.is_ok());
        s.published.lock().unwrap().cutoffs = vec![AppCutoff {
            client_id: APP.to_owned(),
            cutoff: NOW,
            expires_at: NOW + 7200,
        }];
        verifier.poll_revocations().await.unwrap();
        assert_eq!(
            verifier.verify(&b).await,
            Err(VerifyError::Token(token::Error::Revoked))
        );
        assert_eq!(verifier.status().denylist_entries, 2);
    });
}

#[test]
fn every_ten_minutes_a_poll_takes_the_full_list_which_replaces_the_denylist() {
    let s = setup();
    runtime().block_on(async {
        let verifier = s.builder().build().await.unwrap();
        let a = token(&paseto_key(1), TOK_A);
        s.published.lock().unwrap().denylist = vec![RevokedToken {
            token_id: TOK_A.to_owned(),
            expires_at: NOW + 3600,
            from: None,
        }];
        verifier.poll_revocations().await.unwrap();
        // The entry is gone from the server (say its database was
        // restored): pages of changes only ever add, so it stays here...
        s.published.lock().unwrap().denylist.clear();
        s.clock.advance(FULL_LIST_EVERY_S - 1);
        verifier.poll_revocations().await.unwrap();
        assert_eq!(
            verifier.verify(&a).await,
            Err(VerifyError::Token(token::Error::Revoked))
        );
        // ...until the next full list, which is the server's whole truth.
        s.clock.advance(1);
        verifier.poll_revocations().await.unwrap();
        assert!(verifier.verify(&a).await.is_ok());
    });
}

#[test]
fn a_page_older_than_the_last_applied_is_refused() {
    let s = setup();
    runtime().block_on(async {
        let verifier = s.builder().build().await.unwrap();
        s.clock.advance(10);
        verifier.poll_revocations().await.unwrap();
        s.published.lock().unwrap().issued_at = Some(NOW + 5);
        assert_eq!(verifier.poll_revocations().await, Err(LoadError::Replayed));
        assert_eq!(verifier.status().feed_verified_at, Some(NOW + 10));
    });
}

#[test]
fn with_the_server_down_tokens_verify_until_the_staleness_bound_then_fail_closed() {
    let s = setup();
    runtime().block_on(async {
        let verifier = s
            .builder()
            .staleness(Duration::from_secs(120))
            .build()
            .await
            .unwrap();
        let a = token(&paseto_key(1), TOK_A);
        s.published.lock().unwrap().up = false;
        s.clock.advance(120);
        assert!(verifier.poll_revocations().await.is_err());
        assert!(verifier.refresh_keys().await.is_err());
        assert!(verifier.verify(&a).await.is_ok(), "within the bound");
        s.clock.advance(1);
        assert_eq!(verifier.verify(&a).await, Err(VerifyError::Stale));
        // Garbage is still refused for what it is.
        assert_eq!(
            verifier.verify("garbage").await,
            Err(VerifyError::Token(token::Error::UnsupportedFormat))
        );
        s.published.lock().unwrap().up = true;
        verifier.poll_revocations().await.unwrap();
        assert!(verifier.verify(&a).await.is_ok(), "fresh again");
    });
}

#[test]
fn an_unknown_key_id_refreshes_the_keys_at_most_once_per_interval() {
    let s = setup();
    runtime().block_on(async {
        let verifier = s
            .builder()
            .key_refresh_min(Duration::from_millis(300))
            .build()
            .await
            .unwrap();
        assert_eq!(s.upstream.count(PASERK_PATH), 1);
        // A key published after start verifies at once (the first
        // unknown kid after the interval refreshes).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let new_key = paseto_key(3);
        s.published
            .lock()
            .unwrap()
            .keys
            .push((paseto_key(3), KeyStatus::Pending));
        assert!(verifier.verify(&token(&new_key, TOK_A)).await.is_ok());
        assert_eq!(s.upstream.count(PASERK_PATH), 2);

        // A flood of bogus key ids, concurrently: no further fetch.
        let bogus = token(&paseto_key(9), TOK_A);
        let flood = (0..200).map(|_| {
            let verifier = verifier.clone();
            let bogus = bogus.clone();
            async move { verifier.verify(&bogus).await }
        });
        for result in futures::future::join_all(flood).await {
            assert_eq!(result, Err(VerifyError::Token(token::Error::UnknownKey)));
        }
        assert_eq!(s.upstream.count(PASERK_PATH), 2);
        tokio::time::sleep(Duration::from_millis(300)).await;
        for _ in 0..50 {
            let _ = verifier.verify(&bogus).await;
        }
        assert_eq!(s.upstream.count(PASERK_PATH), 3, "one more per interval");
    });
}

#[test]
fn a_retired_key_verifies_nothing_after_the_next_refresh() {
    let s = setup();
    runtime().block_on(async {
        let verifier = s.builder().build().await.unwrap();
        let old = token(&jwt_key(2), TOK_A);
        assert!(verifier.verify(&old).await.is_ok());
        s.published.lock().unwrap().keys[1].1 = KeyStatus::Retired;
        verifier.refresh_keys().await.unwrap();
        // Retired keys leave the published documents: unknown from now on.
        assert_eq!(
            verifier.verify(&old).await,
            Err(VerifyError::Token(token::Error::UnknownKey))
        );
    });
}

#[test]
fn the_builder_insists_on_keys_and_on_a_revocation_choice() {
    let s = setup();
    runtime().block_on(async {
        let none = RemoteVerifier::builder()
            .without_revocations()
            .build()
            .await;
        assert_eq!(none.err(), Some(LoadError::NoKeySource));
        let unset = RemoteVerifier::builder()
            .paserk_url(format!("{}{PASERK_PATH}", s.upstream.base))
            .build()
            .await;
        assert_eq!(unset.err(), Some(LoadError::NoRevocationFeed));
        let jwt_only = RemoteVerifier::builder()
            .jwks_url(format!("{}{JWKS_PATH}", s.upstream.base))
            .revocations_url(format!("{}{REVOCATIONS_PATH}", s.upstream.base))
            .clock(s.clock.clone())
            .build()
            .await;
        assert_eq!(
            jwt_only.err(),
            Some(LoadError::Feed(FeedError::Token(token::Error::UnknownKey))),
            "the feed is signed with a PASETO key"
        );
        let missing = RemoteVerifier::builder()
            .paserk_url(format!("{}/nope", s.upstream.base))
            .without_revocations()
            .build()
            .await;
        assert!(matches!(
            missing.err(),
            Some(LoadError::Status { status: 404, .. })
        ));
    });
}

#[test]
fn errors_never_show_credentials_in_a_url() {
    assert_eq!(
        redact("https://user:secret@host:8080/v1/revocations?since=x"),
        "https://host:8080/v1/revocations?since=x"
    );
    assert_eq!(redact("http://host/a@b"), "http://host/a@b");
    assert_eq!(redact("not a url"), "not a url");
}

#[test]
fn keys_load_from_a_file_of_either_document() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let (paseto, jwt) = (paseto_key(1), jwt_key(2));
    let mut keys = KeySet::new();
    keys.insert(paseto.public_key(), KeyStatus::Active).unwrap();
    keys.insert(jwt.public_key(), KeyStatus::Active).unwrap();
    let paserk_file = dir.path().join("paserk.json");
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(
        &paserk_file,
        serde_json::to_vec(&keys.paserk_set()).unwrap(),
    )
    .unwrap();
    std::fs::write(&jwks_file, serde_json::to_vec(&keys.jwks()).unwrap()).unwrap();
    runtime().block_on(async {
        let verifier = RemoteVerifier::builder()
            .keys_file(&paserk_file)
            .keys_file(&jwks_file)
            .revocations_url(format!("{}{REVOCATIONS_PATH}", s.upstream.base))
            .clock(s.clock.clone())
            .build()
            .await
            .unwrap();
        assert_eq!(verifier.status().keys, 2);
        assert!(verifier.verify(&token(&paseto, TOK_A)).await.is_ok());
        assert!(verifier.verify(&token(&jwt, TOK_A)).await.is_ok());
        std::fs::write(&jwks_file, b"{}").unwrap();
        assert!(matches!(
            verifier.refresh_keys().await,
            Err(LoadError::Document { .. })
        ));
    });
}

#[test]
fn background_polls_run_on_schedule_and_stop_when_the_verifier_is_dropped() {
    let s = setup();
    runtime().block_on(async {
        let verifier = s
            .builder()
            .feed_interval(Duration::from_millis(50))
            .build()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let polled = s.upstream.count(REVOCATIONS_PATH);
        assert!(polled >= 3, "{polled} polls");
        drop(verifier);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after = s.upstream.count(REVOCATIONS_PATH);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(s.upstream.count(REVOCATIONS_PATH), after);
    });
}
