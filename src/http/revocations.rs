//! `GET /v1/revocations`: the signed revocation feed. Public, like the key
//! documents: it holds only opaque token and app ids and times, signed with the
//! active PASETO key, so it can be served from a cache and checked offline
//! (`token::RevocationFeed::verify`). Format: `docs/revocation-feed.md`.
//!
//! Cursors are record-time watermarks (unix microseconds), sealed with the
//! shared cursor key like pagination cursors. The next cursor depends only on
//! the records, never on the clock, so clients that are up to date ask with the
//! same cursor and a cache can answer them all.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::Query;
use crate::revocation::OVERLAP;
use crate::store::{from_micros, micros};
use crate::token::{AppCutoff, Format, RevocationFeed, RevokedToken};

/// How long a signed page is accepted after it was made: bounds the replay of
/// an old page by a cache or an attacker.
pub const FEED_LIFETIME: i64 = 60;

/// How long a cache may serve a page: part of a follower's freshness bound.
pub const FEED_MAX_AGE: u32 = 5;

const CURSOR_PURPOSE: &str = "revocation-feed";

/// Pages signed in the last second, by the cursor asked with and the
/// generation of this instance's denylist (so a revocation made or seen here
/// is in the next page at once). The route is public: however many clients (or
/// an attacker) ask, each valid cursor costs one database query and one
/// signature a second. Forged cursors are refused before the memo is
/// consulted, so they cannot fill it.
pub struct FeedMemo(moka::sync::Cache<(Option<String>, u64), String>);

impl Default for FeedMemo {
    fn default() -> FeedMemo {
        FeedMemo(
            moka::sync::Cache::builder()
                .max_capacity(1024)
                .time_to_live(std::time::Duration::from_secs(1))
                .build(),
        )
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(revocation_feed))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FeedParams {
    /// The `next` cursor of the last page applied. Without it, the full list.
    #[param(min_length = 1)]
    since: Option<String>,
}

/// The response: one signed document.
#[derive(Serialize, ToSchema)]
struct FeedEnvelope {
    /// A PASETO v4.public token (footer `{"kid"}`, implicit assertion
    /// `informly:revocation-feed:v2`) whose payload is the page: `iss`, `iat`,
    /// `exp`, `since`, `next`, `full`, `revoked: [{jti, exp}]`,
    /// `cutoffs: [{client_id, cutoff, exp}]`. See docs/revocation-feed.md.
    #[schema(pattern = r"^v4\.public\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")]
    feed: String,
}

fn bad_cursor() -> ApiError {
    ApiError::BadRequest(
        "invalid cursor: pass `next` from a previous page, or no `since` for the full list"
            .to_owned(),
    )
}

/// The revocation feed: revoked token ids and per-app cutoffs in force, all of
/// them or those recorded since a cursor, signed with the active PASETO key.
#[utoipa::path(
    get,
    path = "/v1/revocations",
    tag = "revocations",
    params(FeedParams),
    responses(
        (status = 200, body = FeedEnvelope,
            headers(("Cache-Control" = String, description = "public, max-age=5"))),
        (status = 400, body = Problem, content_type = "application/problem+json",
            description = "a cursor this service did not hand out"),
        (status = 503, body = Problem, content_type = "application/problem+json",
            description = "the database is unavailable"),
    )
)]
async fn revocation_feed(
    State(state): State<AppState>,
    Query(params): Query<FeedParams>,
) -> ApiResult<impl IntoResponse> {
    let since = match params.since.as_deref() {
        None => None,
        Some(cursor) => Some(
            state
                .cursor_key()
                .open(CURSOR_PURPOSE, "", cursor)
                .and_then(|watermark| watermark.parse::<i64>().ok())
                .ok_or_else(bad_cursor)?,
        ),
    };
    let memo_key = (params.since, state.revocations().generation());
    let feed = match state.feed_memo().0.get(&memo_key) {
        Some(feed) => feed,
        None => {
            let feed = sign_page(&state, since, memo_key.0.clone()).await?;
            state.feed_memo().0.insert(memo_key, feed.clone());
            feed
        }
    };
    Ok((
        [(
            header::CACHE_CONTROL,
            format!("public, max-age={FEED_MAX_AGE}"),
        )],
        JsonResponse(FeedEnvelope { feed }),
    ))
}

/// The page answering `cursor` (whose watermark is `since`): the changes
/// recorded since the watermark, or every entry in force, signed.
async fn sign_page(
    state: &AppState,
    since: Option<i64>,
    cursor: Option<String>,
) -> ApiResult<String> {
    let now = state.clock().now();
    let (now_s, now_us) = (now.unix_timestamp(), micros(now));
    let policy = state.service().policy();

    // Changes since the cursor, unless the cursor is older than any entry still
    // in force can be (then the changes are the full list, and saying so lets
    // the client drop what it has left over), or ahead of our clock (the clock
    // went back): then the full list.
    let retention_us = policy
        .max_lifetime
        .max(policy.max_admin_lifetime)
        .saturating_add(policy.leeway)
        .saturating_mul(1_000_000);
    let overlap_us = OVERLAP.whole_microseconds() as i64;
    let incremental =
        since.filter(|&w| w >= now_us.saturating_sub(retention_us) && w <= now_us + overlap_us);
    let horizon = now - time::Duration::seconds(policy.leeway);
    let rows = state
        .service()
        .store()
        .denylist_feed(incremental.map(from_micros), horizon)
        .await?;
    // Records committed by other transactions can become visible a little
    // after their timestamp: the next page looks back that far (entries are
    // idempotent). An empty full list gives the epoch: the next ask is again a
    // full list, until there is an entry.
    let floor = incremental.unwrap_or(0);
    let next = rows
        .latest
        .map_or(floor, |latest| floor.max(micros(latest - OVERLAP)));

    let snapshot = state.keys().snapshot();
    let Some(signer) = snapshot.ring.active(Format::Paseto, now) else {
        return Err(ApiError::Internal(
            "no active PASETO key signs the revocation feed".to_owned(),
        ));
    };
    let page = RevocationFeed {
        issuer: policy.issuer.clone(),
        issued_at: now_s,
        expires_at: now_s + FEED_LIFETIME,
        since: cursor,
        next: state
            .cursor_key()
            .seal(CURSOR_PURPOSE, "", &next.to_string()),
        full: incremental.is_none(),
        revoked: rows
            .tokens
            .into_iter()
            .map(|(token_id, expires_at, from)| RevokedToken {
                token_id,
                expires_at,
                from,
            })
            .collect(),
        cutoffs: rows
            .cutoffs
            .into_iter()
            .map(|(client_id, cutoff, expires_at)| AppCutoff {
                client_id,
                cutoff,
                expires_at,
            })
            .collect(),
    };
    page.sign(&signer.key)
        .map_err(|e| ApiError::Internal(format!("cannot sign the revocation feed: {e}")))
}
