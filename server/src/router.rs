//! Every route of the server, grouped by who calls it.

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use granary_core::api::{
    AcceptanceList, AuditLog, AuditQuery, CommitRequest, ConsistencyQuery, CreateBranchRequest,
    CreateOrgRequest, CreateRepoRequest, CreateTagRequest, CreateTokenRequest, CreateUploadRequest,
    CreateWebhookRequest, DeliveriesQuery, DeliveryList, Invite, LicenseAcceptance, Log,
    LogConsistency, LogQuery, MemberList, Membership, MissingBlobsRequest, MissingBlobsResponse,
    ModelInfo, ModelList, ModelListQuery, NewToken, OrgInfo, PingQueued, RefInfo, RefQuery, Refs,
    RepoSettings, RevisionInfo, RevisionLogProof, RevisionLogQuery, ServerStats, SetMemberRequest,
    SignedTreeHead, SigningKeys, TokenList, UpdateSettingsRequest, UploadStatus,
    VerificationQueued, VerificationReport, WebhookInfo, WebhookList, WhoAmI,
};
use granary_core::manifest::Manifest;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::routes::openapi::{self, Endpoint};
use crate::routes::{
    accounts, commits, files, meta, models, signing, uploads, verification, webhooks,
};

/// The default largest JSON body accepted (a commit of many files is the biggest);
/// `--max-json-body` sets it (`limits.rs`).
pub const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

