//! The dashboard's HTML (maud: compile-time templates, every value escaped).
//!
//! Accessibility: every control has a label, groups are fieldsets with
//! legends, errors are linked to their field (`aria-describedby`,
//! `aria-invalid`) and announced (`role="alert"`), the current page is marked
//! in the navigation, and a skip link leads to the content. Forms validate on
//! the server (`novalidate`), so every error reads the same way.

use axum::http::Uri;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

mod webhooks;

pub use webhooks::{
    EndpointForm, WEBHOOKS, confirm_delete_webhook, webhook, webhook_secret, webhook_url, webhooks,
};

use super::pages::app_url;
use super::{HOME, LOGIN, SETTINGS};
use crate::service::TokenStatus;
use crate::store::{App, Session, TokenRecord};
use crate::token::{Format, KeyStatus, Module, Scope, UnixTime};

const KEYS: &str = "/dashboard/settings/keys";
const AUDIT: &str = "/dashboard/settings/audit";

/// Where a page sits in the navigation: one of its sections, or the
/// Settings overview above them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Overview,
    Apps,
    Keys,
    Webhooks,
    Audit,
}

/// The page around every screen.
fn layout(title: &str, session: Option<(&Session, Nav)>, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Informly" }
                link rel="stylesheet" href="/dashboard/static/dashboard.css";
                script src="/dashboard/static/dashboard.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href=(HOME) { "Informly" }
                    @if let Some((session, current)) = session {
                        nav.site-nav aria-label="Settings" {
                            a href=(HOME) aria-current=[(current == Nav::Apps).then_some("page")] { "Apps" }
                            a href=(KEYS) aria-current=[(current == Nav::Keys).then_some("page")] { "Keys" }
                            a href=(WEBHOOKS) aria-current=[(current == Nav::Webhooks).then_some("page")] { "Webhooks" }
                            a href=(AUDIT) aria-current=[(current == Nav::Audit).then_some("page")] { "Audit log" }
                        }
                        div.account {
                            span.who {
                                span #current-user { (session.user.email) }
                                span.workspace { (session.workspace_name) }
                            }
                            form #logout-form method="post" action="/dashboard/logout" {
                                (csrf(session))
                                button.link type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (main) }
            }
        }
    }
}

fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf_token); }
}

fn breadcrumb(items: &[(&str, Option<&str>)]) -> Markup {
    html! {
        nav.breadcrumb aria-label="Breadcrumb" {
            ol {
                li { a href=(SETTINGS) { "Settings" } }
                @for (label, href) in items {
                    li {
                        @if let Some(href) = href { a href=(href) { (label) } } @else { span aria-current="page" { (label) } }
                    }
                }
            }
        }
    }
}

/// A field's error paragraph, if it has one.
fn field_error(id: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.error id=(id) role="alert" { (prose(error)) }
        }
    }
}

/// A service message for people: what it quotes in backticks (a name, an
/// id) is shown in quotation marks, not as literal backticks.
fn prose(message: &str) -> Markup {
    html! {
        @for (i, part) in message.split('`').enumerate() {
            @if i % 2 == 1 { "“" (part) "”" } @else { (part) }
        }
    }
}

