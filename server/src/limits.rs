//! Limits that keep one caller from exhausting the server, each configurable
//! and each refusal naming the limit it hit (docs/API.md, "Limits"):
//!
//! - **request timeout**: a request whose body is small (everything but the
//!   routes in [`streams_request_body`]) must be answered within
//!   `request_timeout_secs`, else `408`. Downloads are not cut: their handler
//!   returns at once and the body streams after it.
//! - **idle timeout**: a connection that sends no header bytes, or a request
//!   body that sends no bytes, for `idle_timeout_secs` is answered `408` (with
//!   `Connection: close`) or cut. This bounds trickling clients on the
//!   streaming routes that have no request timeout.
//! - **minimum body rate**: a request body must average `min_body_rate` bytes
//!   per second over each window of `idle_timeout_secs` that the server spent
//!   waiting for it (time spent by the server itself is not counted), else
//!   `408`: a body trickled a byte at a time is never idle, yet ties a
//!   connection up for days.
//! - **connections**: caps on open connections, and a deadline for a new
//!   connection's first bytes (`connections.rs`).
//! - **request rates**: `token_rate_per_minute` requests per API token per
//!   minute, and `anonymous_rate_per_minute` per client address for requests
//!   without a token (`client.rs` tells the address), else `429` with
//!   `Retry-After`.
//! - **storage quota**: `owner_quota_bytes`, enforced by `quota.rs` when an
//!   upload opens and when a commit lands.
//! - **body and header sizes**: `max_json_body` for JSON bodies,
//!   `max_safetensors_header` for the JSON header of a safetensors file.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use granary_core::Sha256;
use granary_core::api::ErrorBody;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::app::AppState;
use crate::client::ClientAddr;
use crate::config::LimitsConfig;

/// Routes whose request body may be large and slow (blob parts, LFS objects,
/// Hub commits with inline files): no request timeout, the idle timeout only.
pub fn streams_request_body(method: &Method, path: &str) -> bool {
    if *method != Method::PUT && *method != Method::POST {
        return false;
    }
    path.starts_with("/api/v1/uploads/")
        || path.starts_with("/api/hf-lfs/")
        || path.starts_with("/xet/v1/xorbs/")
        || path == "/xet/v1/shards"
        || (path.starts_with("/api/models/") && path.split('/').nth(5) == Some("commit"))
}

/// Routes of the Hugging Face Hub surface, whose errors also carry `X-Error-Message`
/// (the Hub clients show it; routes/hf/errors.rs).
fn is_hub_path(path: &str) -> bool {
    if path.starts_with("/api/") {
        return !path.starts_with("/api/v1/");
    }
    let mut segments = path.split('/').skip(1);
    matches!(
        (segments.next(), segments.next(), segments.next()),
        (Some("datasets" | "spaces"), _, _) | (Some(_), Some(_), Some("resolve" | "info"))
    )
}

/// The error response of a limit: the API's JSON error shape, and on the Hub
/// surface the Hub's (`X-Error-Message` too).
fn limit_response(path: &str, status: StatusCode, code: &str, message: String) -> Response {
    let header = is_hub_path(path)
        .then(|| HeaderValue::from_str(&message).ok())
        .flatten();
    let body = ErrorBody {
        error: message,
        code: code.to_string(),
    };
    let mut res = (status, axum::Json(body)).into_response();
    if let Some(v) = header {
        res.headers_mut().insert("x-error-message", v);
    }
    res
}

/// Counts a request against its rate limit: per API token, or per client address
/// for requests without one; the `429` when it is over.
fn check_rate(state: &AppState, req: &Request, now: i64) -> Option<Response> {
    let limits = &state.config.limits;
    let retry = 60 - (now / 1000) % 60;
    let (key, per_minute, message) = match token_key(req) {
        Some(key) => {
            let n = limits.token_rate_per_minute;
            let msg = format!(
                "this token sent more than {n} requests this minute (token_rate_per_minute): retry in {retry} s"
            );
            (key, n, msg)
        }
        None => {
            let ip = req.extensions().get::<ClientAddr>()?.0;
            let n = limits.anonymous_rate_per_minute;
            let msg = format!(
                "your address sent more than {n} requests without a token this minute (anonymous_rate_per_minute): \
                 retry in {retry} s, or send a token"
            );
            (format!("anonymous:{ip}"), n, msg)
        }
    };
    if per_minute == 0 || state.rate_limiter.allow(&key, per_minute, now) {
        return None;
    }
    let code = granary_core::api::codes::RATE_LIMITED;
    let mut res = limit_response(
        req.uri().path(),
        StatusCode::TOO_MANY_REQUESTS,
        code,
        message,
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry));
    Some(res)
}

