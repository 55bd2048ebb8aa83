//! The signed revocation feed, `GET /v1/revocations` (GitHub issue 7), end to
//! end: the real binary over a real database.
//!
//! What is pinned here (docs/revocation-feed.md):
//! - without `since`, the full list of entries in force; with a cursor, the
//!   entries recorded since (token revocations and app deletions);
//! - entries whose tokens have expired (beyond the leeway) drop out;
//! - a page verifies offline with `/.well-known/paserk.json` alone, through
//!   `informly::token::RevocationFeed::verify`, and applies to a `Denylist`;
//! - a tampered page, one signed by an unknown or a retired key, and a page
//!   sent as a bearer token are refused (and a token is never a feed);
//! - the page holds only ids and times; a cursor we did not hand out is 400.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Home, Issued, Server, ServerWithApp, eventually, str_of, unix_now};
use informly::ids::TokenId;
use informly::keys::KeyRing;
use informly::store::{NewToken, Store};
use informly::token::{
    Denylist, Error, FeedError, Format, KeySet, Policy, RevocationFeed, ScopeSet, Subject,
    TokenClaims,
};
use serde_json::Value;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `GET /v1/revocations[?since=…]` with no credentials: status, headers, body.
async fn fetch(server: &Server, since: Option<&str>) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = server.client.get(server.url("/v1/revocations"));
    if let Some(since) = since {
        request = request.query(&[("since", since)]);
    }
    let response = request.send().await.expect("GET /v1/revocations");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.expect("a JSON body");
    (status, headers, body)
}

/// The payload of a PASETO v4.public token, read without checking anything.
fn payload_of(token: &str) -> Value {
    let body = token.strip_prefix("v4.public.").expect("v4.public");
    let message = body.split('.').next().expect("a message");
    let bytes = URL_SAFE_NO_PAD.decode(message).expect("base64url");
    serde_json::from_slice(&bytes[..bytes.len() - 64]).expect("a JSON payload")
}

/// The footer's `kid` of a PASETO token.
fn kid_of(token: &str) -> String {
    let footer = token.rsplit('.').next().expect("a footer");
    let footer: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(footer).expect("base64url")).expect("json");
    str_of(&footer["kid"])
}

fn has_token(page: &RevocationFeed, token_id: &str) -> bool {
    page.revoked.iter().any(|r| r.token_id == token_id)
}