fn described_by(ids: &[Option<&str>]) -> Option<String> {
    let ids: Vec<&str> = ids.iter().flatten().copied().collect();
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// A confirmation after a redirect, named in the query string (`?done=…`),
/// so it can only ever say one of these.
#[derive(Clone, Copy)]
pub enum Flash {
    AppCreated,
    AppUpdated,
    AppDeleted,
    TokenRevoked,
    TokensRevoked,
    WebhookSaved,
    WebhookEnabled,
    WebhookDisabled,
    WebhookDeleted,
    WebhookTestQueued,
    WebhookResent,
}

impl Flash {
    pub fn from_uri(uri: &Uri) -> Option<Flash> {
        #[derive(Deserialize)]
        struct Done {
            done: Option<String>,
        }
        let done = serde_html_form::from_str::<Done>(uri.query()?).ok()?.done?;
        match done.as_str() {
            "app-created" => Some(Flash::AppCreated),
            "app-updated" => Some(Flash::AppUpdated),
            "app-deleted" => Some(Flash::AppDeleted),
            "token-revoked" => Some(Flash::TokenRevoked),
            "tokens-revoked" => Some(Flash::TokensRevoked),
            "webhook-saved" => Some(Flash::WebhookSaved),
            "webhook-enabled" => Some(Flash::WebhookEnabled),
            "webhook-disabled" => Some(Flash::WebhookDisabled),
            "webhook-deleted" => Some(Flash::WebhookDeleted),
            "webhook-test" => Some(Flash::WebhookTestQueued),
            "webhook-resent" => Some(Flash::WebhookResent),
            _ => None,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Flash::AppCreated => "App created.",
            Flash::AppUpdated => "App saved.",
            Flash::AppDeleted => "App deleted. Its tokens no longer work.",
            Flash::TokenRevoked => "Token revoked.",
            Flash::TokensRevoked => {
                "Every token of this app was revoked. Tokens generated from now on work."
            }
            Flash::WebhookSaved => "Endpoint saved.",
            Flash::WebhookEnabled => "Endpoint enabled: events from now on are sent to it.",
            Flash::WebhookDisabled => {
                "Endpoint disabled: nothing is sent to it until you enable it."
            }
            Flash::WebhookDeleted => "Endpoint deleted.",
            Flash::WebhookTestQueued => "Test event sent. Reload to see how it went.",
            Flash::WebhookResent => "Message queued to be sent again.",
        }
    }
}

fn flash(flash: Option<Flash>) -> Markup {
    html! {
        @if let Some(flash) = flash {
            p #flash .flash role="status" { (flash.message()) }
        }
    }
}

/// Dates as people read them, always in UTC.
fn day(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[day padding:none] [month repr:short] [year]");
    t.format(&format).unwrap_or_default()
}

fn moment(t: OffsetDateTime) -> Markup {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    html! {
        time datetime=(crate::clock::rfc3339_precise(t)) { (t.format(&format).unwrap_or_default()) }
    }
}

fn unix_moment(t: UnixTime) -> Markup {
    moment(unix(t))
}

fn unix(t: UnixTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A past day in a table cell (when something was created): the exact time
/// is in the element and its tooltip, to keep tables narrow.
fn short(t: OffsetDateTime) -> Markup {
    html! {
        time datetime=(crate::clock::rfc3339_precise(t)) title=(clock_time(t)) { (day(t)) }
    }
}

/// A moment that matters to the minute (an expiry, a key starting to sign):
/// its day and its time in UTC, since a date alone misleads when it is
/// hours away.
fn deadline(t: OffsetDateTime) -> Markup {
    html! {
        time datetime=(crate::clock::rfc3339_precise(t)) { (clock_time(t)) }
    }
}

fn clock_time(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[hour]:[minute] UTC");
    format!("{}, {}", day(t), t.format(&format).unwrap_or_default())
}

// ---------------------------------------------------------------- sign-in

pub fn login(csrf: &str, email: &str, error: Option<&str>) -> Markup {
    let main = html! {
        div.narrow {
            h1 { "Log in" }
            p.lead { "to manage your workspace's apps and API tokens." }
            @if let Some(error) = error {
                p #form-error .error.banner role="alert" { (prose(error)) }
            }
            form #login-form .card method="post" action=(LOGIN) novalidate {
                input type="hidden" name="csrf" value=(csrf);
                div.field {
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(email) autocomplete="username" required autofocus[email.is_empty()];
                }
                div.field {
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required autofocus[!email.is_empty()];
                }
                button #login-submit .primary type="submit" { "Log in" }
            }
            p.hint { "Accounts are created by an administrator with " code { "informly users add" } "." }
        }
    };
    layout("Log in", None, main)
}

// ---------------------------------------------------------------- apps

/// The create-app form as typed, with its errors.
#[derive(Default, Deserialize)]
pub struct AppForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(skip)]
    errors: Vec<(&'static str, String)>,
}

impl AppForm {
    /// The form filled with `app` as it is.
    pub fn of(app: &App) -> AppForm {
        AppForm {
            name: app.name.clone(),
            description: app.description.clone().unwrap_or_default(),
            errors: Vec::new(),
        }
    }

