//! Health, identity and counters.

use std::sync::atomic::Ordering;

use axum::extract::State;
use granary_core::api::{ServerStats, WhoAmI};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, Json};

/// `GET /healthz`: `ok` once the database answers.
pub async fn healthz(State(state): State<AppState>) -> AppResult<&'static str> {
    state.db.ping().await?;
    Ok("ok")
}

/// `GET /api/v1/whoami`.
pub async fn whoami(caller: Caller) -> AppResult<Json<WhoAmI>> {
    let user = caller.require_user()?;
    Ok(Json(WhoAmI {
        name: user.name.clone(),
        admin: user.is_admin,
    }))
}

/// `GET /api/v1/stats` (server admins): this process's transfer counters.
pub async fn stats(State(state): State<AppState>, caller: Caller) -> AppResult<Json<ServerStats>> {
    caller.require_user()?;
    if !caller.is_admin() {
        return Err(AppError::Forbidden(
            "the transfer counters are for server administrators".into(),
        ));
    }
    let s = &state.stats;
    Ok(Json(ServerStats {
        blob_bytes_received: s.blob_bytes_received.load(Ordering::Relaxed),
        file_bytes_sent: s.file_bytes_sent.load(Ordering::Relaxed),
        file_requests: s.file_requests.load(Ordering::Relaxed),
        file_redirects: s.file_redirects.load(Ordering::Relaxed),
        xet_bytes_received: s.xet_bytes_received.load(Ordering::Relaxed),
    }))
}
