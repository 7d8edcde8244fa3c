//! Who is looking at a page: the signed-in user of the browser's session, for
//! the header's user menu on every page (and the error pages).
//!
//! A middleware on the web routes reads the session cookie once per request
//! and keeps the answer in a task-local for the duration of the handler, so
//! that `Web::render` can add it to every template's context without each
//! handler passing it along. It only ever shows a name: what a request may do
//! is still decided by the `Caller` extractor and the CSRF checks.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::{cookie_in, session_caller};
use crate::session::COOKIE;

/// The signed-in user a page is shown to.
#[derive(Debug, Clone, Serialize)]
pub struct Viewer {
    pub name: String,
    /// The session's CSRF token, for the header's sign-out form.
    pub csrf: String,
}

tokio::task_local! {
    static VIEWER: Option<Viewer>;
}

/// Middleware: finds the viewer of a page request and keeps it for `current`.
pub async fn identify(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let viewer = match cookie_in(req.headers(), COOKIE) {
        Some(jwt) => session_caller(&state, &jwt, granary_core::time::now_ms())
            .await
            .ok()
            .flatten()
            .and_then(|c| c.user)
            .map(|user| Viewer {
                name: user.name,
                csrf: super::account::csrf_token(&state, req.headers()).0,
            }),
        None => None,
    };
    VIEWER.scope(viewer, next.run(req)).await
}

/// The viewer of the page being rendered (none outside a page request).
pub fn current() -> Option<Viewer> {
    VIEWER.try_with(Clone::clone).ok().flatten()
}
