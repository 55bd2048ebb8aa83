//! Settings › Webhooks: the endpoints, the form that adds one, the secret
//! shown once, and an endpoint's page with its recent deliveries.

use maud::{Markup, html};
use serde::Deserialize;

use super::{
    Flash, Nav, breadcrumb, csrf, deadline, error_for, field_error, flash, layout, prose, short,
};
use crate::store::{Session, WebhookAttempt, WebhookEndpoint, WebhookMessage, from_micros};
use crate::webhooks::EVENTS;

pub const WEBHOOKS: &str = "/dashboard/settings/webhooks";

pub fn webhook_url(endpoint: &str) -> String {
    format!("{WEBHOOKS}/{endpoint}")
}

/// What each event means, for the checkboxes.
fn event_hint(event: &str) -> &'static str {
    match event {
        "token.created" => "A token was generated.",
        "token.rolled" => "A token was rolled: its successor, and when the old one stops.",
        "token.revoked" => "A token was revoked.",
        "token.expiring" => "A token expires in 14, 7 or 1 days.",
        "token.expired" => "A token expired.",
        "app.deleted" => "An app was deleted, and with it every token it had.",
        "key.rotated" => "A new signing key was added.",
        "key.retired" => "A signing key was retired: tokens it signed stop working.",
        _ => "",
    }
}

/// The endpoint form as typed, with its errors.
#[derive(Default, Deserialize)]
pub struct EndpointForm {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(skip)]
    errors: Vec<(&'static str, String)>,
}

impl EndpointForm {
    /// A new endpoint's form: every event ticked.
    pub fn new_endpoint() -> EndpointForm {
        EndpointForm {
            events: EVENTS.iter().map(|e| e.to_string()).collect(),
            ..EndpointForm::default()
        }
    }

    pub fn of(endpoint: &WebhookEndpoint) -> EndpointForm {
        EndpointForm {
            url: endpoint.url.clone(),
            description: endpoint.description.clone().unwrap_or_default(),
            events: endpoint.events.clone(),
            errors: Vec::new(),
        }
    }

