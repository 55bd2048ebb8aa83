//! The token lifecycle against a clock the test moves: the whole router in
//! process, on a real SQLite file, with no sleeping. A second instance on the
//! same file stands for every other instance, which learns from the
//! database alone.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt as _;

use super::{Actor, IssueRequest, TokenStatus};
use crate::clock::{Clock, ManualClock};
use crate::ids::{AppId, TokenId};
use crate::server::Server;
use crate::token::{Expiry, Format};

const T0: i64 = 1_900_000_000;
const DAY: i64 = 24 * 60 * 60;

struct World {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    server: Server,
    router: Router,
    actor: Actor,
    app: AppId,
}

impl World {
    /// A server at `T0` with one app, `crm`, on `serve`'s `flags`.
    async fn start(flags: &[&str]) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("keys")).expect("keys dir");
        let clock = Arc::new(ManualClock::at(T0));
        let server = instance(&dir, clock.clone(), flags).await;
        let service = server.state.service();
        let workspace = service.ensure_default_workspace().await.expect("workspace");
        let actor = Actor::cli(workspace.id);
        let app = service
            .create_app(&actor, "crm", None)
            .await
            .expect("app")
            .id;
        let router = server.router();
        World {
            dir,
            clock,
            server,
            router,
            actor,
            app,
        }
    }

    /// Another instance on the same database and keys.
    async fn another_instance(&self) -> Server {
        instance(&self.dir, self.clock.clone(), &[]).await
    }

    /// Writes out this instance's usage counts.
    async fn flush(&self) {
        let usage = self.server.state.usage().expect("usage tracking is on");
        usage.flush(self.service().store()).await.expect("flushed");
    }

    async fn record(&self, id: &TokenId) -> crate::store::TokenRecord {
        self.service()
            .token(&self.actor, None, id)
            .await
            .expect("record")
    }

    fn service(&self) -> &super::Service {
        self.server.state.service()
    }

    /// A `contacts:read` token of `crm` for 30 days: (id, token).
    async fn issue(&self, format: Format) -> (TokenId, String) {
        let issued = self
            .service()
            .issue_token(
                &self.actor,
                &self.app,
                IssueRequest {
                    name: None,
                    scopes: vec!["contacts:read".to_owned()],
                    expiry: Expiry::In(30 * DAY),
                    format,
                },
            )
            .await
            .expect("issued");
        (issued.record.id.clone(), issued.token.to_string())
    }

    async fn status(&self, id: &TokenId) -> TokenStatus {
        let record = self
            .service()
            .token(&self.actor, None, id)
            .await
            .expect("record");
        self.service().status_of(&record)
    }
}

/// An instance on the test's database and keys. Its denylist is not
/// refreshed by jobs here (a test refreshes it when that is the point), so
/// it is never stale within the days a test moves the clock through.
async fn instance(dir: &tempfile::TempDir, clock: Arc<ManualClock>, flags: &[&str]) -> Server {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let keys = dir.path().join("keys").display().to_string();
    let mut all = vec![
        "--database-url",
        &url,
        "--keys-dir",
        &keys,
        "--revocation-staleness",
        "400d",
    ];
    all.extend_from_slice(flags);
    Server::from_flags(all, clock as Arc<dyn Clock>)
        .await
        .expect("server")
}

/// What `GET /v1/token` answers `token` on `router`.
async fn answer(router: &Router, token: &str) -> StatusCode {
    answer_at(router, "/v1/token", token).await
}

/// What `GET path` answers `token` on `router`.
async fn answer_at(router: &Router, path: &str, token: &str) -> StatusCode {
    let request = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible")
        .status()
}

