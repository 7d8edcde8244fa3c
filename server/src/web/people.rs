//! `/{owner}`: a user's or an organisation's page with their models. Private
//! models show only to those with a role under the owner (access.rs).

use axum::extract::State;
use serde::Serialize;

use super::models::{ModelItem, item};
use super::{OrPage, PageResult, page};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{users, web as q};
use crate::error::{AppError, Path};

#[derive(Serialize)]
struct OwnerPage {
    title: String,
    owner: String,
    is_user: bool,
    is_org: bool,
    /// An organisation's members and roles, for its members only (as on the API).
    members: Option<Vec<Member>>,
    models: Vec<ModelItem>,
}

#[derive(Serialize)]
struct Member {
    name: String,
    role: String,
}

/// `GET /{owner}`.
pub async fn owner(
    State(state): State<AppState>,
    caller: Caller,
    Path(owner): Path<String>,
) -> PageResult {
    let not_found = || AppError::NotFound(format!("There is no user or organisation `{owner}`."));
    granary_core::names::validate_owner(&owner)
        .map_err(|_| not_found())
        .or_page(&state)?;
    let user = users::find_by_name(&state.db, &owner)
        .await
        .or_page(&state)?;
    // Members of an organisation see its private models, as everywhere else (access.rs).
    let sees_private = crate::access::role_on(&state.db, &caller, &owner)
        .await
        .or_page(&state)?
        .is_some();
    let models = q::owner_models(&state.db, &owner, sees_private)
        .await
        .or_page(&state)?;
    if user.is_none() && models.is_empty() {
        return Err(not_found()).or_page(&state);
    }
    let name = user
        .as_ref()
        .map(|u| u.name.clone())
        .or_else(|| models.first().map(|m| m.owner.clone()))
        .unwrap_or(owner);
    let org = user.as_ref().filter(|u| u.kind == "org");
    let members = match org {
        Some(o) if sees_private => Some(
            crate::db::orgs::members(&state.db, &o.id)
                .await
                .or_page(&state)?
                .into_iter()
                .map(|m| Member {
                    name: m.name,
                    role: m.role,
                })
                .collect(),
        ),
        _ => None,
    };
    page(
        &state,
        "owner.html",
        &OwnerPage {
            title: name.clone(),
            owner: name,
            is_user: user.as_ref().is_some_and(|u| u.kind != "org"),
            is_org: org.is_some(),
            members,
            models: models.iter().map(item).collect(),
        },
    )
}
