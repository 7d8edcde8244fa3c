//! The Granary registry server: the native API over a database and an object
//! store. `router.rs` lists every route; `app.rs` holds the shared state.

pub mod access;
pub mod accounts;
pub mod app;
pub mod auth;
pub mod client;
pub mod config;
pub mod connections;
pub mod data_dir;
pub mod db;
pub mod downloads;
pub mod error;
pub mod ingest;
pub mod limits;
pub mod listener;
pub mod maintenance;
pub mod passwords;
pub mod publish;
pub mod quota;
pub mod ratelimit;
pub mod refs;
pub mod repos;
pub mod router;
pub mod routes;
pub mod session;
pub mod signing;
pub mod storage;
pub mod tokens;
pub mod transparency;
pub mod url_keys;
pub mod verification;
pub mod web;
pub mod webhooks;
pub mod xet;

use std::sync::Arc;

use tokio::net::TcpListener;

pub use app::{App, AppState};
pub use config::Config;

/// Serves `app` on `listener` until `shutdown` resolves, then drains requests
/// (with the connection limits of `limits.rs`). Counted downloads are written
/// every few seconds meanwhile, and once more when the requests are drained.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The registry's signing key is checked against the database's, and
    // revisions older than signing are signed, before the first request.
    publish::signatures::start(&app)
        .await
        .map_err(std::io::Error::other)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let counter = tokio::spawn(downloads::counter::run(app.clone(), async move {
        let _ = stopped.await;
    }));
    let served = listener::serve(app, listener, shutdown).await;
    let _ = stop.send(());
    let _ = counter.await;
    served
}
