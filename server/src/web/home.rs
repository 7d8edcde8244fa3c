//! `/`: the search box and three short lists: newest, most downloaded and
//! recently verified models.

use axum::extract::State;
use serde::Serialize;

use super::models::{ModelItem, item};
use super::{OrPage, PageResult, page};
use crate::app::AppState;
use crate::db::web::{self as q, Search, Sort};

/// How many models each list of the home page shows.
const PER_LIST: u64 = 8;

#[derive(Serialize)]
struct HomePage {
    title: &'static str,
    newest: Vec<ModelItem>,
    popular: Vec<ModelItem>,
    verified: Vec<ModelItem>,
    model_count: i64,
}

/// `GET /`.
pub async fn home(State(state): State<AppState>) -> PageResult {
    let db = &state.db;
    let by = |sort| Search {
        sort,
        ..Search::default()
    };
    let newest = q::search(db, &by(Sort::Updated), 0, Some(PER_LIST))
        .await
        .or_page(&state)?;
    let popular = q::search(db, &by(Sort::Downloads), 0, Some(PER_LIST))
        .await
        .or_page(&state)?;
    let verified = q::recently_verified(db, PER_LIST as u32)
        .await
        .or_page(&state)?;
    let model_count = q::count(db, &Search::default()).await.or_page(&state)?;
    page(
        &state,
        "home.html",
        &HomePage {
            title: "Granary",
            newest: newest.iter().map(item).collect(),
            popular: popular.iter().map(item).collect(),
            verified: verified.iter().map(item).collect(),
            model_count,
        },
    )
}