/// The middleware that enforces the per-request limits: request rates, idle and slow bodies,
/// request timeout.
pub async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limits = &state.config.limits;
    if let Some(refused) = check_rate(&state, &req, granary_core::time::now_ms()) {
        return refused;
    }
    let path = req.uri().path().to_string();
    let body_cut = Arc::new(AtomicU8::new(NOT_CUT));
    let body_done = Arc::new(AtomicBool::new(req.body().is_end_stream()));
    let req = {
        let (cut, done) = (body_cut.clone(), body_done.clone());
        req.map(|b| Body::new(IdleBody::new(b, limits, cut, done)))
    };
    let streaming = streams_request_body(req.method(), req.uri().path());
    let res = match limits.request_timeout() {
        Some(limit) if !streaming => match tokio::time::timeout(limit, next.run(req)).await {
            Ok(res) => res,
            Err(_) => {
                tracing::warn!(limit_secs = limit.as_secs(), "request timed out");
                let mut res = limit_response(
                    &path,
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!(
                        "the request was not answered within {} s (request_timeout_secs): nothing was changed \
                         unless the operation had already finished; try again",
                        limit.as_secs()
                    ),
                );
                res.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return res;
            }
        },
        _ => next.run(req).await,
    };
    let cut = body_cut.load(Ordering::Relaxed);
    if cut != NOT_CUT {
        let secs = limits.idle_timeout_secs;
        let message = if cut == CUT_IDLE {
            tracing::warn!(idle_secs = secs, "request body went idle");
            format!(
                "the request body sent no bytes for {secs} s (idle_timeout_secs); the connection is closed: send it again"
            )
        } else {
            let min = limits.min_body_rate;
            tracing::warn!(min_body_rate = min, "request body too slow");
            format!(
                "the request body arrived at less than {min} bytes/s over {secs} s (min_body_rate); \
                 the connection is closed: send it again over a faster connection"
            )
        };
        let mut res = limit_response(&path, StatusCode::REQUEST_TIMEOUT, "timeout", message);
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    }
    let mut res = res;
    if !body_done.load(Ordering::Relaxed) {
        // Refused before its body was read: hyper will not reuse this connection, so say
        // so, or a client would send its next request on a connection about to close.
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// The rate-limit key of a request's bearer token (hashed: tokens are not kept in memory).
fn token_key(req: &Request) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.as_bytes();
    let token = value
        .strip_prefix(b"Bearer ")
        .or_else(|| value.strip_prefix(b"bearer "))?;
    Some(format!("token:{}", Sha256::of(token.trim_ascii()).hex()))
}

/// Why [`IdleBody`] cut a body, if it did.
const NOT_CUT: u8 = 0;
const CUT_IDLE: u8 = 1;
const CUT_SLOW: u8 = 2;

/// A request body that fails once no bytes arrived for `idle`, or when it
/// averaged less than `min_rate` bytes/s over a window of `idle` spent waiting
/// for it; it tells why it failed, and whether it was read to its end.
struct IdleBody {
    inner: Body,
    idle: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
    /// Bytes per second (0: none), measured over windows of waiting this long.
    min_rate: u64,
    window: Duration,
    /// Since when the body has been polled without a frame arriving.
    waiting_since: Option<Instant>,
    /// Time spent waiting for the client, and bytes received, in this window.
    waited: Duration,
    received: u64,
    cut: Arc<AtomicU8>,
    done: Arc<AtomicBool>,
}

impl IdleBody {
    fn new(inner: Body, limits: &LimitsConfig, cut: Arc<AtomicU8>, done: Arc<AtomicBool>) -> Self {
        let idle = limits.idle_timeout();
        Self {
            inner,
            idle,
            sleep: None,
            min_rate: limits.min_body_rate,
            window: idle.unwrap_or(Duration::from_secs(60)),
            waiting_since: None,
            waited: Duration::ZERO,
            received: 0,
            cut,
            done,
        }
    }

    /// Counts a frame that arrived; false when the window it closes was too slow.
    fn rate_ok(&mut self, bytes: u64) -> bool {
        if let Some(since) = self.waiting_since.take() {
            self.waited += since.elapsed();
        }
        self.received += bytes;
        if self.min_rate == 0 || self.waited < self.window {
            return true;
        }
        // Only the time the server waited for the client counts: a body the server
        // itself read slowly (a slow store, say) is not the client's fault.
        let ok = self.received as f64 >= self.min_rate as f64 * self.waited.as_secs_f64();
        (self.waited, self.received) = (Duration::ZERO, 0);
        ok
    }

    fn fail(
        &self,
        why: u8,
        message: String,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, axum::Error>>> {
        self.cut.store(why, Ordering::Relaxed);
        Poll::Ready(Some(Err(axum::Error::new(message))))
    }
}

impl HttpBody for IdleBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if frame.is_none() || this.inner.is_end_stream() {
                    this.done.store(true, Ordering::Relaxed);
                }
                let bytes = match &frame {
                    Some(Ok(f)) => f.data_ref().map_or(0, |d| d.len() as u64),
                    _ => 0,
                };
                if !this.rate_ok(bytes) {
                    let min = this.min_rate;
                    return this.fail(
                        CUT_SLOW,
                        format!("the body arrived at less than {min} bytes/s (min_body_rate)"),
                    );
                }
                if let (Some(sleep), Some(idle)) = (this.sleep.as_mut(), this.idle) {
                    sleep.as_mut().reset(Instant::now() + idle);
                }
                Poll::Ready(frame)
            }
            Poll::Pending => {
                this.waiting_since.get_or_insert_with(Instant::now);
                let Some(idle) = this.idle else {
                    return Poll::Pending;
                };
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => this.fail(
                        CUT_IDLE,
                        format!(
                            "no bytes arrived for {} s (idle_timeout_secs)",
                            idle.as_secs()
                        ),
                    ),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hub_paths() {
        for p in [
            "/api/models/a/b",
            "/api/validate-yaml",
            "/a/b/resolve/main/x",
            "/a/b.git/info/lfs/objects/batch",
            "/datasets/x",
        ] {
            assert!(super::is_hub_path(p), "{p}");
        }
        for p in [
            "/api/v1/models",
            "/",
            "/models",
            "/a/b",
            "/a/b/tree/main",
            "/healthz",
        ] {
            assert!(!super::is_hub_path(p), "{p}");
        }
    }
}