#[tokio::test]
async fn revoking_every_token_of_an_app_spares_the_tokens_issued_after_it_even_in_the_same_second()
{
    let world = World::start(&[]).await;
    let (earlier, earlier_token) = world.issue(Format::Paseto).await;
    world.clock.advance(1);
    let (same_second, same_second_token) = world.issue(Format::Jwt).await;

    world
        .service()
        .revoke_app_tokens(&world.actor, &world.app)
        .await
        .expect("revoked");
    let (after, after_token) = world.issue(Format::Paseto).await;

    let other = world.another_instance().await.router();
    for router in [&world.router, &other] {
        assert_eq!(
            answer(router, &earlier_token).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            answer(router, &same_second_token).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(answer(router, &after_token).await, StatusCode::OK);
    }
    assert_eq!(world.status(&earlier).await, TokenStatus::Revoked);
    assert_eq!(world.status(&same_second).await, TokenStatus::Revoked);
    assert_eq!(world.status(&after).await, TokenStatus::Active);

    // The app stays, and a later revoke-all reaches the later tokens.
    world.clock.advance(5);
    world
        .service()
        .revoke_app_tokens(&world.actor, &world.app)
        .await
        .expect("revoked again");
    assert_eq!(
        answer(&world.router, &after_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(world.status(&after).await, TokenStatus::Revoked);
    let unknown = AppId::generate();
    assert!(
        world
            .service()
            .revoke_app_tokens(&world.actor, &unknown)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_use_is_written_only_at_a_flush_with_its_time_count_and_the_scopes_routes_needed() {
    let world = World::start(&[]).await;
    let (id, token) = world.issue(Format::Paseto).await;
    let before = world.record(&id).await;
    assert_eq!((before.last_used_at, before.uses), (None, 0));
    assert_eq!(before.unused_scopes(), vec!["contacts:read"]);

    assert_eq!(answer(&world.router, &token).await, StatusCode::OK);
    world.clock.advance(30);
    assert_eq!(
        answer_at(&world.router, "/v1/contacts", &token).await,
        StatusCode::OK
    );
    // Refused requests are not uses.
    assert_eq!(
        answer_at(&world.router, "/v1/apps", &token).await,
        StatusCode::FORBIDDEN
    );
    let unflushed = world.record(&id).await;
    assert_eq!(unflushed.uses, 0, "nothing is written before a flush");

    world.flush().await;
    let after = world.record(&id).await;
    assert_eq!(after.uses, 2);
    assert_eq!(
        after.last_used_at.map(|t| t.unix_timestamp()),
        Some(T0 + 30)
    );
    assert_eq!(after.used_scopes.to_claim(), "contacts:read");
    assert!(after.unused_scopes().is_empty());

    // Times only move forward: a later flush of an earlier use changes none.
    world.clock.advance(-20);
    answer(&world.router, &token).await;
    world.flush().await;
    let later = world.record(&id).await;
    assert_eq!(later.uses, 3);
    assert_eq!(later.last_used_at, after.last_used_at);
}

#[tokio::test]
async fn two_instances_counts_add_up() {
    let world = World::start(&[]).await;
    let (id, token) = world.issue(Format::Jwt).await;
    let other = world.another_instance().await;
    let other_router = other.router();
    for _ in 0..3 {
        answer(&world.router, &token).await;
    }
    for _ in 0..4 {
        answer(&other_router, &token).await;
    }
    world.flush().await;
    other
        .state
        .usage()
        .expect("tracking")
        .flush(other.state.service().store())
        .await
        .expect("flushed");
    assert_eq!(world.record(&id).await.uses, 7);
}

#[tokio::test]
async fn counts_wait_in_memory_while_the_database_is_unreachable_and_none_is_lost() {
    let world = World::start(&[]).await;
    let (id, token) = world.issue(Format::Paseto).await;
    for _ in 0..5 {
        answer(&world.router, &token).await;
    }
    let usage = world.server.state.usage().expect("tracking");
    // A store whose pool is closed stands for a database that is down.
    let url = format!("sqlite://{}", world.dir.path().join("t.db").display());
    let down = crate::store::Store::open(&url).await.expect("store");
    down.close().await;
    assert!(usage.flush(&down).await.is_err());
    assert_eq!(usage.waiting(), 1, "the counts wait");
    // Requests go on meanwhile, and are counted too.
    answer(&world.router, &token).await;
    world.flush().await;
    assert_eq!(world.record(&id).await.uses, 6);
    assert_eq!(usage.waiting(), 0);
}

#[tokio::test]
async fn unused_tokens_are_those_not_used_for_that_long_never_used_ones_once_that_old() {
    let world = World::start(&[]).await;
    let (used_long_ago, old_token) = world.issue(Format::Paseto).await;
    let (never_used_old, _) = world.issue(Format::Paseto).await;
    answer(&world.router, &old_token).await;
    world.flush().await;
    world.clock.advance(10 * DAY);
    let (used_lately, recent_token) = world.issue(Format::Jwt).await;
    let (never_used_new, _) = world.issue(Format::Jwt).await;
    answer(&world.router, &recent_token).await;
    world.flush().await;
    world.clock.advance(DAY);

    let world = &world;
    let unused = |days: i64| async move {
        let mut ids: Vec<TokenId> = world
            .service()
            .unused_tokens(&world.actor, &world.app, time::Duration::days(days))
            .await
            .expect("listed")
            .into_iter()
            .map(|t| t.id)
            .collect();
        ids.sort();
        ids
    };
    let mut expected = vec![used_long_ago.clone(), never_used_old.clone()];
    expected.sort();
    assert_eq!(unused(7).await, expected);
    let mut all = vec![used_long_ago, never_used_old, used_lately, never_used_new];
    all.sort();
    assert_eq!(unused(0).await, all, "0: everything not used this second");
    assert!(unused(30).await.is_empty());
}

/// A roll of `old` with `overlap` seconds, for 30 days.
async fn roll(
    world: &World,
    old: &TokenId,
    overlap: Option<i64>,
) -> super::Result<(TokenId, String)> {
    let issued = world
        .service()
        .roll_token(
            &world.actor,
            &world.app,
            old,
            super::RollRequest {
                expiry: Expiry::In(30 * DAY),
                overlap,
                scopes: None,
                name: None,
                format: None,
            },
        )
        .await?;
    Ok((issued.record.id.clone(), issued.token.to_string()))
}

#[tokio::test]
async fn a_rolled_token_is_accepted_to_the_last_second_of_its_overlap_and_refused_from_the_next_everywhere()
 {
    let world = World::start(&[]).await;
    let (old, old_token) = world.issue(Format::Paseto).await;
    let (new, new_token) = roll(&world, &old, Some(3600)).await.expect("rolled");

    let successor = world.record(&new).await;
    assert_eq!(successor.replaces.as_ref(), Some(&old));
    assert_eq!(
        successor.scopes,
        vec!["contacts:read"],
        "the old token's scopes"
    );
    let rolled = world.record(&old).await;
    assert_eq!(rolled.replaced_by.as_ref(), Some(&new));
    assert_eq!(world.status(&old).await, TokenStatus::Rolling);

    let other = world.another_instance().await.router();
    world.clock.advance(3599);
    for router in [&world.router, &other] {
        assert_eq!(
            answer(router, &old_token).await,
            StatusCode::OK,
            "the last second"
        );
        assert_eq!(answer(router, &new_token).await, StatusCode::OK);
    }
    world.clock.advance(1);
    for router in [&world.router, &other] {
        assert_eq!(
            answer(router, &old_token).await,
            StatusCode::UNAUTHORIZED,
            "the next"
        );
        assert_eq!(answer(router, &new_token).await, StatusCode::OK);
    }
    assert_eq!(world.status(&old).await, TokenStatus::Revoked);
    // An instance started after the roll learns the schedule from the database.
    let late = world.another_instance().await.router();
    assert_eq!(answer(&late, &old_token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_overlap_never_outlasts_the_old_token_and_a_revocation_during_it_is_at_once() {
    let world = World::start(&[]).await;
    let (old, old_token) = world.issue(Format::Jwt).await;
    // 30 days left: a 7-day overlap fits; the old token's expiry caps it.
    world.clock.advance(30 * DAY - 600);
    let (new, _) = roll(&world, &old, Some(7 * DAY)).await.expect("rolled");
    let rolled = world.record(&old).await;
    assert_eq!(
        rolled.revoked_at.map(|t| t.unix_timestamp()),
        Some(rolled.expires_at),
        "never past its own expiry"
    );
    assert!(world.record(&new).await.replaces.is_some());

    let (other, other_token) = world.issue(Format::Paseto).await;
    let (_, _) = roll(&world, &other, None)
        .await
        .expect("rolled with the default overlap");
    assert_eq!(
        world
            .record(&other)
            .await
            .revoked_at
            .map(|t| t.unix_timestamp()),
        Some(world.clock.unix() + super::DEFAULT_OVERLAP)
    );
    assert_eq!(answer(&world.router, &other_token).await, StatusCode::OK);
    let instance = world.another_instance().await;
    let instance_router = instance.router();
    assert_eq!(answer(&instance_router, &other_token).await, StatusCode::OK);
    world
        .service()
        .revoke_token(&world.actor, None, &other)
        .await
        .expect("revoked");
    assert_eq!(
        answer(&world.router, &other_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(world.status(&other).await, TokenStatus::Revoked);
    // The other instance hears of it at its next refresh: the entry it holds
    // (scheduled) is brought forward.
    instance
        .state
        .revocations()
        .refresh(instance.state.service().store(), world.clock.now())
        .await
        .expect("refreshed");
    assert_eq!(
        answer(&instance_router, &other_token).await,
        StatusCode::UNAUTHORIZED
    );
    // The first roll's old token, in its capped overlap, still works.
    assert_eq!(answer(&world.router, &old_token).await, StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_expired_or_already_rolled_token_cannot_be_rolled_and_the_answer_says_which() {
    let world = World::start(&[]).await;
    let conflict = |result: super::Result<(TokenId, String)>| match result {
        Err(super::Error::Store(crate::store::Error::Conflict(message))) => message,
        other => panic!("expected a conflict, got {:?}", other.map(|(id, _)| id)),
    };

    let (rolled, _) = world.issue(Format::Paseto).await;
    let (successor, _) = roll(&world, &rolled, Some(60)).await.expect("rolled");
    let message = conflict(roll(&world, &rolled, Some(60)).await);
    assert!(message.contains(successor.as_str()), "{message}");

    let (revoked, _) = world.issue(Format::Paseto).await;
    world
        .service()
        .revoke_token(&world.actor, None, &revoked)
        .await
        .expect("revoked");
    assert!(conflict(roll(&world, &revoked, None).await).contains("is revoked"));

    let (expired, _) = world.issue(Format::Paseto).await;
    world.clock.advance(31 * DAY);
    assert!(conflict(roll(&world, &expired, None).await).contains("has expired"));

    let (fresh, _) = world.issue(Format::Paseto).await;
    for overlap in [-1, 7 * DAY + 1] {
        assert!(matches!(
            roll(&world, &fresh, Some(overlap)).await,
            Err(super::Error::Invalid {
                field: "overlap",
                ..
            })
        ));
    }
    assert!(roll(&world, &fresh, Some(0)).await.is_ok(), "0: at once");
}

/// A `contacts:read` token of `crm` for `days`.
async fn issue_for_days(world: &World, days: i64) -> TokenId {
    world
        .service()
        .issue_token(
            &world.actor,
            &world.app,
            IssueRequest {
                name: None,
                scopes: vec!["contacts:read".to_owned()],
                expiry: Expiry::In(days * DAY),
                format: Format::Paseto,
            },
        )
        .await
        .expect("issued")
        .record
        .id
}

#[tokio::test]
async fn expiring_tokens_are_those_accepted_now_that_expire_within_the_window_to_the_second() {
    let world = World::start(&[]).await;
    let in_14 = issue_for_days(&world, 14).await;
    let in_7 = issue_for_days(&world, 7).await;
    let in_1 = issue_for_days(&world, 1).await;
    let in_30 = issue_for_days(&world, 30).await;
    let revoked = issue_for_days(&world, 3).await;
    world
        .service()
        .revoke_token(&world.actor, None, &revoked)
        .await
        .expect("revoked");
    roll(&world, &in_30, Some(DAY)).await.expect("rolled");

    let world = &world;
    let expiring = |days: i64, secs: i64| async move {
        let within = time::Duration::days(days) + time::Duration::seconds(secs);
        world
            .service()
            .workspace_tokens(&world.actor, Some(within), None)
            .await
            .expect("listed")
            .into_iter()
            .map(|(t, _)| t.id)
            .collect::<Vec<TokenId>>()
    };
    // Soonest first; the revoked one is not warned of; the rolled one (in its
    // overlap, expiring in 30 days) neither at 14 days.
    assert_eq!(
        expiring(14, 0).await,
        vec![in_1.clone(), in_7.clone(), in_14.clone()]
    );
    assert_eq!(
        expiring(14, -1).await,
        vec![in_1.clone(), in_7.clone()],
        "a second short"
    );
    assert_eq!(expiring(7, 0).await, vec![in_1.clone(), in_7.clone()]);
    assert_eq!(expiring(1, 0).await, vec![in_1.clone()]);
    world.clock.advance(DAY);
    assert!(
        !expiring(14, 0).await.contains(&in_1),
        "expired: no longer to be warned of"
    );
    let expired = world
        .service()
        .workspace_tokens(&world.actor, None, Some(TokenStatus::Expired))
        .await
        .expect("listed");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].0.id, in_1);
}

#[tokio::test]
async fn retention_prunes_a_whole_prefix_of_the_audit_chain_and_the_rest_still_verifies() {
    let world = World::start(&[]).await;
    let store = world.service().store().clone();
    let workspace = world.actor.workspace().clone();
    world.issue(Format::Paseto).await;
    world.clock.advance(10 * DAY);
    world.issue(Format::Jwt).await;
    world.issue(Format::Paseto).await;
    assert_eq!(store.verify_audit(&workspace).await.expect("read"), Ok(4));

    let pruned = store
        .prune_audit(world.clock.now() - time::Duration::days(5))
        .await
        .expect("pruned");
    assert_eq!(pruned, 2, "the app's creation and the first token");
    assert_eq!(store.audit_events(&workspace).await.expect("read").len(), 2);
    assert_eq!(
        store.verify_audit(&workspace).await.expect("read"),
        Ok(2),
        "the rest verifies from the checkpoint"
    );
    // New events chain on, and pruning again changes nothing yet.
    world.issue(Format::Jwt).await;
    assert_eq!(
        store
            .prune_audit(world.clock.now() - time::Duration::days(5))
            .await
            .expect("pruned"),
        0
    );
    assert_eq!(store.verify_audit(&workspace).await.expect("read"), Ok(3));
}
