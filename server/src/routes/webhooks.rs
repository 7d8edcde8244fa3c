//! `…/webhooks`: registering, listing, removing and testing webhooks of a model
//! (`/api/v1/models/{owner}/{name}/webhooks`) or of a namespace
//! (`/api/v1/namespaces/{ns}/webhooks`), and listing their deliveries. Thin over
//! `webhooks/`, which decides who may and what a receiver may be.

use axum::extract::State;
use axum::http::StatusCode;
use granary_core::api::{
    CreateWebhookRequest, DeliveriesQuery, DeliveryList, PingQueued, WebhookInfo, WebhookList,
};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppResult, Json, ModelPath, Path, Query};
use crate::routes::page_limit;
use crate::webhooks::{self, Scope};

/// `POST /api/v1/models/{owner}/{name}/webhooks`.
pub async fn create_model_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(model): ModelPath,
    Json(req): Json<CreateWebhookRequest>,
) -> AppResult<(StatusCode, Json<WebhookInfo>)> {
    let scope = Scope::model(&state, &caller, &model).await?;
    let info = webhooks::create(&state, &caller, &scope, &req).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `GET /api/v1/models/{owner}/{name}/webhooks`.
pub async fn list_model_webhooks(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(model): ModelPath,
) -> AppResult<Json<WebhookList>> {
    let scope = Scope::model(&state, &caller, &model).await?;
    Ok(Json(webhooks::list(&state, &scope).await?))
}

/// `DELETE /api/v1/models/{owner}/{name}/webhooks/{id}`.
pub async fn delete_model_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(model): ModelPath,
    Path((_, _, id)): Path<(String, String, String)>,
) -> AppResult<StatusCode> {
    let scope = Scope::model(&state, &caller, &model).await?;
    webhooks::delete(&state, &scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/models/{owner}/{name}/webhooks/{id}/test`.
pub async fn test_model_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(model): ModelPath,
    Path((_, _, id)): Path<(String, String, String)>,
) -> AppResult<(StatusCode, Json<PingQueued>)> {
    let scope = Scope::model(&state, &caller, &model).await?;
    let event = webhooks::ping(&state, &caller, &scope, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(PingQueued { event_id: event })))
}

/// `GET /api/v1/models/{owner}/{name}/webhooks/{id}/deliveries?limit=`.
pub async fn list_model_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ModelPath(model): ModelPath,
    Path((_, _, id)): Path<(String, String, String)>,
    Query(q): Query<DeliveriesQuery>,
) -> AppResult<Json<DeliveryList>> {
    let scope = Scope::model(&state, &caller, &model).await?;
    let list = webhooks::deliveries(&state, &scope, &id, page_limit(q.limit)).await?;
    Ok(Json(list))
}

/// `POST /api/v1/namespaces/{ns}/webhooks`.
pub async fn create_namespace_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
    Json(req): Json<CreateWebhookRequest>,
) -> AppResult<(StatusCode, Json<WebhookInfo>)> {
    let scope = Scope::namespace(&state, &caller, &ns).await?;
    let info = webhooks::create(&state, &caller, &scope, &req).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `GET /api/v1/namespaces/{ns}/webhooks`.
pub async fn list_namespace_webhooks(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
) -> AppResult<Json<WebhookList>> {
    let scope = Scope::namespace(&state, &caller, &ns).await?;
    Ok(Json(webhooks::list(&state, &scope).await?))
}

/// `DELETE /api/v1/namespaces/{ns}/webhooks/{id}`.
pub async fn delete_namespace_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, id)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    let scope = Scope::namespace(&state, &caller, &ns).await?;
    webhooks::delete(&state, &scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/namespaces/{ns}/webhooks/{id}/test`.
pub async fn test_namespace_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, id)): Path<(String, String)>,
) -> AppResult<(StatusCode, Json<PingQueued>)> {
    let scope = Scope::namespace(&state, &caller, &ns).await?;
    let event = webhooks::ping(&state, &caller, &scope, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(PingQueued { event_id: event })))
}

/// `GET /api/v1/namespaces/{ns}/webhooks/{id}/deliveries?limit=`.
pub async fn list_namespace_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, id)): Path<(String, String)>,
    Query(q): Query<DeliveriesQuery>,
) -> AppResult<Json<DeliveryList>> {
    let scope = Scope::namespace(&state, &caller, &ns).await?;
    let list = webhooks::deliveries(&state, &scope, &id, page_limit(q.limit)).await?;
    Ok(Json(list))
}
