//! Webhooks, per the Standard Webhooks specification
//! (<https://www.standardwebhooks.com>): the events, the signing secrets and
//! signatures, the retry schedule, the guard against requests to internal
//! addresses, and the [`Deliverer`] that empties the outbox.
//!
//! Messages are queued by the service layer in the transaction of the change
//! they report (`store::Tx::enqueue_webhook`, beside the audit event); the
//! deliverer sends them later, off every request path.

mod deliver;
mod guard;
mod secret;

pub use deliver::{DELIVERY_ATTEMPTS, Deliverer, DelivererConfig};
pub use guard::{MAX_URL_LEN, Refused, check_address, check_url};
pub use secret::{EndpointSecret, Error as KeyError, MasterKey, signature_header};

use time::OffsetDateTime;

/// The events an endpoint can subscribe to.
pub const EVENTS: [&str; 8] = [
    "token.created",
    "token.rolled",
    "token.revoked",
    "token.expiring",
    "token.expired",
    "app.deleted",
    "key.rotated",
    "key.retired",
];

/// The event `POST /v1/webhook-endpoints/{id}/test` sends, whatever the
/// endpoint subscribes to.
pub const TEST_EVENT: &str = "webhook.test";

/// Days before a token's `exp` at which `token.expiring` is sent.
pub const EXPIRING_THRESHOLDS: [i64; 3] = [14, 7, 1];

/// How long a message is retried after it was queued.
pub const RETRY_FOR: time::Duration = time::Duration::hours(24);

/// An endpoint whose deliveries have failed this long is disabled.
pub const DISABLE_AFTER: time::Duration = time::Duration::days(5);

/// The delay before the next attempt after `failed` failed attempts,
/// without jitter: 5 s, tripled each time, at most 4 h. With the 24 h
/// window this makes 13 attempts before jitter (docs/webhooks.md has the
/// table).
pub fn retry_delay(failed: u32) -> std::time::Duration {
    const FIRST: u64 = 5;
    const MAX: u64 = 4 * 3600;
    let factor = 3u64.saturating_pow(failed.saturating_sub(1));
    std::time::Duration::from_secs(FIRST.saturating_mul(factor).min(MAX))
}

/// [`retry_delay`] with jitter: uniformly within ±20 %, so that endpoints
/// that failed together are not retried together. `unit` is in [0, 1).
pub fn jittered(delay: std::time::Duration, unit: f64) -> std::time::Duration {
    delay.mul_f64(0.8 + 0.4 * unit.clamp(0.0, 1.0))
}

/// The body of a message: `{type, timestamp, data}`, as sent and signed.
pub fn body(event_type: &str, at: OffsetDateTime, data: serde_json::Value) -> String {
    serde_json::json!({
        "type": event_type,
        "timestamp": crate::clock::rfc3339_precise(at),
        "data": data,
    })
    .to_string()
}

/// Whether `name` is an event an endpoint can subscribe to.
pub fn is_event(name: &str) -> bool {
    EVENTS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_triples_from_five_seconds_up_to_four_hours() {
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(
            delays,
            [5, 15, 45, 135, 405, 1215, 3645, 10935, 14400],
            "then 4 h each"
        );
        assert_eq!(retry_delay(40).as_secs(), 14400);
    }

    #[test]
    fn jitter_stays_within_a_fifth_either_side() {
        let base = std::time::Duration::from_secs(100);
        assert_eq!(jittered(base, 0.0).as_secs(), 80);
        assert_eq!(jittered(base, 0.5).as_secs(), 100);
        assert!(jittered(base, 0.999_999) <= std::time::Duration::from_secs(120));
    }

    #[test]
    fn the_window_holds_thirteen_attempts_before_jitter() {
        // The first attempt is at once; each failure waits its delay, and no
        // attempt starts past the window (jitter moves this by one or two).
        let mut at = std::time::Duration::ZERO;
        let mut attempts = 1;
        while at + retry_delay(attempts) <= RETRY_FOR.unsigned_abs() {
            at += retry_delay(attempts);
            attempts += 1;
        }
        assert_eq!(attempts, 13);
    }
}