    pub fn with_error(mut self, error: (&'static str, String)) -> AppForm {
        self.errors.push(error);
        self
    }

    fn error(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

fn error_for<'a>(errors: &'a [(&'static str, String)], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, m)| m.as_str())
}

/// How far ahead the dashboard warns of expiring tokens.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Tokens accepted now that expire within [`EXPIRY_WARNING_DAYS`].
pub struct Expiring<'a> {
    pub tokens: &'a [TokenRecord],
    pub now: OffsetDateTime,
}

impl Expiring<'_> {
    fn of_app(&self, app: &App) -> usize {
        self.tokens
            .iter()
            .filter(|t| t.app_id.as_ref() == Some(&app.id))
            .count()
    }
}

pub fn apps(
    session: &Session,
    apps: &[(App, i64)],
    expiring: &Expiring<'_>,
    form: &AppForm,
    flash_message: Option<Flash>,
) -> Markup {
    let count = expiring.tokens.len();
    let app_named = |token: &TokenRecord| {
        apps.iter()
            .find(|(app, _)| Some(&app.id) == token.app_id.as_ref())
            .map(|(app, _)| app)
    };
    let main = html! {
        (breadcrumb(&[("Apps", None)]))
        h1 { "Apps" }
        p.lead { "An app is an integration that calls the Informly API. Each app has its own tokens and permissions." }
        (flash(flash_message))
        @if count > 0 {
            p #expiry-banner .callout.warning role="status" {
                a href="#expiring" {
                    (count) @if count == 1 { " token expires" } @else { " tokens expire" }
                    " within " (EXPIRY_WARNING_DAYS) " days"
                }
                ". Roll them before their integrations stop working."
            }
        }
        @if apps.is_empty() {
            p #apps-empty .empty { "No apps yet. Create the first one below." }
        } @else {
            div.table-wrap {
                table #apps-table {
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Description" }
                            th scope="col" .num { "Active tokens" }
                            th scope="col" { "Created" }
                        }
                    }
                    tbody {
                        @for (app, active) in apps {
                            tr data-app-id=(app.id) {
                                td.app-name data-label="Name" {
                                    a href=(app_url(&app.id)) { (app.name) }
                                    @let soon = expiring.of_app(app);
                                    @if soon > 0 {
                                        " " span.badge.expiring title={ (soon) " of its tokens expire within " (EXPIRY_WARNING_DAYS) " days" } { (soon) " expiring" }
                                    }
                                }
                                td.app-description data-label="Description" {
                                    @if let Some(description) = &app.description { (description) } @else { span.muted { "—" } }
                                }
                                td.app-tokens.num data-label="Active tokens" { (active) }
                                td data-label="Created" { (short(app.created_at)) }
                            }
                        }
                    }
                }
            }
        }
        @if count > 0 {
            section #expiring .card aria-labelledby="expiring-title" {
                h2 #expiring-title { "Expiring within " (EXPIRY_WARNING_DAYS) " days" }
                ul.expiring-list {
                    @for token in expiring.tokens {
                        @if let Some(app) = app_named(token) {
                            @let url = app_url(&app.id);
                            li data-token-id=(token.id) {
                                strong { (token.name.as_deref().unwrap_or(token.id.as_str())) }
                                " of " a href=(url) { (app.name) } " "
                                (expires_in(expiring.now, unix(token.expires_at)))
                                @if token.replaced_by.is_none() {
                                    " · " a.roll-token href={ (url) "/tokens/" (token.id) "/roll" } { "Roll" }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="create-app-title" {
            h2 #create-app-title { "Create an app" }
            form #create-app-form method="post" action=(HOME) novalidate {
                (csrf(session))
                (app_fields(form))
                button.primary type="submit" { "Create app" }
            }
        }
    };
    layout("Apps", Some((session, Nav::Apps)), main)
}

/// An app's name and description, as typed, with their errors.
fn app_fields(form: &AppForm) -> Markup {
    let name_error = form.error("name");
    let description_error = form.error("description");
    html! {
        div.field {
            label for="app-name" { "Name" }
            input #app-name type="text" name="name" value=(form.name) maxlength="100" required autocomplete="off"
                aria-invalid=[name_error.map(|_| "true")]
                aria-describedby=[name_error.map(|_| "app-name-error")];
            (field_error("app-name-error", name_error))
        }
        div.field {
            label for="app-description" { "Description " span.optional { "(optional)" } }
            textarea #app-description name="description" rows="2" maxlength="500"
                aria-invalid=[description_error.map(|_| "true")]
                aria-describedby=[description_error.map(|_| "app-description-error")] { (form.description) }
            (field_error("app-description-error", description_error))
        }
    }
}

/// Renaming an app or changing its description.
pub fn edit_app(session: &Session, app: &App, form: &AppForm) -> Markup {
    let url = app_url(&app.id);
    let main = html! {
        (breadcrumb(&[("Apps", Some(HOME)), (&app.name, Some(&url)), ("Edit", None)]))
        h1 { "Edit app" }
        p.lead { "Its id, " code { (app.id) } ", and its tokens stay as they are." }
        form #edit-app-form .card method="post" action={ (url) "/edit" } novalidate {
            (csrf(session))
            (app_fields(form))
            div.actions {
                button #save-app .primary type="submit" { "Save" }
                a href=(url) { "Cancel" }
            }
        }
    };
    layout("Edit app", Some((session, Nav::Apps)), main)
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Paseto => "PASETO",
        Format::Jwt => "JWT",
    }
}

/// Which of an app's tokens its page lists (`?tokens=active`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TokenFilter {
    All,
    Active,
}

/// The order of an app's tokens (`?sort=last_used`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TokenSort {
    /// Soonest to expire first.
    Expires,
    /// Most recently used first; never used last.
    LastUsed,
}

/// How an app page lists its tokens, from its query string.
#[derive(Clone, Copy)]
pub struct TokenView {
    pub filter: TokenFilter,
    pub sort: TokenSort,
}

impl TokenView {
    pub fn from_uri(uri: &Uri) -> TokenView {
        #[derive(Deserialize)]
        struct Query {
            tokens: Option<String>,
            sort: Option<String>,
        }
        let query = uri
            .query()
            .and_then(|q| serde_html_form::from_str::<Query>(q).ok());
        let (tokens, sort) = query.map_or((None, None), |q| (q.tokens, q.sort));
        TokenView {
            filter: match tokens.as_deref() {
                Some("active") => TokenFilter::Active,
                _ => TokenFilter::All,
            },
            sort: match sort.as_deref() {
                Some("last_used") => TokenSort::LastUsed,
                _ => TokenSort::Expires,
            },
        }
    }

    /// The app page's URL showing this view.
    fn url(self, app: &str) -> String {
        let mut query = Vec::new();
        if self.filter == TokenFilter::Active {
            query.push("tokens=active");
        }
        if self.sort == TokenSort::LastUsed {
            query.push("sort=last_used");
        }
        match query.is_empty() {
            true => app.to_owned(),
            false => format!("{app}?{}", query.join("&")),
        }
    }
}

/// What an app page's token list shows, and how many there are of each.
pub struct TokenCounts {
    pub view: TokenView,
    pub all: usize,
    pub active: usize,
}

/// "expires in 3 days" (to the nearest unit: a token issued for three days
/// a moment ago expires in 3 days, not 2), with the exact time on hover.
fn expires_in(now: OffsetDateTime, t: OffsetDateTime) -> Markup {
    let seconds = (t - now).whole_seconds().max(0);
    let nearest = |unit: i64| ((seconds + unit / 2) / unit).max(1);
    let (n, unit) = match seconds {
        0..3_600 => (nearest(60), "minute"),
        3_600..86_400 => (nearest(3_600), "hour"),
        _ => (nearest(86_400), "day"),
    };
    html! {
        span.expires-in {
            "expires in "
            time datetime=(crate::clock::rfc3339_precise(t)) title=(clock_time(t)) {
                (n) " " (unit) @if n != 1 { "s" }
            }
        }
    }
}

