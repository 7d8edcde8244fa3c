//! Every route of the server, grouped by who calls it.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post, put};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::routes::{accounts, commits, files, meta, models, uploads, verification, webhooks};

/// The default largest JSON body accepted (a commit of many files is the biggest);
/// `--max-json-body` sets it (`limits.rs`).
pub const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    // The native API, spoken by the `granary` CLI.
    let api = Router::new()
        .route("/whoami", get(meta::whoami))
        .route("/stats", get(meta::stats))
        .route("/blobs/missing", post(uploads::missing_blobs))
        .route("/uploads", post(uploads::create_upload))
        .route(
            "/uploads/{id}",
            get(uploads::get_upload).delete(uploads::delete_upload),
        )
        .route(
            "/uploads/{id}/parts/{n}",
            put(uploads::put_part).layer(DefaultBodyLimit::disable()),
        )
        .route("/uploads/{id}/complete", post(uploads::complete_upload))
        .route(
            "/tokens",
            post(accounts::create_token).get(accounts::list_tokens),
        )
        .route(
            "/tokens/{id}",
            axum::routing::delete(accounts::revoke_token),
        )
        .route("/orgs", post(accounts::create_org))
        .route("/orgs/{org}/members", get(accounts::list_members))
        .route(
            "/orgs/{org}/members/{user}",
            put(accounts::set_member).delete(accounts::remove_member),
        )
        .route("/repos", post(accounts::create_repo))
        .route("/audit", get(accounts::list_audit))
        .route("/invites", post(accounts::create_invite))
        .route("/models", get(models::list_models))
        .route(
            "/models/{owner}/{name}",
            get(models::get_model).delete(accounts::delete_repo),
        )
        .route(
            "/models/{owner}/{name}/settings",
            axum::routing::patch(accounts::update_settings),
        )
        .route(
            "/models/{owner}/{name}/license/accept",
            post(accounts::accept_license),
        )
        .route(
            "/models/{owner}/{name}/license/acceptances",
            get(accounts::list_acceptances),
        )
        .route(
            "/models/{owner}/{name}/commits",
            post(commits::create_commit),
        )
        .route("/models/{owner}/{name}/refs", get(models::list_refs))
        .route(
            "/models/{owner}/{name}/revisions/{rev}",
            get(models::get_revision),
        )
        .route(
            "/models/{owner}/{name}/revisions/{rev}/verification",
            get(verification::get_verification),
        )
        .route(
            "/models/{owner}/{name}/revisions/{rev}/verify",
            post(verification::request_verification),
        )
        .route(
            "/models/{owner}/{name}/manifest/{rev}",
            get(models::get_manifest),
        )
        .route("/models/{owner}/{name}/log/{rev}", get(models::get_log))
        .route(
            "/models/{owner}/{name}/tags/{tag}",
            put(models::put_tag).delete(models::delete_tag),
        )
        .route(
            "/models/{owner}/{name}/files/{rev}/{*path}",
            get(files::download_file),
        )
        // Webhooks of one model, and of every model of a namespace (docs/API.md).
        .route(
            "/models/{owner}/{name}/webhooks",
            post(webhooks::create_model_webhook).get(webhooks::list_model_webhooks),
        )
        .route(
            "/models/{owner}/{name}/webhooks/{id}",
            axum::routing::delete(webhooks::delete_model_webhook),
        )
        .route(
            "/models/{owner}/{name}/webhooks/{id}/test",
            post(webhooks::test_model_webhook),
        )
        .route(
            "/models/{owner}/{name}/webhooks/{id}/deliveries",
            get(webhooks::list_model_deliveries),
        )
        .route(
            "/namespaces/{ns}/webhooks",
            post(webhooks::create_namespace_webhook).get(webhooks::list_namespace_webhooks),
        )
        .route(
            "/namespaces/{ns}/webhooks/{id}",
            axum::routing::delete(webhooks::delete_namespace_webhook),
        )
        .route(
            "/namespaces/{ns}/webhooks/{id}/test",
            post(webhooks::test_namespace_webhook),
        )
        .route(
            "/namespaces/{ns}/webhooks/{id}/deliveries",
            get(webhooks::list_namespace_deliveries),
        );

    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/healthz", get(meta::healthz))
        .nest("/api/v1", api)
        .merge(crate::routes::hf::router()) // The Hugging Face Hub-compatible API (docs/HF.md).
        .merge(crate::routes::xet::router()) // The Xet CAS of the Hub clients (docs/HF.md, "Xet").
        .merge(crate::web::router()) // The web pages for browsers (docs/WEB.md).
        .fallback(|| async {
            crate::error::AppError::NotFound("no such endpoint: see docs/API.md".into())
        })
        .layer(DefaultBodyLimit::max(state.config.limits.max_json_body))
        // Token rate, request and idle timeouts (limits.rs).
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::limits::enforce))
        // The client address and forwarded headers from trusted proxies only; HSTS (client.rs).
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::client::identify))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
