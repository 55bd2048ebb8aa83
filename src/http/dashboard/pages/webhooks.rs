//! Settings › Webhooks: the handlers, each calling the same service method
//! as the API, with the signed-in user as the actor.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::Markup;

use super::{field_error, see};
use crate::http::AppState;
use crate::http::dashboard::session::{CurrentUser, Posted};
use crate::http::dashboard::views::{self, EndpointForm, Flash, WEBHOOKS, webhook_url};
use crate::http::dashboard::{Error, Result};
use crate::ids::{MessageId, WebhookEndpointId};
use crate::service::{EndpointRequest, EndpointUpdate};
use crate::store::WebhookEndpoint;

/// Recent messages and attempts an endpoint's page shows.
const RECENT: i64 = 20;

async fn find_endpoint(state: &AppState, user: &CurrentUser, id: &str) -> Result<WebhookEndpoint> {
    let id = WebhookEndpointId::parse(id).ok_or(Error::NotFound)?;
    Ok(state.service().webhook_endpoint(&user.actor(), &id).await?)
}

/// `GET /dashboard/settings/webhooks`.
pub async fn webhooks(
    State(state): State<AppState>,
    user: CurrentUser,
    uri: Uri,
) -> Result<Markup> {
    let endpoints = state.service().webhook_endpoints(&user.actor()).await?;
    Ok(views::webhooks(
        &user.session,
        &endpoints,
        &EndpointForm::new_endpoint(),
        Flash::from_uri(&uri),
    ))
}