fn claims(token_id: &str, app: &str, issued_at: i64) -> TokenClaims {
    TokenClaims {
        token_id: token_id.to_owned(),
        workspace: "ws_01J0000000000000000000000B".to_owned(),
        subject: Subject::App(app.to_owned()),
        scopes: ScopeSet::EMPTY,
        issued_at,
        not_before: issued_at,
        expires_at: issued_at + 3600,
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn without_since_the_feed_is_the_full_list_signed_by_the_active_paseto_key_and_cacheable_briefly()
 {
    let s = ServerWithApp::start("feed tests").await;
    let kept = s.issue(&["contacts:read"], "paseto").await.id;
    let Issued {
        id: revoked,
        expires_at,
        ..
    } = s.issue(&["contacts:read"], "paseto").await;
    s.revoke(&revoked).await;

    let (status, headers, body) = fetch(&s.server, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(
        headers["cache-control"].to_str().unwrap(),
        "public, max-age=5"
    );
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["feed"],
        "the envelope holds the signed feed alone"
    );
    let feed = str_of(&body["feed"]);
    let active = s.server.home.run_json(&["keys", "list"]);
    let active_paseto = active
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["format"] == "paseto" && k["status"] == "active")
        .map(|k| str_of(&k["kid"]))
        .expect("an active PASETO key");
    assert_eq!(kid_of(&feed), active_paseto);

    let page = s.server.revocation_feed(None).await;
    let now = unix_now();
    assert!(page.full);
    assert_eq!(page.since, None);
    assert_eq!(page.issuer, Policy::DEFAULT_ISSUER);
    assert!(
        (page.issued_at - now).abs() <= 5,
        "iat is the server's time"
    );
    assert_eq!(page.expires_at, page.issued_at + 60);
    assert_eq!(page.revoked.len(), 1, "{page:?}");
    assert_eq!(page.revoked[0].token_id, revoked);
    assert_eq!(page.revoked[0].expires_at, expires_at);
    assert_eq!(page.revoked[0].from, None, "revoked at once");
    assert!(!has_token(&page, &kept));
    assert!(page.cutoffs.is_empty());

    // A roll is published at once, with the second the revocation of the old
    // token takes effect.
    let rolled = s.issue(&["contacts:read"], "jwt").await;
    let response = s
        .server
        .post(
            &format!("/v1/apps/{}/tokens/{}/roll", s.app, rolled.id),
            &s.admin,
            &serde_json::json!({"expires_in": "30d", "overlap": "10m"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let successor: Value = response.json().await.expect("json");
    common::remember_secret(str_of(&successor["token"]).as_str());
    let page = s.server.revocation_feed(None).await;
    let entry = page
        .revoked
        .iter()
        .find(|r| r.token_id == rolled.id)
        .expect("the rolled token is in the feed at once");
    let from = entry.from.expect("a scheduled revocation");
    assert!((from - (unix_now() + 600)).abs() <= 5, "{entry:?}");
    assert_eq!(entry.expires_at, rolled.expires_at);

    // Nobody revoked anything since: the same cursor comes back, so every
    // follower that is up to date asks with the same URL (a cache can answer).
    let again = s.server.revocation_feed(None).await;
    assert_eq!(again.next, page.next);
}

#[tokio::test]
async fn a_page_since_a_cursor_holds_the_tokens_revoked_and_the_apps_deleted_after_it() {
    let s = ServerWithApp::start("feed tests").await;
    let first = s.issue(&["contacts:read"], "paseto").await.id;
    s.revoke(&first).await;
    let start = s.server.revocation_feed(None).await;
    let mut denylist = Denylist::new();
    start.apply(&mut denylist);
    assert!(denylist.is_token_revoked(&first));

    // Nothing new: an incremental page, answering the cursor asked with.
    let quiet = s.server.revocation_feed(Some(&start.next)).await;
    assert!(!quiet.full);
    assert_eq!(quiet.since.as_deref(), Some(start.next.as_str()));
    assert!(quiet.cutoffs.is_empty());

    // A token revoked, and another app deleted with its tokens.
    let second = s.issue(&["contacts:read"], "paseto").await.id;
    s.revoke(&second).await;
    let doomed = s.server.create_app(&s.admin, "doomed").await;
    let of_doomed = s.issue_for(&doomed, &["contacts:read"], "paseto").await.id;
    let deleted_at = unix_now();
    let response = s
        .server
        .delete(&format!("/v1/apps/{doomed}"), &s.admin)
        .await;
    assert!(response.status().is_success(), "delete app");

    let changes = s.server.revocation_feed(Some(&start.next)).await;
    assert!(!changes.full);
    assert!(has_token(&changes, &second), "{changes:?}");
    assert_eq!(changes.cutoffs.len(), 1, "{changes:?}");
    let cutoff = &changes.cutoffs[0];
    assert_eq!(cutoff.client_id, doomed);
    assert!((cutoff.cutoff - deleted_at).abs() <= 2);
    assert!(
        cutoff.expires_at >= cutoff.cutoff + Policy::DEFAULT_MAX_LIFETIME,
        "kept while a token of the app can still be valid"
    );
    changes.apply(&mut denylist);
    assert!(denylist.is_token_revoked(&first), "merged, not replaced");
    assert!(denylist.is_token_revoked(&second));
    assert_eq!(
        denylist.check(&claims(&of_doomed, &doomed, cutoff.cutoff), deleted_at),
        Err(Error::Revoked)
    );
    assert_eq!(
        denylist.check(
            &claims("tok_01J0000000000000000000000Z", &s.app, deleted_at),
            deleted_at
        ),
        Ok(()),
        "the cutoff is the deleted app's alone"
    );

    // Following the cursor chain from the start holds every entry of a fresh
    // full list.
    let next = s.server.revocation_feed(Some(&changes.next)).await;
    next.apply(&mut denylist);
    let full = s.server.revocation_feed(None).await;
    assert!(full.full);
    for r in &full.revoked {
        assert!(denylist.is_token_revoked(&r.token_id), "{r:?}");
    }
    for c in &full.cutoffs {
        assert_eq!(denylist.cutoff(&c.client_id), Some(c.cutoff), "{c:?}");
    }
}

#[tokio::test]
async fn entries_whose_tokens_expired_beyond_the_leeway_drop_out_of_the_feed() {
    let s = ServerWithApp::start("feed tests").await;
    // Written straight to the store, with times in the past: no waiting for a
    // token to expire.
    let store = Store::open(&s.server.home.database_url())
        .await
        .expect("open the store");
    let now = time::OffsetDateTime::now_utc();
    let now_s = now.unix_timestamp();
    let workspace = store.ensure_default_workspace(now).await.expect("ws");
    let mut tx = store.begin().await.expect("begin");
    let app = tx
        .create_app(&workspace.id, "expired things", None, now)
        .await
        .expect("app");
    let long_gone = TokenId::generate();
    let within_leeway = TokenId::generate();
    for (id, expires_at) in [(&long_gone, now_s - 120), (&within_leeway, now_s - 10)] {
        let record = tx
            .insert_token(&NewToken {
                id,
                workspace_id: &workspace.id,
                app_id: Some(&app.id),
                subject: app.id.as_str(),
                name: None,
                scopes: "contacts:read",
                format: Format::Paseto,
                kid: "k",
                issued_at: expires_at - 3600,
                expires_at,
                replaces: None,
            })
            .await
            .expect("insert token");
        tx.revoke_token(&record, now).await.expect("revoke");
    }
    let gone_app = tx
        .create_app(&workspace.id, "long deleted", None, now)
        .await
        .expect("app");
    let (cutoff, kept_until) = (
        now - time::Duration::hours(2),
        now - time::Duration::minutes(1),
    );
    tx.delete_app(&workspace.id, &gone_app.id, cutoff, kept_until)
        .await
        .expect("delete app");
    tx.commit().await.expect("commit");
    let (long_gone, within_leeway) = (long_gone.as_str(), within_leeway.as_str());
    store.close().await;

    let live = s.issue(&["contacts:read"], "paseto").await.id;
    s.revoke(&live).await;

    let full = s.server.revocation_feed(None).await;
    assert!(!has_token(&full, long_gone), "{full:?}");
    assert!(has_token(&full, within_leeway), "{full:?}");
    assert!(has_token(&full, &live));
    assert!(
        full.cutoffs
            .iter()
            .all(|c| c.client_id != gone_app.id.as_str())
    );

    // The same on an incremental page: it looks back a few seconds, over
    // entries just recorded, expired or not.
    let first = s.server.revocation_feed(None).await;
    let changes = s.server.revocation_feed(Some(&first.next)).await;
    assert!(!has_token(&changes, long_gone));

    // A verifier prunes what expires later on its own, with the entries'
    // expiries.
    let mut denylist = Denylist::new();
    full.apply(&mut denylist);
    assert_eq!(denylist.prune(now_s - 30), 0);
    assert_eq!(denylist.prune(now_s), 1);
    assert!(!denylist.is_token_revoked(within_leeway));
    assert!(denylist.is_token_revoked(&live));
}

#[tokio::test]
async fn a_tampered_feed_or_one_signed_by_an_unknown_or_retired_key_is_refused() {
    let s = ServerWithApp::start("feed tests").await;
    let revoked = s.issue(&["contacts:read"], "paseto").await.id;
    s.revoke(&revoked).await;
    let feed = s.server.revocation_feed_string(None).await;
    let keys = s.server.published_paseto_keys().await;
    let now = unix_now();
    let verify = |feed: &str, keys: &KeySet| {
        RevocationFeed::verify(feed, keys, &Policy::default(), None, now)
    };
    assert!(verify(&feed, &keys).is_ok());

    // One character of the signed message changed.
    let at = "v4.public.".len() + 20;
    let mut bytes = feed.clone().into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(
        verify(&tampered, &keys),
        Err(FeedError::Token(Error::BadSignature))
    );
    // The payload swapped for another one, signature kept.
    let mut forged = payload_of(&feed);
    forged["revoked"] = Value::Array(Vec::new());
    let body = feed.strip_prefix("v4.public.").unwrap();
    let (message, footer) = body.split_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(message).unwrap();
    let mut swapped = serde_json::to_vec(&forged).unwrap();
    swapped.extend_from_slice(&raw[raw.len() - 64..]);
    let swapped = format!("v4.public.{}.{footer}", URL_SAFE_NO_PAD.encode(&swapped));
    assert_eq!(
        verify(&swapped, &keys),
        Err(FeedError::Token(Error::BadSignature))
    );

    // Keys of another deployment: unknown.
    let other = Home::new();
    other.admin_token(None); // makes its first keys
    let other_keys = KeyRing::load(&other.keys_dir())
        .expect("ring")
        .key_set(time::OffsetDateTime::now_utc());
    assert_eq!(
        verify(&feed, &other_keys),
        Err(FeedError::Token(Error::UnknownKey))
    );

    // Rotate and retire the key that signed it: refused as retired by a
    // verifier that knows the key's state, and unknown to one that reads
    // paserk.json (retired keys are not published).
    let home = s.server.home.clone();
    let old_kid = kid_of(&feed);
    home.run(&["keys", "rotate", "--format", "paseto"]);
    home.run(&["keys", "retire", &old_kid]);
    let ring_keys = KeyRing::load(&home.keys_dir())
        .expect("ring")
        .key_set(time::OffsetDateTime::now_utc());
    assert_eq!(
        verify(&feed, &ring_keys),
        Err(FeedError::Token(Error::RetiredKey))
    );
    let (server, old) = (&s.server, old_kid.as_str());
    let unpublished = eventually(Duration::from_secs(5), || async move {
        server.published_paseto_keys().await.get(old).is_none()
    })
    .await;
    assert!(unpublished.is_some(), "the retired key is still published");
    let keys = s.server.published_paseto_keys().await;
    assert_eq!(
        verify(&feed, &keys),
        Err(FeedError::Token(Error::UnknownKey))
    );
    // The server now signs with the new key, which verifies.
    let fresh = s.server.revocation_feed(None).await;
    assert!(has_token(&fresh, &revoked));
}

#[tokio::test]
async fn a_feed_is_refused_as_a_bearer_token_and_a_token_is_refused_as_a_feed() {
    let s = ServerWithApp::start("feed tests").await;
    let token = s.issue(&["contacts:read"], "paseto").await.token;
    let feed = s.server.revocation_feed_string(None).await;
    let keys = s.server.published_paseto_keys().await;

    let response = s.server.get("/v1/token", &feed).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["detail"], "invalid token");
    // The token itself is fine.
    assert_eq!(s.server.get("/v1/token", &token).await.status(), 200);

    assert_eq!(
        RevocationFeed::verify(&token, &keys, &Policy::default(), None, unix_now()),
        Err(FeedError::Token(Error::BadSignature))
    );
}

#[tokio::test]
async fn the_feed_reveals_nothing_but_ids_and_times() {
    let s = ServerWithApp::start("feed tests").await;
    let revoked = s.issue(&["contacts:read"], "paseto").await.id;
    s.revoke(&revoked).await;
    let doomed = s.server.create_app(&s.admin, "secret project name").await;
    let response = s
        .server
        .delete(&format!("/v1/apps/{doomed}"), &s.admin)
        .await;
    assert!(response.status().is_success());

    let feed = s.server.revocation_feed_string(None).await;
    let payload = payload_of(&feed);
    let mut fields: Vec<&str> = payload
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "cutoffs", "exp", "full", "iat", "iss", "next", "revoked", "since"
        ]
    );
    let is_time = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap_or_default(),
            &time::format_description::well_known::Rfc3339,
        )
        .is_ok()
    };
    assert!(is_time(&payload["iat"]) && is_time(&payload["exp"]));
    for entry in payload["revoked"].as_array().unwrap() {
        let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["exp", "from", "jti"], "{entry}");
        assert!(str_of(&entry["jti"]).starts_with("tok_") && is_time(&entry["exp"]));
        assert!(
            entry["from"].is_null() || is_time(&entry["from"]),
            "{entry}"
        );
    }
    let cutoffs = payload["cutoffs"].as_array().unwrap();
    assert_eq!(cutoffs.len(), 1);
    for entry in cutoffs {
        let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["client_id", "cutoff", "exp"], "{entry}");
        assert!(str_of(&entry["client_id"]).starts_with("app_"));
        assert!(is_time(&entry["cutoff"]) && is_time(&entry["exp"]));
    }
    let text = payload.to_string();
    let me: Value = s
        .server
        .get("/v1/token", &s.admin)
        .await
        .json()
        .await
        .unwrap();
    let workspace = str_of(&me["workspace"]);
    for secret in [
        workspace.as_str(),
        "secret project name",
        "feed tests",
        "contacts:read",
    ] {
        assert!(!text.contains(secret), "the feed holds {secret:?}: {text}");
    }
}

