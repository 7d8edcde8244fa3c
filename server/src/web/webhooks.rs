//! The webhooks section of a model's settings page: adding one (its secret shown once,
//! on the page that answers the form) and removing one. Thin over `webhooks/`, which
//! checks who may and what a receiver URL may be.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use granary_core::api::CreateWebhookRequest;

use super::account::{Fields, check_csrf, form_caller, settings_page};
use super::{OrPage, PageResult};
use crate::app::AppState;
use crate::error::Path;
use crate::error::model_id;
use crate::webhooks::{self, Scope};

/// `POST /{owner}/{name}/webhooks`: `url`, `events` (space- or comma-separated; empty: all).
pub async fn add_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> PageResult {
    check_csrf(&state, &headers, &form).or_page(&state)?;
    let caller = form_caller(&state, &headers).await.or_page(&state)?;
    let id = model_id(&owner, &name).or_page(&state)?;
    let scope = Scope::model(&state, &caller, &id).await.or_page(&state)?;
    let req = CreateWebhookRequest {
        url: form.get("url").cloned().unwrap_or_default(),
        secret: None,
        events: form
            .get("events")
            .map(|e| {
                e.split([' ', ','])
                    .filter(|k| !k.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    };
    let created = webhooks::create(&state, &caller, &scope, &req)
        .await
        .or_page(&state)?;
    settings_page(&state, &headers, &caller, &id, Some(created)).await
}

/// `POST /{owner}/{name}/webhooks/{id}/delete`.
pub async fn remove_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((owner, name, hook)): Path<(String, String, String)>,
    Form(form): Form<Fields>,
) -> PageResult {
    check_csrf(&state, &headers, &form).or_page(&state)?;
    let caller = form_caller(&state, &headers).await.or_page(&state)?;
    let id = model_id(&owner, &name).or_page(&state)?;
    let scope = Scope::model(&state, &caller, &id).await.or_page(&state)?;
    webhooks::delete(&state, &scope, &hook)
        .await
        .or_page(&state)?;
    Ok(Redirect::to(&format!(
        "/{}/{}/settings",
        super::seg(id.owner()),
        super::seg(id.name())
    ))
    .into_response())
}