/// `POST /dashboard/settings/webhooks`: adds an endpoint and shows its
/// secret, once.
pub async fn create_webhook(
    State(state): State<AppState>,
    Posted { user, form }: Posted<EndpointForm>,
) -> Result<Response> {
    let description = Some(form.description.trim().to_owned()).filter(|d| !d.is_empty());
    let request = EndpointRequest {
        url: form.url.trim().to_owned(),
        events: form.events.clone(),
        description,
    };
    match state
        .service()
        .create_webhook_endpoint(&user.actor(), request)
        .await
    {
        Ok(created) => {
            Ok(
                views::webhook_secret(&user.session, &created.endpoint, &created.secret, false)
                    .into_response(),
            )
        }
        Err(e) => {
            let form = form.with_error(field_error(e, "url")?);
            let endpoints = state.service().webhook_endpoints(&user.actor()).await?;
            let page = views::webhooks(&user.session, &endpoints, &form, None);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `GET /dashboard/settings/webhooks/{endpoint}`.
pub async fn webhook(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(endpoint): Path<String>,
    uri: Uri,
) -> Result<Markup> {
    let endpoint = find_endpoint(&state, &user, &endpoint).await?;
    render(
        &state,
        &user,
        &endpoint,
        &EndpointForm::of(&endpoint),
        Flash::from_uri(&uri),
    )
    .await
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    endpoint: &WebhookEndpoint,
    form: &EndpointForm,
    done: Option<Flash>,
) -> Result<Markup> {
    let actor = user.actor();
    let messages = state
        .service()
        .webhook_messages(&actor, &endpoint.id, RECENT)
        .await?;
    let attempts = state
        .service()
        .webhook_attempts(&actor, &endpoint.id, None, RECENT)
        .await?;
    Ok(views::webhook(
        &user.session,
        endpoint,
        form,
        &messages,
        &attempts,
        done,
    ))
}

/// `POST /dashboard/settings/webhooks/{endpoint}`: its URL, description and
/// events.
pub async fn update_webhook(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
    Posted { user, form }: Posted<EndpointForm>,
) -> Result<Response> {
    let endpoint = find_endpoint(&state, &user, &endpoint).await?;
    let description = Some(form.description.trim().to_owned()).filter(|d| !d.is_empty());
    let update = EndpointUpdate {
        url: Some(form.url.trim().to_owned()),
        events: Some(form.events.clone()),
        description: Some(description),
        enabled: None,
    };
    match state
        .service()
        .update_webhook_endpoint(&user.actor(), &endpoint.id, update)
        .await
    {
        Ok(_) => Ok(see(&format!(
            "{}?done=webhook-saved",
            webhook_url(endpoint.id.as_str())
        ))
        .into_response()),
        Err(e) => {
            let form = form.with_error(field_error(e, "url")?);
            let page = render(&state, &user, &endpoint, &form, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// The CSRF field alone: the body of the action buttons' forms.
#[derive(serde::Deserialize)]
pub struct Empty {}

/// `POST …/{endpoint}/enable` and `…/disable`.
pub async fn enable_webhook(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
    Posted { user, .. }: Posted<Empty>,
) -> Result<Response> {
    set_enabled(&state, &user, &endpoint, true).await
}

pub async fn disable_webhook(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
    Posted { user, .. }: Posted<Empty>,
) -> Result<Response> {
    set_enabled(&state, &user, &endpoint, false).await
}

async fn set_enabled(
    state: &AppState,
    user: &CurrentUser,
    endpoint: &str,
    enabled: bool,
) -> Result<Response> {
    let endpoint = find_endpoint(state, user, endpoint).await?;
    let update = EndpointUpdate {
        enabled: Some(enabled),
        ..EndpointUpdate::default()
    };
    state
        .service()
        .update_webhook_endpoint(&user.actor(), &endpoint.id, update)
        .await?;
    let done = if enabled {
        "webhook-enabled"
    } else {
        "webhook-disabled"
    };
    Ok(see(&format!(
        "{}?done={done}",
        webhook_url(endpoint.id.as_str())
    ))
    .into_response())
}

/// `POST …/{endpoint}/test`.
pub async fn test_webhook(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
    Posted { user, .. }: Posted<Empty>,
) -> Result<Response> {
    let endpoint = find_endpoint(&state, &user, &endpoint).await?;
    state
        .service()
        .test_webhook_endpoint(&user.actor(), &endpoint.id)
        .await?;
    Ok(see(&format!(
        "{}?done=webhook-test",
        webhook_url(endpoint.id.as_str())
    ))
    .into_response())
}

/// `POST …/{endpoint}/rotate-secret`: shows the new secret, once.
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
    Posted { user, .. }: Posted<Empty>,
) -> Result<Markup> {
    let endpoint = find_endpoint(&state, &user, &endpoint).await?;
    let rotated = state
        .service()
        .rotate_webhook_secret(&user.actor(), &endpoint.id)
        .await?;
    Ok(views::webhook_secret(
        &user.session,
        &rotated.endpoint,
        &rotated.secret,
        true,
    ))
}

/// `POST …/{endpoint}/messages/{message}/resend`.
pub async fn resend_webhook_message(
    State(state): State<AppState>,
    Path((endpoint, message)): Path<(String, String)>,
    Posted { user, .. }: Posted<Empty>,
) -> Result<Response> {
    let endpoint = find_endpoint(&state, &user, &endpoint).await?;
    let message = MessageId::parse(&message).ok_or(Error::NotFound)?;
    state
        .service()
        .resend_webhook_message(&user.actor(), &endpoint.id, &message)
        .await?;
    Ok(see(&format!(
        "{}?done=webhook-resent",
        webhook_url(endpoint.id.as_str())
    ))
    .into_response())
}

/// `GET …/{endpoint}/delete`: asks first.
pub async fn confirm_delete_webhook(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(endpoint): Path<String>,
) -> Result<Markup> {
    let endpoint = find_endpoint(&state, &user, &endpoint).await?;
    Ok(views::confirm_delete_webhook(&user.session, &endpoint))
}

/// `POST …/{endpoint}/delete`.
pub async fn delete_webhook(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
    Posted { user, .. }: Posted<Empty>,
) -> Result<Response> {
    let endpoint = find_endpoint(&state, &user, &endpoint).await?;
    state
        .service()
        .delete_webhook_endpoint(&user.actor(), &endpoint.id)
        .await?;
    Ok(see(&format!("{WEBHOOKS}?done=webhook-deleted")).into_response())
}