/// The native API, spoken by the `granary` CLI: every route under `/api/v1`, with the
/// `core::api` types it takes and answers. The router and `GET /api/v1/openapi.json`
/// (routes/openapi.rs) are both built from this table and nothing else.
pub fn native_routes() -> Vec<Endpoint> {
    use StatusCode as S;
    vec![
        Endpoint::get("/openapi.json", openapi::get_openapi)
            .summary("This description")
            .answers_bytes(S::OK, "application/json"),
        Endpoint::get("/whoami", meta::whoami)
            .summary("Who the token belongs to")
            .answers::<WhoAmI>(S::OK),
        Endpoint::get("/stats", meta::stats)
            .summary("Transfer counters (server admins)")
            .answers::<ServerStats>(S::OK),
        Endpoint::get("/keys", signing::list_keys)
            .summary("The registry's signing keys")
            .answers::<SigningKeys>(S::OK),
        Endpoint::get("/log/head", signing::log_head)
            .summary("The transparency log's signed head")
            .answers::<SignedTreeHead>(S::OK),
        Endpoint::get("/log/consistency", signing::log_consistency)
            .summary("A consistency proof from an earlier log size")
            .query::<ConsistencyQuery>()
            .answers::<LogConsistency>(S::OK),
        // Uploads: blobs, then a commit.
        Endpoint::post("/blobs/missing", uploads::missing_blobs)
            .summary("The blobs to send")
            .takes::<MissingBlobsRequest>()
            .answers::<MissingBlobsResponse>(S::OK),
        Endpoint::post("/uploads", uploads::create_upload)
            .summary("Start or find an upload")
            .takes::<CreateUploadRequest>()
            .answers::<UploadStatus>(S::OK),
        Endpoint::get("/uploads/{id}", uploads::get_upload)
            .summary("Where an upload stands")
            .answers::<UploadStatus>(S::OK),
        Endpoint::delete("/uploads/{id}", uploads::delete_upload)
            .summary("Abandon an upload")
            .answers_nothing(S::NO_CONTENT),
        Endpoint::put("/uploads/{id}/parts/{n}", uploads::put_part)
            .summary("Send one part")
            .map_handler(|h| h.layer(DefaultBodyLimit::disable()))
            .takes_bytes()
            .answers::<UploadStatus>(S::OK),
        Endpoint::post("/uploads/{id}/complete", uploads::complete_upload)
            .summary("Check and store the blob")
            .answers::<UploadStatus>(S::OK),
        // Accounts.
        Endpoint::post("/tokens", accounts::create_token)
            .summary("Create a token")
            .takes::<CreateTokenRequest>()
            .answers::<NewToken>(S::CREATED),
        Endpoint::get("/tokens", accounts::list_tokens)
            .summary("The caller's tokens")
            .answers::<TokenList>(S::OK),
        Endpoint::delete("/tokens/{id}", accounts::revoke_token)
            .summary("Revoke a token")
            .answers_nothing(S::NO_CONTENT),
        Endpoint::post("/orgs", accounts::create_org)
            .summary("Create an organisation")
            .takes::<CreateOrgRequest>()
            .answers::<OrgInfo>(S::CREATED),
        Endpoint::get("/orgs/{org}/members", accounts::list_members)
            .summary("An organisation's members")
            .answers::<MemberList>(S::OK),
        Endpoint::put("/orgs/{org}/members/{user}", accounts::set_member)
            .summary("Add a member or set its role")
            .takes::<SetMemberRequest>()
            .answers::<Membership>(S::OK),
        Endpoint::delete("/orgs/{org}/members/{user}", accounts::remove_member)
            .summary("Remove a member")
            .answers_nothing(S::NO_CONTENT),
        Endpoint::post("/repos", accounts::create_repo)
            .summary("Create an empty model")
            .takes::<CreateRepoRequest>()
            .answers::<RepoSettings>(S::CREATED),
        Endpoint::get("/audit", accounts::list_audit)
            .summary("The audit log (server admins)")
            .query::<AuditQuery>()
            .answers::<AuditLog>(S::OK),
        Endpoint::post("/invites", accounts::create_invite)
            .summary("A one-time sign-up code (server admins)")
            .answers::<Invite>(S::CREATED),
        // Models.
        Endpoint::get("/models", models::list_models)
            .summary("List models")
            .query::<ModelListQuery>()
            .answers::<ModelList>(S::OK),
        Endpoint::get("/models/{owner}/{name}", models::get_model)
            .summary("A model and a revision of it")
            .query::<RefQuery>()
            .answers::<ModelInfo>(S::OK),
        Endpoint::delete("/models/{owner}/{name}", accounts::delete_repo)
            .summary("Delete a model")
            .answers_nothing(S::NO_CONTENT),
        Endpoint::patch("/models/{owner}/{name}/settings", accounts::update_settings)
            .summary("Change visibility or gate")
            .takes::<UpdateSettingsRequest>()
            .answers::<RepoSettings>(S::OK),
        Endpoint::post(
            "/models/{owner}/{name}/license/accept",
            accounts::accept_license,
        )
        .summary("Accept a gated model's license")
        .answers::<LicenseAcceptance>(S::OK),
        Endpoint::get(
            "/models/{owner}/{name}/license/acceptances",
            accounts::list_acceptances,
        )
        .summary("Who accepted the license")
        .answers::<AcceptanceList>(S::OK),
        Endpoint::post("/models/{owner}/{name}/commits", commits::create_commit)
            .summary("Publish a revision")
            .takes::<CommitRequest>()
            .answers::<RevisionInfo>(S::CREATED),
        Endpoint::get("/models/{owner}/{name}/refs", models::list_refs)
            .summary("Branches and tags")
            .answers::<Refs>(S::OK),
        Endpoint::get(
            "/models/{owner}/{name}/revisions/{rev}",
            models::get_revision,
        )
        .summary("A revision")
        .answers::<RevisionInfo>(S::OK),
        Endpoint::get(
            "/models/{owner}/{name}/revisions/{rev}/verification",
            verification::get_verification,
        )
        .summary("A revision's verification reports")
        .answers_list::<VerificationReport>(S::OK),
        Endpoint::post(
            "/models/{owner}/{name}/revisions/{rev}/verify",
            verification::request_verification,
        )
        .summary("Queue a verification re-run")
        .answers::<VerificationQueued>(S::ACCEPTED),
        Endpoint::get(
            "/models/{owner}/{name}/manifest/{rev}",
            models::get_manifest,
        )
        .summary("A revision's canonical manifest")
        .answers::<Manifest>(S::OK),
        Endpoint::get(
            "/models/{owner}/{name}/revisions/{rev}/signature",
            signing::get_signature,
        )
        .summary("A revision's signature (an OMS bundle)")
        .answers_bytes(S::OK, "application/json"),
        Endpoint::get(
            "/models/{owner}/{name}/revisions/{rev}/log",
            signing::revision_log,
        )
        .summary("A revision's transparency-log entry and inclusion proof")
        .query::<RevisionLogQuery>()
        .answers::<RevisionLogProof>(S::OK),
        Endpoint::get("/models/{owner}/{name}/log/{rev}", models::get_log)
            .summary("History, newest first")
            .query::<LogQuery>()
            .answers::<Log>(S::OK),
        Endpoint::put("/models/{owner}/{name}/tags/{tag}", models::put_tag)
            .summary("Create or move a tag")
            .takes::<CreateTagRequest>()
            .answers::<RefInfo>(S::CREATED)
            .answers::<RefInfo>(S::OK),
        Endpoint::delete("/models/{owner}/{name}/tags/{tag}", models::delete_tag)
            .summary("Delete a tag")
            .answers_nothing(S::NO_CONTENT),
        Endpoint::put(
            "/models/{owner}/{name}/branches/{branch}",
            models::put_branch,
        )
        .summary("Create a branch")
        .takes::<CreateBranchRequest>()
        .answers::<RefInfo>(S::CREATED),
        Endpoint::delete(
            "/models/{owner}/{name}/branches/{branch}",
            models::delete_branch,
        )
        .summary("Delete a branch (not the default one)")
        .answers_nothing(S::NO_CONTENT),
        Endpoint::get(
            "/models/{owner}/{name}/files/{rev}/{*path}",
            files::download_file,
        )
        .summary("Download a file (HEAD too)")
        .answers_bytes(S::OK, "application/octet-stream")
        .answers_bytes(S::PARTIAL_CONTENT, "application/octet-stream"),
        // Webhooks of one model, and of every model of a namespace (docs/API.md).
        Endpoint::post(
            "/models/{owner}/{name}/webhooks",
            webhooks::create_model_webhook,
        )
        .summary("Register a webhook of a model")
        .takes::<CreateWebhookRequest>()
        .answers::<WebhookInfo>(S::CREATED),
        Endpoint::get(
            "/models/{owner}/{name}/webhooks",
            webhooks::list_model_webhooks,
        )
        .summary("A model's webhooks")
        .answers::<WebhookList>(S::OK),
        Endpoint::delete(
            "/models/{owner}/{name}/webhooks/{id}",
            webhooks::delete_model_webhook,
        )
        .summary("Remove a webhook")
        .answers_nothing(S::NO_CONTENT),
        Endpoint::post(
            "/models/{owner}/{name}/webhooks/{id}/test",
            webhooks::test_model_webhook,
        )
        .summary("Send a webhook.ping")
        .answers::<PingQueued>(S::ACCEPTED),
        Endpoint::get(
            "/models/{owner}/{name}/webhooks/{id}/deliveries",
            webhooks::list_model_deliveries,
        )
        .summary("A webhook's deliveries")
        .query::<DeliveriesQuery>()
        .answers::<DeliveryList>(S::OK),
        Endpoint::post(
            "/namespaces/{ns}/webhooks",
            webhooks::create_namespace_webhook,
        )
        .summary("Register a webhook of a namespace")
        .takes::<CreateWebhookRequest>()
        .answers::<WebhookInfo>(S::CREATED),
        Endpoint::get(
            "/namespaces/{ns}/webhooks",
            webhooks::list_namespace_webhooks,
        )
        .summary("A namespace's webhooks")
        .answers::<WebhookList>(S::OK),
        Endpoint::delete(
            "/namespaces/{ns}/webhooks/{id}",
            webhooks::delete_namespace_webhook,
        )
        .summary("Remove a webhook")
        .answers_nothing(S::NO_CONTENT),
        Endpoint::post(
            "/namespaces/{ns}/webhooks/{id}/test",
            webhooks::test_namespace_webhook,
        )
        .summary("Send a webhook.ping")
        .answers::<PingQueued>(S::ACCEPTED),
        Endpoint::get(
            "/namespaces/{ns}/webhooks/{id}/deliveries",
            webhooks::list_namespace_deliveries,
        )
        .summary("A webhook's deliveries")
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
        .merge(crate::routes::xet::router()) // The Xet CAS of the Hub clients (docs/HF.md, "Xet").
        .merge(crate::web::router(state.clone())) // The web pages for browsers (docs/WEB.md).
        .fallback(crate::web::not_found) // Styled for browsers, JSON for clients.
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
