//! The accept loop: each connection is admitted by the connection caps, given
//! the first-bytes deadline, and served by the router with the idle timeouts of
//! `limits.rs`. It runs the connections itself (hyper-util) so that it can set
//! the header-read timeout, which `axum::serve` does not expose.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::app::{App, AppState};

/// Serves `app` on `listener` until `shutdown` resolves, then drains requests.
/// HTTP/1 and HTTP/2; connections over the caps are closed at once, and those
/// that send no request bytes for the idle timeout (`connections.rs`) are
/// closed then.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let idle = app.config.limits.idle_timeout();
    let caps = crate::connections::ConnectionCaps::new(&app.config.limits);
    let router = crate::router::router(AppState(app));
    let (signal_tx, signal_rx) = tokio::sync::watch::channel(());
    let (close_tx, close_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = caps.admit(addr.ip()) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |req: Request<hyper::body::Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(addr));
                req
            });
        let service = TowerToHyperService::new(service);
        let mut signal_rx = signal_rx.clone();
        let close_rx = close_rx.clone();
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(idle);
            // A silent HTTP/2 peer that does not answer pings is closed too.
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(idle)
                .keep_alive_timeout(idle.unwrap_or(Duration::from_secs(20)));
            let io = TokioIo::new(crate::connections::VersionDeadline::new(stream, idle));
            let conn = builder.serve_connection_with_upgrades(io, service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, %addr, "connection ended with an error");
                    }
                }
                _ = signal_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            drop(close_rx);
            drop(slot);
        });
    }
    drop(listener);
    let _ = signal_tx.send(());
    drop(close_rx);
    close_tx.closed().await;
    Ok(())
}
