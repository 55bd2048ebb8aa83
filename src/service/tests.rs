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
    async fn another_instance(&self) -> Router {
        instance(&self.dir, self.clock.clone(), &[]).await.router()
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

async fn instance(dir: &tempfile::TempDir, clock: Arc<ManualClock>, flags: &[&str]) -> Server {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let keys = dir.path().join("keys").display().to_string();
    let mut all = vec!["--database-url", &url, "--keys-dir", &keys];
    all.extend_from_slice(flags);
    Server::from_flags(all, clock as Arc<dyn Clock>)
        .await
        .expect("server")
}

/// What `GET /v1/token` answers `token` on `router`.
async fn answer(router: &Router, token: &str) -> StatusCode {
    let request = Request::get("/v1/token")
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

    let other = world.another_instance().await;
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