#[tokio::test]
async fn a_cursor_the_service_did_not_hand_out_gets_400() {
    let s = ServerWithApp::start("feed tests").await;
    let good = s.server.revocation_feed(None).await.next;
    let mut flipped = good.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let unsigned = URL_SAFE_NO_PAD.encode("1800000000000000");
    for bad in [
        "",
        "garbage",
        "!!",
        flipped.as_str(),
        unsigned.as_str(),
        "0",
    ] {
        let (status, headers, body) = fetch(&s.server, Some(bad)).await;
        assert_eq!(status, 400, "since={bad:?}: {body}");
        assert_eq!(
            headers["content-type"].to_str().unwrap(),
            "application/problem+json",
            "since={bad:?}"
        );
        assert_eq!(body["status"], 400);
    }
    assert_eq!(
        s.server.public_status("/v1/revocations?cursor=x").await,
        400,
        "an unknown parameter"
    );
    // The cursor it handed out is fine.
    let (status, _, _) = fetch(&s.server, Some(&good)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_feed_is_documented_in_the_openapi_document_as_a_public_route() {
    let s = ServerWithApp::start("feed tests").await;
    let openapi: Value = s.server.public_json("/openapi.json").await;
    let operation = &openapi["paths"]["/v1/revocations"]["get"];
    assert_eq!(operation["tags"], serde_json::json!(["revocations"]));
    assert!(operation.get("security").is_none(), "{operation}");
    assert_eq!(operation["parameters"][0]["name"], "since");
    for status in ["200", "400", "503"] {
        assert!(
            operation["responses"].get(status).is_some(),
            "{status}: {operation}"
        );
    }
}

informly_postgres_twins! {
    tests: [
        without_since_the_feed_is_the_full_list_signed_by_the_active_paseto_key_and_cacheable_briefly,
        a_page_since_a_cursor_holds_the_tokens_revoked_and_the_apps_deleted_after_it,
        entries_whose_tokens_expired_beyond_the_leeway_drop_out_of_the_feed,
        a_tampered_feed_or_one_signed_by_an_unknown_or_retired_key_is_refused,
        a_feed_is_refused_as_a_bearer_token_and_a_token_is_refused_as_a_feed,
        the_feed_reveals_nothing_but_ids_and_times,
        a_cursor_the_service_did_not_hand_out_gets_400,
        the_feed_is_documented_in_the_openapi_document_as_a_public_route,
    ],
    sqlite_only: [],
}