    pub fn with_error(mut self, error: (&'static str, String)) -> EndpointForm {
        self.errors.push(error);
        self
    }

    fn error(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

fn endpoint_fields(form: &EndpointForm) -> Markup {
    let url_error = form.error("url");
    let description_error = form.error("description");
    let events_error = form.error("events");
    html! {
        div.field {
            label for="webhook-url" { "Endpoint URL" }
            p.hint #webhook-url-hint { "Where to send events: an https URL on a public address." }
            input #webhook-url type="url" name="url" value=(form.url) maxlength="2048" required
                autocomplete="off" placeholder="https://example.com/webhooks/informly"
                aria-invalid=[url_error.map(|_| "true")]
                aria-describedby={ "webhook-url-hint" @if url_error.is_some() { " webhook-url-error" } };
            (field_error("webhook-url-error", url_error))
        }
        div.field {
            label for="webhook-description" { "Description " span.optional { "(optional)" } }
            input #webhook-description type="text" name="description" value=(form.description) maxlength="500"
                aria-invalid=[description_error.map(|_| "true")]
                aria-describedby=[description_error.map(|_| "webhook-description-error")];
            (field_error("webhook-description-error", description_error))
        }
        fieldset #webhook-events aria-describedby=[events_error.map(|_| "webhook-events-error")] {
            legend { "Events to send" }
            (field_error("webhook-events-error", events_error))
            @for event in EVENTS {
                @let id = format!("event-{}", event.replace('.', "-"));
                div.check {
                    input type="checkbox" name="events" value=(event) id=(id)
                        checked[form.events.iter().any(|e| e == event)];
                    label for=(id) { code { (event) } " " span.hint { (event_hint(event)) } }
                }
            }
        }
    }
}

fn state_of(endpoint: &WebhookEndpoint) -> Markup {
    html! {
        @if endpoint.enabled {
            @if let Some(since) = endpoint.failing_since {
                span.badge.warning { "Failing since " (deadline(since)) }
            } @else {
                span.badge.ok { "Enabled" }
            }
        } @else {
            span.badge.muted { "Disabled" }
            @if let Some(reason) = &endpoint.disabled_reason { " " span.hint { "(" (reason) ")" } }
        }
    }
}

/// `Settings › Webhooks`: the endpoints and the form that adds one.
pub fn webhooks(
    session: &Session,
    endpoints: &[WebhookEndpoint],
    form: &EndpointForm,
    done: Option<Flash>,
) -> Markup {
    let main = html! {
        (breadcrumb(&[("Webhooks", None)]))
        h1 { "Webhooks" }
        p.lead {
            "Your systems hear about token changes as they happen: each event is POSTed to your endpoint, "
            "signed per the " a href="https://www.standardwebhooks.com" { "Standard Webhooks" } " specification."
        }
        (flash(done))
        @if endpoints.is_empty() {
            p #webhooks-empty .empty { "No endpoints yet." }
        } @else {
            div.table-wrap {
                table #webhooks-table {
                    thead { tr {
                        th scope="col" { "Endpoint" }
                        th scope="col" { "Events" }
                        th scope="col" { "State" }
                        th scope="col" { "Added" }
                    } }
                    tbody {
                        @for endpoint in endpoints {
                            tr data-endpoint-id=(endpoint.id) {
                                td data-label="Endpoint" {
                                    a href=(webhook_url(endpoint.id.as_str())) { (endpoint.url) }
                                    @if let Some(description) = &endpoint.description { div.hint { (description) } }
                                }
                                td data-label="Events" { (endpoint.events.len()) " of " (EVENTS.len()) }
                                td data-label="State" { (state_of(endpoint)) }
                                td data-label="Added" { (short(endpoint.created_at)) }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="add-webhook-title" {
            h2 #add-webhook-title { "Add an endpoint" }
            form #add-webhook-form method="post" action=(WEBHOOKS) novalidate {
                (csrf(session))
                (endpoint_fields(form))
                button.primary type="submit" { "Add endpoint" }
            }
        }
    };
    layout("Webhooks", Some((session, Nav::Webhooks)), main)
}

/// The signing secret, shown this once (after adding or rotating).
pub fn webhook_secret(
    session: &Session,
    endpoint: &WebhookEndpoint,
    secret: &str,
    rotated: bool,
) -> Markup {
    let url = webhook_url(endpoint.id.as_str());
    let main = html! {
        (breadcrumb(&[("Webhooks", Some(WEBHOOKS)), (&endpoint.url, Some(&url)), ("Signing secret", None)]))
        h1 { "Copy the signing secret" }
        div #secret-warning .callout.warning role="note" {
            strong { "Copy it now. " }
            "You will not be able to see it again. Your endpoint checks each delivery's "
            code { "webhook-signature" } " header with it, using any Standard Webhooks library."
        }
        @if rotated {
            p #rotated-note .lead {
                "The previous secret keeps signing beside this one until "
                @if let Some(until) = endpoint.previous_secret_until { (deadline(until)) } @else { "now" }
                ": each delivery carries both signatures while your endpoint switches."
            }
        }
        div.card {
            label for="webhook-secret" { "Signing secret" }
            div.copy-row {
                input #webhook-secret type="text" readonly value=(secret) spellcheck="false" autocomplete="off";
                button #copy-secret .secondary type="button" data-copy="webhook-secret" hidden { "Copy" }
            }
            p #copy-status .hint role="status" aria-live="polite" {}
        }
        a #done .button.primary href=(url) { "Done" }
    };
    layout(
        "Copy the signing secret",
        Some((session, Nav::Webhooks)),
        main,
    )
}

/// An endpoint: its settings, its actions, and its recent deliveries.
pub fn webhook(
    session: &Session,
    endpoint: &WebhookEndpoint,
    form: &EndpointForm,
    messages: &[WebhookMessage],
    attempts: &[WebhookAttempt],
    done: Option<Flash>,
) -> Markup {
    let url = webhook_url(endpoint.id.as_str());
    let action = |path: &str, id: &str, label: &str, class: &str| {
        html! {
            form.inline method="post" action={ (url) "/" (path) } {
                (csrf(session))
                button id=(id) class=(class) type="submit" { (label) }
            }
        }
    };
    let main = html! {
        (breadcrumb(&[("Webhooks", Some(WEBHOOKS)), (&endpoint.url, None)]))
        h1 { "Webhook endpoint" }
        p.lead { code { (endpoint.id) } " · " (state_of(endpoint)) }
        (flash(done))
        div.actions #webhook-actions {
            @if endpoint.enabled {
                (action("test", "send-test", "Send a test event", "secondary"))
                (action("disable", "disable-webhook", "Disable", "secondary"))
            } @else {
                (action("enable", "enable-webhook", "Enable", "primary"))
            }
            (action("rotate-secret", "rotate-secret", "Rotate secret", "secondary"))
            a #delete-webhook .button.danger href={ (url) "/delete" } { "Delete" }
        }
        section.card aria-labelledby="deliveries-title" {
            h2 #deliveries-title { "Recent deliveries" }
            @if messages.is_empty() {
                p #deliveries-empty .empty { "Nothing sent yet." }
            } @else {
                div.table-wrap {
                    table #messages-table {
                        thead { tr {
                            th scope="col" { "Event" }
                            th scope="col" { "Queued" }
                            th scope="col" { "State" }
                            th scope="col" { "Attempts" }
                            th scope="col" { span.visually-hidden { "Actions" } }
                        } }
                        tbody {
                            @for message in messages {
                                tr data-message-id=(message.id) {
                                    td data-label="Event" { code { (message.event_type) } div.hint { code.small { (message.id) } } }
                                    td data-label="Queued" { (deadline(from_micros(message.created_at))) }
                                    td.message-state data-label="State" {
                                        @match message.state.as_str() {
                                            "delivered" => span.badge.ok { "Delivered" },
                                            "failed" => span.badge.danger { "Given up" },
                                            _ => span.badge.muted { "Next try " (deadline(from_micros(message.next_attempt_at))) },
                                        }
                                    }
                                    td data-label="Attempts" { (message.attempts) }
                                    td {
                                        form.inline method="post" action={ (url) "/messages/" (message.id) "/resend" } {
                                            (csrf(session))
                                            button.link.resend type="submit" { "Resend" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 { "Attempts" }
                div.table-wrap {
                    table #attempts-table {
                        thead { tr {
                            th scope="col" { "Time" }
                            th scope="col" { "Event" }
                            th scope="col" { "Response" }
                            th scope="col" { "Duration" }
                        } }
                        tbody {
                            @for attempt in attempts {
                                tr data-attempt-id=(attempt.id) {
                                    td data-label="Time" { (deadline(attempt.time())) }
                                    td data-label="Event" { code { (attempt.event_type) } }
                                    td.attempt-response data-label="Response" {
                                        @if let Some(status) = attempt.status_code {
                                            @if attempt.delivered != 0 { span.badge.ok { (status) } } @else { span.badge.danger { (status) } }
                                        } @else {
                                            span.badge.danger { "No response" }
                                        }
                                        @if let Some(error) = &attempt.error { div.hint { (prose(error)) } }
                                    }
                                    td data-label="Duration" { (attempt.duration_ms) " ms" }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="edit-webhook-title" {
            h2 #edit-webhook-title { "Settings" }
            form #edit-webhook-form method="post" action=(url) novalidate {
                (csrf(session))
                (endpoint_fields(form))
                button #save-webhook .primary type="submit" { "Save" }
            }
        }
    };
    layout("Webhook endpoint", Some((session, Nav::Webhooks)), main)
}

/// Deleting an endpoint: asks first.
pub fn confirm_delete_webhook(session: &Session, endpoint: &WebhookEndpoint) -> Markup {
    let url = webhook_url(endpoint.id.as_str());
    let main = html! {
        (breadcrumb(&[("Webhooks", Some(WEBHOOKS)), (&endpoint.url, Some(&url)), ("Delete", None)]))
        h1 { "Delete this endpoint?" }
        div.card {
            p { "Nothing more is sent to " code { (endpoint.url) } ". Messages waiting for it are dropped." }
            form #confirm-form method="post" action={ (url) "/delete" } {
                (csrf(session))
                div.actions {
                    button #confirm-submit .danger type="submit" { "Delete endpoint" }
                    a #cancel href=(url) { "Cancel" }
                }
            }
        }
    };
    layout("Delete endpoint", Some((session, Nav::Webhooks)), main)
}
