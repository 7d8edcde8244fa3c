//! `/docs/signing`: the registry's signing keys, current and retired, and how
//! to check a pulled model with them (docs/SIGNING.md).

use axum::extract::State;
use serde::Serialize;

use super::{OrPage, PageResult, page, when};
use crate::app::AppState;

#[derive(Serialize)]
struct SigningPage {
    title: &'static str,
    keys: Vec<KeyView>,
}

#[derive(Serialize)]
struct KeyView {
    id: String,
    status: &'static str,
    pem: String,
    since: String,
    retired: Option<String>,
}

/// `GET /docs/signing`.
pub async fn keys_page(State(state): State<AppState>) -> PageResult {
    let keys = crate::db::signing::keys(&state.db)
        .await
        .or_page(&state)?
        .into_iter()
        .map(|k| KeyView {
            status: if k.retired_at.is_none() {
                "current"
            } else {
                "retired"
            },
            since: when(k.created_at).text,
            retired: k.retired_at.map(|t| when(t).text),
            id: k.id,
            pem: k.public_pem,
        })
        .collect();
    let ctx = SigningPage {
        title: "Signed revisions",
        keys,
    };
    page(&state, "signing.html", &ctx)
}