/// How long ago, as people say it ("3 minutes ago").
fn ago(now: OffsetDateTime, t: OffsetDateTime) -> String {
    let seconds = (now - t).whole_seconds().max(0);
    let (n, unit) = match seconds {
        0..60 => return "just now".to_owned(),
        60..3_600 => (seconds / 60, "minute"),
        3_600..86_400 => (seconds / 3_600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

pub fn app(
    session: &Session,
    app: &App,
    tokens: &[(TokenRecord, TokenStatus)],
    counts: TokenCounts,
    now: OffsetDateTime,
    flash_message: Option<Flash>,
) -> Markup {
    let url = app_url(&app.id);
    let view = counts.view;
    let filter_link = |filter: TokenFilter, label: &str, count: usize| {
        let href = TokenView { filter, ..view }.url(&url);
        html! {
            a href=(href) aria-current=[(view.filter == filter).then_some("true")] { (label) " (" (count) ")" }
        }
    };
    let sort_header = |sort: TokenSort, label: &str| {
        let href = TokenView { sort, ..view }.url(&url);
        let order = match sort {
            TokenSort::Expires => "ascending",
            TokenSort::LastUsed => "descending",
        };
        html! {
            th scope="col" aria-sort=[(view.sort == sort).then_some(order)] {
                a.sort href=(href) { (label) }
            }
        }
    };
    let main = html! {
        (breadcrumb(&[("Apps", Some(HOME)), (&app.name, None)]))
        div.title-row {
            h1 { (app.name) }
            div.title-actions {
                a #edit-app .button.secondary href={ (url) "/edit" } { "Edit" }
                a #generate-token .button.primary href={ (url) "/tokens/new" } { "Generate token" }
            }
        }
        @if let Some(description) = &app.description { p.lead { (description) } }
        p.meta {
            "App id " code #app-id { (app.id) } " "
            button #copy-app-id .link type="button" data-copy="app-id" data-status="app-id-status" hidden { "Copy" }
            span #app-id-status role="status" aria-live="polite" {}
            " · created " (moment(app.created_at))
        }
        (flash(flash_message))
        div.title-row {
            h2 { "Tokens" }
            @if counts.all > 0 {
                nav #token-filter .filter aria-label="Which tokens" {
                    (filter_link(TokenFilter::All, "All", counts.all))
                    (filter_link(TokenFilter::Active, "Active", counts.active))
                }
            }
        }
        @if counts.all == 0 {
            p #tokens-empty .empty { "No tokens yet. Generate one to let this app call the API." }
        } @else if tokens.is_empty() {
            p #tokens-none-active .empty { "No active tokens. " a href=(url) { "Show all" } }
        } @else {
            div.table-wrap {
                table #tokens-table {
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Permissions" }
                            th scope="col" { "Format" }
                            th scope="col" { "Created" }
                            (sort_header(TokenSort::Expires, "Expires"))
                            (sort_header(TokenSort::LastUsed, "Last used"))
                            th scope="col" { "Status" }
                            th scope="col" { span.visually-hidden { "Actions" } }
                        }
                    }
                    tbody {
                        @for (token, status) in tokens {
                            tr data-token-id=(token.id) {
                                td.token-name data-label="Name" {
                                    (token.name.as_deref().unwrap_or("—"))
                                    br; code.small { (token.id) }
                                }
                                td.token-scopes data-label="Permissions" {
                                    @let unused = token.unused_scopes();
                                    @for scope in &token.scopes {
                                        @if unused.contains(scope) {
                                            code.scope.unused title="Never needed by a request this service saw" { (scope) span.visually-hidden { " (unused)" } }
                                        } @else {
                                            code.scope { (scope) }
                                        }
                                        " "
                                    }
                                }
                                td.token-format data-label="Format" { (format_name(token.format)) }
                                td.token-created data-label="Created" { (short(unix(token.created_at))) }
                                td.token-expires data-label="Expires" {
                                    (deadline(unix(token.expires_at)))
                                    @if status.is_accepted() && token.expires_at <= (now + Duration::days(EXPIRY_WARNING_DAYS)).unix_timestamp() {
                                        br; span.small.soon { (expires_in(now, unix(token.expires_at))) }
                                    }
                                }
                                td.token-last-used data-label="Last used" {
                                    @if let Some(last_used) = token.last_used_at {
                                        time datetime=(crate::clock::rfc3339_precise(last_used)) title=(clock_time(last_used)) { (ago(now, last_used)) }
                                    } @else {
                                        span.muted { "never" }
                                    }
                                }
                                td data-label="Status" {
                                    span class={ "token-status status status-" (status.as_str()) } { (status.as_str().replace('_', " ")) }
                                    @if *status == TokenStatus::Rolling && let Some(at) = token.revoked_at {
                                        br; span.small.rolling-until { "stops working at " (deadline(at)) }
                                    }
                                }
                                td.row-actions {
                                    @let label = token.name.as_deref().unwrap_or(token.id.as_str());
                                    @if *status == TokenStatus::Active {
                                        a.roll-token href={ (url) "/tokens/" (token.id) "/roll" } {
                                            "Roll" span.visually-hidden { " " (label) }
                                        }
                                        @if !token.used_scopes.is_empty() && !token.unused_scopes().is_empty() {
                                            br;
                                            a.roll-used.small href={ (url) "/tokens/" (token.id) "/roll?scopes=used" } {
                                                "Roll with only the used permissions" span.visually-hidden { " of " (label) }
                                            }
                                        }
                                        br;
                                    }
                                    @if status.is_accepted() {
                                        a.revoke-token.danger-link href={ (url) "/tokens/" (token.id) "/revoke" } {
                                            "Revoke" span.visually-hidden { " " (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if counts.all > 0 {
            p.hint #usage-note {
                "Last used and unused permissions count the requests this service verified. "
                "Uses verified offline by other services (with the published keys) are not seen here."
            }
        }
        section.card.danger-zone aria-labelledby="danger-title" {
            h2 #danger-title { "Danger zone" }
            @if counts.active > 0 {
                p { "Revoking every token stops this app's integrations at once; the app stays, and tokens generated afterwards work." }
                p { a #revoke-all .button.danger href={ (url) "/tokens/revoke-all" } { "Revoke all tokens…" } }
            }
            p { "Deleting the app revokes every token it has. This cannot be undone." }
            a #delete-app .button.danger href={ (url) "/delete" } { "Delete app…" }
        }
    };
    layout(&app.name, Some((session, Nav::Apps)), main)
}

// ---------------------------------------------------------------- tokens

/// The generate-token form as submitted, with its errors.
#[derive(Default, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub name: String,
    /// One entry per ticked checkbox.
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub expiry: String,
    #[serde(default)]
    pub expires_on: String,
    #[serde(default)]
    pub format: String,
    /// A roll's overlap: `0`, `1h`, `24h` or `7d`.
    #[serde(default)]
    pub overlap: String,
    #[serde(skip)]
    errors: Vec<(&'static str, String)>,
}

/// The overlaps a roll offers: (value, label).
pub const OVERLAPS: [(&str, &str); 4] = [
    ("0", "None: it stops at once"),
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
];

impl TokenForm {
    /// The roll form of `token`: its name, format, and its scopes (only the
    /// ones requests needed, with `used_only`).
    pub fn roll_of(token: &TokenRecord, used_only: bool) -> TokenForm {
        let scope = match used_only {
            true => token
                .used_scopes
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            false => token.scopes.clone(),
        };
        TokenForm {
            name: token.name.clone().unwrap_or_default(),
            scope,
            expiry: String::new(),
            expires_on: String::new(),
            format: token.format.as_str().to_owned(),
            overlap: "24h".to_owned(),
            errors: Vec::new(),
        }
    }

    pub fn with_errors(mut self, errors: Vec<(&'static str, String)>) -> TokenForm {
        self.errors.extend(errors);
        self
    }

    fn error(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

/// The app scopes, grouped by module in the order the scope list gives.
fn modules() -> Vec<(&'static str, Vec<Scope>)> {
    let mut modules: Vec<(&'static str, Vec<Scope>)> = Vec::new();
    for scope in Scope::all().filter(|s| !s.is_admin()) {
        let module = scope.as_str().split(':').next().unwrap_or_default();
        match modules.last_mut() {
            Some((name, scopes)) if *name == module => scopes.push(scope),
            _ => modules.push((module, vec![scope])),
        }
    }
    modules
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The form that generates a token, or with `rolling`, the one that rolls
/// that token: the same fields, and how long the old token stays valid.
pub fn new_token(
    session: &Session,
    app: &App,
    form: &TokenForm,
    now: OffsetDateTime,
    rolling: Option<&TokenRecord>,
) -> Markup {
    let url = app_url(&app.id);
    let overlap_error = form.error("overlap");
    let overlap = if form.overlap.is_empty() {
        "24h"
    } else {
        form.overlap.as_str()
    };
    let (title, action, submit) = match rolling {
        Some(old) => (
            "Roll a token",
            format!("{url}/tokens/{}/roll", old.id),
            "Roll token",
        ),
        None => (
            "Generate a token",
            format!("{url}/tokens"),
            "Generate token",
        ),
    };
    let name_error = form.error("name");
    let scope_error = form.error("scopes");
    let expiry_error = form.error("expiry");
    let format_error = form.error("format");
    let expiry = if form.expiry.is_empty() {
        "30d"
    } else {
        form.expiry.as_str()
    };
    let format = if form.format.is_empty() {
        "paseto"
    } else {
        form.format.as_str()
    };
    let today = now.date();
    let presets = [("7d", 7), ("30d", 30), ("90d", 90)];
    // A date to show rather than an empty `mm/dd/yyyy`, unless a custom date
    // was chosen: then what was typed, even nothing.
    let expires_on = if expiry == "custom" || !form.expires_on.is_empty() {
        form.expires_on.clone()
    } else {
        (today + Duration::days(30)).to_string()
    };
    let main = html! {
        (breadcrumb(&[("Apps", Some(HOME)), (&app.name, Some(&url)), (title, None)]))
        h1 { (title) }
        @if let Some(old) = rolling {
            p.lead {
                "A new token replaces " strong { (old.name.as_deref().unwrap_or(old.id.as_str())) }
                " (" code { (old.id) } "), which keeps working for the overlap you choose, then is revoked. "
                "The new token is shown once."
            }
        } @else {
            p.lead { "For " strong { (app.name) } ". The token is shown once, when it is created." }
        }
        form #token-form .card method="post" action=(action) novalidate {
            (csrf(session))
            @if rolling.is_some() {
                fieldset #overlap aria-describedby=[overlap_error.map(|_| "overlap-error")] {
                    legend { "Keep the old token working for" }
                    p.hint { "Time to deploy the new token. The old one stops at that second everywhere, even where the service cannot be reached." }
                    (field_error("overlap-error", overlap_error))
                    @for (value, label) in OVERLAPS {
                        @let id = format!("overlap-{value}");
                        div.check {
                            input type="radio" name="overlap" value=(value) id=(id) checked[overlap == value];
                            label for=(id) { (label) }
                        }
                    }
                }
            }
            div.field {
                label for="token-name" { "Name" }
                p.hint #token-name-hint { "So you can recognise it later, e.g. “CRM sync”." }
                input #token-name type="text" name="name" value=(form.name) maxlength="100" required autocomplete="off"
                    aria-invalid=[name_error.map(|_| "true")]
                    aria-describedby=(described_by(&[Some("token-name-hint"), name_error.map(|_| "token-name-error")]).unwrap_or_default());
                (field_error("token-name-error", name_error))
            }
            fieldset #scopes aria-describedby=[scope_error.map(|_| "scope-error")] {
                legend { "Permissions" }
                p.hint { "Grant only what the integration needs." }
                (field_error("scope-error", scope_error))
                div.modules {
                    @for (module, scopes) in modules() {
                        fieldset.scope-module {
                            legend {
                                (capitalised(module))
                                @if !Module::named(module).is_some_and(|m| m.live) { " " span.badge { "coming soon" } }
                            }
                            @for scope in scopes {
                                @let name = scope.as_str();
                                @let id = format!("scope-{}", name.replace(':', "-"));
                                @let action = name.split(':').nth(1).unwrap_or_default();
                                div.check {
                                    input type="checkbox" name="scope" value=(name) id=(id) checked[form.scope.iter().any(|s| s == name)];
                                    label for=(id) { (capitalised(action)) " " code.small { (name) } }
                                }
                            }
                        }
                    }
                }
            }
            fieldset #expiry aria-describedby=[expiry_error.map(|_| "expiry-error")] {
                legend { "Expiration" }
                p.hint { "Every token expires. Times are UTC." }
                (field_error("expiry-error", expiry_error))
                @for (value, days) in presets {
                    @let id = format!("expiry-{value}");
                    div.check {
                        input type="radio" name="expiry" value=(value) id=(id) checked[expiry == value];
                        label for=(id) { (days) " days " span.muted { "(" (clock_time(now + Duration::days(days))) ")" } }
                    }
                }
                div.check {
                    input #expiry-custom type="radio" name="expiry" value="custom" checked[expiry == "custom"];
                    label for="expiry-custom" { "Custom date" }
                }
                div.field.indent {
                    label for="expires-on" { "Expires at the end of (UTC)" }
                    input #expires-on type="date" name="expires_on" value=(expires_on)
                        min=(today.to_string()) max=((today + Duration::days(365)).to_string());
                }
            }
            fieldset #format aria-describedby=[format_error.map(|_| "format-error")] {
                legend { "Format" }
                (field_error("format-error", format_error))
                div.check {
                    input #format-paseto type="radio" name="format" value="paseto" checked[format == "paseto"];
                    label for="format-paseto" { "PASETO v4.public " span.muted { "(recommended)" } }
                }
                div.check {
                    input #format-jwt type="radio" name="format" value="jwt" checked[format == "jwt"];
                    label for="format-jwt" { "JWT " span.muted { "(RFC 9068, EdDSA) for JWT libraries" } }
                }
            }
            div.actions {
                button #generate-submit .primary type="submit" { (submit) }
                a href=(url) { "Cancel" }
            }
        }
    };
    layout(title, Some((session, Nav::Apps)), main)
}

/// The token, shown this once, with a `curl` line that tries it against
/// this service (`base_url`, as the browser reached it).
pub fn token_created(
    session: &Session,
    app: &App,
    record: &TokenRecord,
    token: &str,
    base_url: Option<&str>,
    rolled: Option<&TokenRecord>,
) -> Markup {
    let url = app_url(&app.id);
    let main = html! {
        (breadcrumb(&[("Apps", Some(HOME)), (&app.name, Some(&url)), ("New token", None)]))
        h1 { "Copy your new token" }
        @if let Some(old) = rolled {
            p #rolled-note .lead {
                "It replaces " code { (old.id) } ", which "
                @if let Some(at) = old.revoked_at {
                    "stops working at " (deadline(at)) "."
                } @else {
                    "stops working now."
                }
            }
        }
        div #token-warning .callout.warning role="note" {
            strong { "Copy it now. " }
            "You will not be able to see it again: it is not stored anywhere. "
            "If you lose it, generate a new one and revoke this one."
        }
        div.card {
            label for="new-token" { "Token “" (record.name.as_deref().unwrap_or_default()) "”" }
            div.copy-row {
                input #new-token type="text" readonly value=(token) spellcheck="false" autocomplete="off";
                button #copy-token .secondary type="button" data-copy="new-token" hidden { "Copy" }
            }
            p #copy-status .hint role="status" aria-live="polite" {}
            dl.summary {
                dt { "Permissions" } dd { @for scope in &record.scopes { code.scope { (scope) } " " } }
                dt { "Format" } dd { (format_name(record.format)) }
                dt { "Expires" } dd { (unix_moment(record.expires_at)) }
                dt { "Token id" } dd { code { (record.id) } }
            }
            p.hint { "Send it as " code { "Authorization: Bearer <token>" } "." }
            @if let Some(base_url) = base_url {
                label for="curl-line" { "Try it" }
                p.hint #curl-hint { "Asks this service which token it is, its app and its permissions." }
                div.copy-row {
                    input #curl-line type="text" readonly spellcheck="false" autocomplete="off" aria-describedby="curl-hint"
                        value={ "curl -H 'Authorization: Bearer " (token) "' " (base_url) "/v1/token" };
                    button #copy-curl .secondary type="button" data-copy="curl-line" data-status="curl-status" hidden { "Copy" }
                }
                p #curl-status .hint role="status" aria-live="polite" {}
            }
        }
        a #done .button.primary href=(url) { "Done" }
    };
    layout("Copy your new token", Some((session, Nav::Apps)), main)
}

fn confirm(
    session: &Session,
    app: &App,
    title: &str,
    message: Markup,
    action: &str,
    button: &str,
) -> Markup {
    let url = app_url(&app.id);
    let main = html! {
        (breadcrumb(&[("Apps", Some(HOME)), (&app.name, Some(&url)), (title, None)]))
        h1 { (title) }
        div.card {
            (message)
            form #confirm-form method="post" action=(action) {
                (csrf(session))
                div.actions {
                    button #confirm-submit .danger type="submit" { (button) }
                    a #cancel href=(url) { "Cancel" }
                }
            }
        }
    };
    layout(title, Some((session, Nav::Apps)), main)
}

pub fn confirm_revoke(session: &Session, app: &App, token: &TokenRecord) -> Markup {
    let url = app_url(&app.id);
    let message = html! {
        p {
            "The token " strong { (token.name.as_deref().unwrap_or("without a name")) }
            " (" code { (token.id) } ") of " strong { (app.name) }
            " will be rejected by the API at once. This cannot be undone."
        }
    };
    confirm(
        session,
        app,
        "Revoke this token?",
        message,
        &format!("{url}/tokens/{}/revoke", token.id),
        "Revoke token",
    )
}

pub fn confirm_revoke_all(session: &Session, app: &App, active_tokens: usize) -> Markup {
    let url = app_url(&app.id);
    let message = html! {
        p {
            "Every token of " strong { (app.name) }
            " (" (active_tokens) " active) will be rejected by the API at once. "
            "The app stays, and tokens generated afterwards work. This cannot be undone."
        }
    };
    confirm(
        session,
        app,
        "Revoke every token?",
        message,
        &format!("{url}/tokens/revoke-all"),
        "Revoke all tokens",
    )
}

pub fn confirm_delete(session: &Session, app: &App, active_tokens: usize) -> Markup {
    let url = app_url(&app.id);
    let message = html! {
        p {
            "The app " strong { (app.name) } " will be deleted, and every token it ever had will be rejected by the API at once"
            @if active_tokens > 0 { " (" (active_tokens) " active)" }
            ". This cannot be undone."
        }
    };
    confirm(
        session,
        app,
        "Delete this app?",
        message,
        &format!("{url}/delete"),
        "Delete app",
    )
}

// ---------------------------------------------------------------- keys

pub struct KeyRow {
    pub kid: String,
    pub format: Format,
    pub status: KeyStatus,
    pub created_at: OffsetDateTime,
    pub activates_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

pub fn keys(session: &Session, keys: &[KeyRow]) -> Markup {
    let main = html! {
        (breadcrumb(&[("Keys", None)]))
        h1 { "Signing keys" }
        p.lead {
            "Tokens are signed with these keys. Services verify tokens offline with the public keys, published at "
            a href="/.well-known/paserk.json" { code { "/.well-known/paserk.json" } } " and "
            a href="/.well-known/jwks.json" { code { "/.well-known/jwks.json" } } "."
        }
        @if keys.is_empty() {
            p.empty { "No keys yet: the first ones are made when the server starts." }
        } @else {
            div.table-wrap {
                table #keys-table {
                    thead {
                        tr {
                            th scope="col" { "Key id" }
                            th scope="col" { "Format" }
                            th scope="col" { "State" }
                            th scope="col" { "Created" }
                            th scope="col" { "Signs from" }
                            th scope="col" { "Retired" }
                        }
                    }
                    tbody {
                        @for key in keys {
                            tr data-kid=(key.kid) {
                                td data-label="Key id" { code.small { (key.kid) } }
                                td data-label="Format" { (format_name(key.format)) }
                                td data-label="State" {
                                    span class={ "key-state status status-" (key.status.as_str()) } { (key.status.as_str()) }
                                }
                                td data-label="Created" { (short(key.created_at)) }
                                td data-label="Signs from" { (deadline(key.activates_at)) }
                                td data-label="Retired" {
                                    @if let Some(retired) = key.retired_at { (deadline(retired)) } @else { span.muted { "—" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="rotate-title" {
            h2 #rotate-title { "Rotating keys" }
            p { "Keys change from the command line on the server, not from here. A new key can wait before signing, so verifiers fetch it first; a retired key's tokens are rejected at once." }
            pre #rotate-commands {
                code {
                    "informly keys list\n"
                    "informly keys rotate --format all --activate-after 15m  # new keys, signing in 15 minutes\n"
                    "informly keys retire KID                                # its tokens are refused from then on"
                }
            }
        }
    };
    layout("Signing keys", Some((session, Nav::Keys)), main)
}

// ---------------------------------------------------------------- errors

/// An error page; with the navigation and the log-out link when the
/// visitor is signed in.
pub fn error_page(title: &str, detail: &str, session: Option<&Session>) -> Markup {
    let main = html! {
        div.narrow #error-page {
            h1 { (title) }
            p { (detail) }
            p { a href=(HOME) { "Back to apps" } }
        }
    };
    layout(title, session.map(|s| (s, Nav::Overview)), main)
}

// ---------------------------------------------------------------- settings

/// `Settings`: what there is to manage.
pub fn settings(session: &Session) -> Markup {
    let main = html! {
        nav.breadcrumb aria-label="Breadcrumb" {
            ol { li { span aria-current="page" { "Settings" } } }
        }
        h1 { "Settings" }
        ul #settings-sections .sections {
            li {
                a href=(HOME) { "Apps" }
                p.hint { "The integrations that call the Informly API, their tokens and permissions." }
            }
            li {
                a href=(KEYS) { "Signing keys" }
                p.hint { "The keys that sign tokens, and the public keys services verify them with." }
            }
            li {
                a href=(WEBHOOKS) { "Webhooks" }
                p.hint { "Endpoints your systems receive token events at, and their deliveries." }
            }
            li {
                a href=(AUDIT) { "Audit log" }
                p.hint { "Who changed what, when and from where; tamper-evident." }
            }
        }
    };
    layout("Settings", Some((session, Nav::Overview)), main)
}

// ---------------------------------------------------------------- audit log

/// The audit log's filters, as typed (a GET form).
#[derive(Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub target: String,
    /// A day (`YYYY-MM-DD`, UTC): events from its start.
    #[serde(default)]
    pub since: String,
    /// A day (`YYYY-MM-DD`, UTC): events up to its end.
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub cursor: String,
    #[serde(skip)]
    pub errors: Vec<(&'static str, String)>,
}

impl AuditQuery {
    /// The query string of these filters, for the next page's link.
    fn with_cursor(&self, cursor: &str) -> String {
        let pairs = [
            ("action", self.action.as_str()),
            ("actor", self.actor.as_str()),
            ("target", self.target.as_str()),
            ("since", self.since.as_str()),
            ("until", self.until.as_str()),
            ("cursor", cursor),
        ];
        let given: Vec<(&str, &str)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        serde_html_form::to_string(given).unwrap_or_default()
    }
}

pub fn audit(
    session: &Session,
    events: &[crate::store::AuditEvent],
    query: &AuditQuery,
    next_cursor: Option<&str>,
) -> Markup {
    let field = |id: &str, name: &str, label: &str, value: &str, kind: &str, hint: &str| {
        let error = error_for(&query.errors, name);
        let error_id = format!("{id}-error");
        html! {
            div.field.inline {
                label for=(id) { (label) }
                input id=(id) type=(kind) name=(name) value=(value) placeholder=(hint)
                    aria-invalid=[error.map(|_| "true")]
                    aria-describedby=[error.map(|_| error_id.as_str())];
                (field_error(&error_id, error))
            }
        }
    };
    let main = html! {
        (breadcrumb(&[("Audit log", None)]))
        h1 { "Audit log" }
        p.lead {
            "Every change to this workspace: who made it, when and from where. "
            "Each event is chained to the one before it by a hash, so an edited or removed event shows: "
            code { "informly audit verify" } " checks the chain."
        }
        form #audit-filters .card.filters method="get" action=(AUDIT) {
            (field("audit-action", "action", "Action", &query.action, "text", "token.revoked"))
            (field("audit-actor", "actor", "Actor", &query.actor, "text", "email, token or user@host"))
            (field("audit-target", "target", "Target", &query.target, "text", "an app, token or key id"))
            (field("audit-since", "since", "From (UTC)", &query.since, "date", ""))
            (field("audit-until", "until", "To (UTC)", &query.until, "date", ""))
            div.actions {
                button.secondary type="submit" { "Filter" }
                a href=(AUDIT) { "Clear" }
            }
        }
        @if events.is_empty() {
            p #audit-empty .empty { "No events match." }
        } @else {
            div.table-wrap {
                table #audit-table {
                    thead {
                        tr {
                            th scope="col" { "Time" }
                            th scope="col" { "Actor" }
                            th scope="col" { "Action" }
                            th scope="col" { "Target" }
                            th scope="col" { "Changes" }
                            th scope="col" { "From" }
                        }
                    }
                    tbody {
                        @for event in events {
                            tr data-event-id=(event.id) {
                                td data-label="Time" { (deadline(event.time())) }
                                td data-label="Actor" {
                                    span.muted { (event.actor_type.replace('_', " ")) } " " (event.actor_id)
                                }
                                td.audit-action data-label="Action" { code { (event.action) } }
                                td data-label="Target" {
                                    @if let Some(target) = &event.target_id { code.small { (target) } } @else { span.muted { "—" } }
                                }
                                td data-label="Changes" {
                                    @if let Some(changes) = event.changes().and_then(|c| c.as_object().cloned()) {
                                        @for (name, values) in changes {
                                            div.small {
                                                (name) ": " (values[0].to_string()) " → " (values[1].to_string())
                                            }
                                        }
                                    } @else { span.muted { "—" } }
                                }
                                td data-label="From" {
                                    @if let Some(client) = &event.client { (client) } @else { span.muted { "command line" } }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(cursor) = next_cursor {
                p { a #audit-older href={ (AUDIT) "?" (query.with_cursor(cursor)) } { "Older events" } }
            }
        }
    };
    layout("Audit log", Some((session, Nav::Audit)), main)
}
