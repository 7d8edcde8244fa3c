//! Every route of the server, grouped by who calls it.

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use granary_core::api::{
    AcceptanceList, AuditLog, AuditQuery, CommitRequest, CreateOrgRequest, CreateRepoRequest,
    CreateTagRequest, CreateTokenRequest, CreateUploadRequest, CreateWebhookRequest,
    DeliveriesQuery, DeliveryList, Invite, LicenseAcceptance, Log, LogQuery, MemberList,
    Membership, MissingBlobsRequest, MissingBlobsResponse, ModelInfo, ModelList, ModelListQuery,
    NewToken, OrgInfo, PingQueued, RefInfo, RefQuery, Refs, RepoSettings, RevisionInfo,
    ServerStats, SetMemberRequest, TokenList, UpdateSettingsRequest, UploadStatus,
    VerificationQueued, VerificationReport, WebhookInfo, WebhookList, WhoAmI,
};
use granary_core::manifest::Manifest;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::routes::openapi::{self, Endpoint};
use crate::routes::{accounts, commits, files, meta, models, uploads, verification, webhooks};

/// The default largest JSON body accepted (a commit of many files is the biggest);
/// `--max-json-body` sets it (`limits.rs`).
pub const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

/// The native API, spoken by the `granary` CLI: every route under `/api/v1`, with the
/// `core::api` types it takes and answers. The router and `GET /api/v1/openapi.json`
/// (routes/openapi.rs) are both built from this table and nothing else.
pub fn native_routes() -> Vec<Endpoint> {
    use StatusCode as S;
    vec![
        Endpoint::get("/openapi.json", "This description", openapi::get_openapi)
            .answers_bytes(S::OK, "application/json"),
        Endpoint::get("/whoami", "Who the token belongs to", meta::whoami).answers::<WhoAmI>(S::OK),
        Endpoint::get("/stats", "Transfer counters (server admins)", meta::stats)
            .answers::<ServerStats>(S::OK),
        // Uploads: blobs, then a commit.
        Endpoint::post(
            "/blobs/missing",
            "The blobs to send",
            uploads::missing_blobs,
        )
        .takes::<MissingBlobsRequest>()
        .answers::<MissingBlobsResponse>(S::OK),
        Endpoint::post(
            "/uploads",
            "Start or find an upload",
            uploads::create_upload,
        )
        .takes::<CreateUploadRequest>()
        .answers::<UploadStatus>(S::OK),
        Endpoint::get(
            "/uploads/{id}",
            "Where an upload stands",
            uploads::get_upload,
        )
        .answers::<UploadStatus>(S::OK),
        Endpoint::delete("/uploads/{id}", "Abandon an upload", uploads::delete_upload)
            .answers_nothing(S::NO_CONTENT),
        Endpoint::put(
            "/uploads/{id}/parts/{n}",
            "Send one part",
            uploads::put_part,
        )
        .map_handler(|h| h.layer(DefaultBodyLimit::disable()))
        .takes_bytes()
        .answers::<UploadStatus>(S::OK),
        Endpoint::post(
            "/uploads/{id}/complete",
            "Check and store the blob",
            uploads::complete_upload,
        )
        .answers::<UploadStatus>(S::OK),
        // Accounts.
        Endpoint::post("/tokens", "Create a token", accounts::create_token)
            .takes::<CreateTokenRequest>()
            .answers::<NewToken>(S::CREATED),
        Endpoint::get("/tokens", "The caller's tokens", accounts::list_tokens)
            .answers::<TokenList>(S::OK),
        Endpoint::delete("/tokens/{id}", "Revoke a token", accounts::revoke_token)
            .answers_nothing(S::NO_CONTENT),
        Endpoint::post("/orgs", "Create an organisation", accounts::create_org)
            .takes::<CreateOrgRequest>()
            .answers::<OrgInfo>(S::CREATED),
        Endpoint::get(
            "/orgs/{org}/members",
            "An organisation's members",
            accounts::list_members,
        )
        .answers::<MemberList>(S::OK),
        Endpoint::put(
            "/orgs/{org}/members/{user}",
            "Add a member or set its role",
            accounts::set_member,
        )
        .takes::<SetMemberRequest>()
        .answers::<Membership>(S::OK),
        Endpoint::delete(
            "/orgs/{org}/members/{user}",
            "Remove a member",
            accounts::remove_member,
        )
        .answers_nothing(S::NO_CONTENT),
        Endpoint::post("/repos", "Create an empty model", accounts::create_repo)
            .takes::<CreateRepoRequest>()
            .answers::<RepoSettings>(S::CREATED),
        Endpoint::get(
            "/audit",
            "The audit log (server admins)",
            accounts::list_audit,
        )
        .query::<AuditQuery>()
        .answers::<AuditLog>(S::OK),
        Endpoint::post(
            "/invites",
            "A one-time sign-up code (server admins)",
            accounts::create_invite,
        )
        .answers::<Invite>(S::CREATED),
        // Models.
        Endpoint::get("/models", "List models", models::list_models)
            .query::<ModelListQuery>()
            .answers::<ModelList>(S::OK),
        Endpoint::get(
            "/models/{owner}/{name}",
            "A model and a revision of it",
            models::get_model,
        )
        .query::<RefQuery>()
        .answers::<ModelInfo>(S::OK),
        Endpoint::delete(
            "/models/{owner}/{name}",
            "Delete a model",
            accounts::delete_repo,
        )
        .answers_nothing(S::NO_CONTENT),
        Endpoint::patch(
            "/models/{owner}/{name}/settings",
            "Change visibility or gate",
            accounts::update_settings,
        )
        .takes::<UpdateSettingsRequest>()
        .answers::<RepoSettings>(S::OK),
        Endpoint::post(
            "/models/{owner}/{name}/license/accept",
            "Accept a gated model's license",
            accounts::accept_license,
        )
        .answers::<LicenseAcceptance>(S::OK),
        Endpoint::get(
            "/models/{owner}/{name}/license/acceptances",
            "Who accepted the license",
            accounts::list_acceptances,
        )
        .answers::<AcceptanceList>(S::OK),
        Endpoint::post(
            "/models/{owner}/{name}/commits",
            "Publish a revision",
            commits::create_commit,
        )
        .takes::<CommitRequest>()
        .answers::<RevisionInfo>(S::CREATED),
        Endpoint::get(
            "/models/{owner}/{name}/refs",
            "Branches and tags",
            models::list_refs,
        )
        .answers::<Refs>(S::OK),
        Endpoint::get(
            "/models/{owner}/{name}/revisions/{rev}",
            "A revision",
            models::get_revision,
        )
        .answers::<RevisionInfo>(S::OK),
        Endpoint::get(
            "/models/{owner}/{name}/revisions/{rev}/verification",
            "A revision's verification reports",
            verification::get_verification,
        )
        .answers_list::<VerificationReport>(S::OK),
        Endpoint::post(
            "/models/{owner}/{name}/revisions/{rev}/verify",
            "Queue a verification re-run",
            verification::request_verification,
        )
        .answers::<VerificationQueued>(S::ACCEPTED),
        Endpoint::get(
            "/models/{owner}/{name}/manifest/{rev}",
            "A revision's canonical manifest",
            models::get_manifest,
        )
        .answers::<Manifest>(S::OK),
        Endpoint::get(
            "/models/{owner}/{name}/log/{rev}",
            "History, newest first",
            models::get_log,
        )
        .query::<LogQuery>()
        .answers::<Log>(S::OK),
        Endpoint::put(
            "/models/{owner}/{name}/tags/{tag}",
            "Create or move a tag",
            models::put_tag,
        )
        .takes::<CreateTagRequest>()
        .answers::<RefInfo>(S::CREATED)
        .answers::<RefInfo>(S::OK),
        Endpoint::delete(
            "/models/{owner}/{name}/tags/{tag}",
            "Delete a tag",
            models::delete_tag,
        )
        .answers_nothing(S::NO_CONTENT),
        Endpoint::get(
            "/models/{owner}/{name}/files/{rev}/{*path}",
            "Download a file (HEAD too)",
            files::download_file,
        )
        .answers_bytes(S::OK, "application/octet-stream")
        .answers_bytes(S::PARTIAL_CONTENT, "application/octet-stream"),
        // Webhooks of one model, and of every model of a namespace (docs/API.md).
        Endpoint::post(
            "/models/{owner}/{name}/webhooks",
            "Register a webhook of a model",
            webhooks::create_model_webhook,
        )
        .takes::<CreateWebhookRequest>()
        .answers::<WebhookInfo>(S::CREATED),
        Endpoint::get(
            "/models/{owner}/{name}/webhooks",
            "A model's webhooks",
            webhooks::list_model_webhooks,
        )
        .answers::<WebhookList>(S::OK),
        Endpoint::delete(
            "/models/{owner}/{name}/webhooks/{id}",
            "Remove a webhook",
            webhooks::delete_model_webhook,
        )
        .answers_nothing(S::NO_CONTENT),
        Endpoint::post(
            "/models/{owner}/{name}/webhooks/{id}/test",
            "Send a webhook.ping",
            webhooks::test_model_webhook,
        )
        .answers::<PingQueued>(S::ACCEPTED),
        Endpoint::get(
            "/models/{owner}/{name}/webhooks/{id}/deliveries",
            "A webhook's deliveries",
            webhooks::list_model_deliveries,
        )
        .query::<DeliveriesQuery>()
        .answers::<DeliveryList>(S::OK),
        Endpoint::post(
            "/namespaces/{ns}/webhooks",
            "Register a webhook of a namespace",
            webhooks::create_namespace_webhook,
        )
        .takes::<CreateWebhookRequest>()
        .answers::<WebhookInfo>(S::CREATED),
        Endpoint::get(
            "/namespaces/{ns}/webhooks",
            "A namespace's webhooks",
            webhooks::list_namespace_webhooks,
        )
        .answers::<WebhookList>(S::OK),
        Endpoint::delete(
            "/namespaces/{ns}/webhooks/{id}",
            "Remove a webhook",
            webhooks::delete_namespace_webhook,
        )
        .answers_nothing(S::NO_CONTENT),
        Endpoint::post(
            "/namespaces/{ns}/webhooks/{id}/test",
            "Send a webhook.ping",
            webhooks::test_namespace_webhook,
        )
        .answers::<PingQueued>(S::ACCEPTED),
        Endpoint::get(
            "/namespaces/{ns}/webhooks/{id}/deliveries",
            "A webhook's deliveries",
            webhooks::list_namespace_deliveries,
        )
        .query::<DeliveriesQuery>()
        .answers::<DeliveryList>(S::OK),
    ]
}

/// The native API's router: the table folded, and its description for `openapi.json`.
fn native_api(routes: Vec<Endpoint>) -> Router<AppState> {
    let document = openapi::Document::new(&routes);
    routes
        .into_iter()
        .fold(Router::new(), |api, r| api.route(r.path, r.handler))
        .layer(Extension(document))
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/healthz", get(meta::healthz))
        .nest("/api/v1", native_api(native_routes()))
        .merge(crate::routes::hf::router()) // The Hugging Face Hub-compatible API (docs/HF.md).
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
