//! The HTTP client of the native API: bearer auth, retries with backoff on
//! network failures, and every non-2xx answer turned into a [`Failure`] that
//! carries the server's own sentence.

use std::time::Duration;

use anyhow::Result;
use granary_core::api::ErrorBody;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Session;
use crate::error::{Failure, Kind};

/// Tries per request before a network failure is reported.
pub const TRIES: u32 = 4;

/// A client bound to one endpoint and, optionally, one token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    token: Option<String>,
    token_source: Option<String>,
}

impl Client {
    pub fn new(session: &Session) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("granary-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(64)
            .no_gzip()
            .build()?;
        Ok(Self {
            http,
            endpoint: session.endpoint.clone(),
            token: session.token.clone(),
            token_source: session.token_source.clone(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Fails with exit code 4 unless a token is set.
    pub fn require_token(&self) -> Result<()> {
        if self.token.is_none() {
            return Err(Failure::new(
                Kind::Unauthorized,
                format!(
                    "this command needs a token for {}: run `granary login`, or pass --token / set GRANARY_TOKEN",
                    self.endpoint
                ),
            )
            .into());
        }
        Ok(())
    }

    /// The absolute URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.endpoint, path)
    }

    /// Sends the request `make` builds (again for each try), retrying network
    /// failures and 502/503/504 with backoff; answers only 2xx responses.
    /// `what` says what was being done, for the error message.
    pub async fn send<F>(&self, what: &str, make: F) -> Result<Response>
    where
        F: Fn(&reqwest::Client) -> Result<RequestBuilder>,
    {
        let mut last = String::new();
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let mut req = make(&self.http)?;
            if let Some(token) = &self.token {
                req = req.bearer_auth(token);
            }
            match req.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) if is_transient(resp.status()) => {
                    last = format!("the server answered {}", resp.status());
                }
                Ok(resp) => {
                    let mut failure = error_from_response(what, resp).await;
                    if failure.kind == Kind::Unauthorized
                        && let Some(source) = &self.token_source
                    {
                        failure.message.push_str(&format!(" [token from {source}]"));
                    }
                    return Err(failure.into());
                }
                Err(e) => last = describe(&e),
            }
        }
        Err(Failure::new(
            Kind::Network,
            format!(
                "{what}: cannot reach the registry at {} after {TRIES} tries ({last}); check --endpoint / GRANARY_ENDPOINT and that the server is running",
                self.endpoint
            ),
        )
        .into())
    }

    /// GET a JSON body.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<T> {
        let url = self.url(path);
        let resp = self.send(what, |c| Ok(c.get(&url))).await?;
        read_json(what, resp).await
    }

    /// POST a JSON body, answer JSON.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        what: &str,
    ) -> Result<T> {
        self.send_json(reqwest::Method::POST, path, body, what)
            .await
    }

    /// PUT a JSON body, answer JSON.
    pub async fn put_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        what: &str,
    ) -> Result<T> {
        self.send_json(reqwest::Method::PUT, path, body, what).await
    }

    /// PATCH a JSON body, answer JSON.
    pub async fn patch_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        what: &str,
    ) -> Result<T> {
        self.send_json(reqwest::Method::PATCH, path, body, what)
            .await
    }

    /// Sends a JSON body with `method`, answers JSON.
    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
        what: &str,
    ) -> Result<T> {
        let url = self.url(path);
        let resp = self
            .send(what, |c| Ok(c.request(method.clone(), &url).json(body)))
            .await?;
        read_json(what, resp).await
    }

    /// DELETE; the answer's body (usually none) is ignored.
    pub async fn delete(&self, path: &str, what: &str) -> Result<()> {
        let url = self.url(path);
        self.send(what, |c| Ok(c.delete(&url))).await?;
        Ok(())
    }
}

/// Decodes a JSON response; a body that is not the expected shape is a plain error.
pub async fn read_json<T: DeserializeOwned>(what: &str, resp: Response) -> Result<T> {
    let bytes = resp.bytes().await.map_err(|e| {
        Failure::new(
            Kind::Network,
            format!(
                "{what}: the connection broke while reading the answer ({})",
                describe(&e)
            ),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!("{what}: the server's answer is not what this client expects ({e}); is the endpoint a Granary registry of a compatible version?")
    })
}

/// Decodes an already parsed JSON answer into the expected shape.
pub fn from_value<T: DeserializeOwned>(v: serde_json::Value, what: &str) -> Result<T> {
    serde_json::from_value(v).map_err(|e| {
        anyhow::anyhow!("{what}: the server's answer is not what this client expects ({e}); is the endpoint a Granary registry of a compatible version?")
    })
}

fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

/// 250 ms, 500 ms, 1 s, ...
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.saturating_sub(1).min(6))
}

/// A reqwest error in one short line, with its innermost cause.
pub fn describe(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "network error"
    };
    format!("{kind}: {cause}")
}

/// Turns a non-2xx response into a failure with the server's sentence.
pub async fn error_from_response(what: &str, resp: Response) -> Failure {
    let status = resp.status();
    let request_id = resp
        .headers()
        .get(granary_core::api::headers::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = resp.bytes().await.unwrap_or_default();
    let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
    failure_from(what, status, parsed, request_id)
}

/// The kind and sentence for a status and the server's error body.
pub fn failure_from(
    what: &str,
    status: StatusCode,
    body: Option<ErrorBody>,
    request_id: Option<String>,
) -> Failure {
    let code = body.as_ref().map(|b| b.code.as_str()).unwrap_or("");
    let said = body
        .as_ref()
        .map(|b| b.error.trim_end_matches('.').to_string())
        .unwrap_or_else(|| format!("the server answered {status}"));
    let (kind, hint) = match status.as_u16() {
        _ if code == granary_core::api::codes::DIGEST_MISMATCH => (Kind::Integrity, ""),
        400 | 413 | 422 => (Kind::Invalid, ""),
        401 => (
            Kind::Unauthorized,
            " (check the token: `granary login`, --token or GRANARY_TOKEN)",
        ),
        // A gated model's refusal already says how to accept its license.
        403 if code == granary_core::api::codes::GATED => (Kind::Unauthorized, ""),
        403 => (Kind::Unauthorized, " (this token may not do that)"),
        404 => (Kind::NotFound, ""),
        409 => (Kind::Conflict, ""),
        429 => (Kind::Other, " (rate limited: wait a minute and try again)"),
        500..=599 => (Kind::Other, ""),
        _ => (Kind::Other, ""),
    };
    let hint = if said.contains("granary login") || said.contains("wait a minute") {
        ""
    } else {
        hint
    };
    let mut message = format!("{what}: {said}{hint}");
    if let Some(id) = request_id.filter(|_| status.is_server_error()) {
        message.push_str(&format!(
            " (request id {id}; the server log has the detail)"
        ));
    }
    Failure::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str, error: &str) -> Option<ErrorBody> {
        Some(ErrorBody {
            error: error.into(),
            code: code.into(),
        })
    }

    #[test]
    fn statuses_map_to_exit_kinds_with_the_servers_sentence() {
        let f = failure_from(
            "pulling a/b",
            StatusCode::NOT_FOUND,
            body("not_found", "model a/b does not exist."),
            None,
        );
        assert_eq!(f.kind, Kind::NotFound);
        assert_eq!(f.message, "pulling a/b: model a/b does not exist");
        let f = failure_from(
            "x",
            StatusCode::UNAUTHORIZED,
            body("unauthorized", "bad token"),
            None,
        );
        assert_eq!(f.kind, Kind::Unauthorized);
        assert!(f.message.contains("granary login"));
        let f = failure_from(
            "x",
            StatusCode::BAD_REQUEST,
            body("digest_mismatch", "sha mismatch"),
            None,
        );
        assert_eq!(f.kind, Kind::Integrity);
        let f = failure_from("x", StatusCode::CONFLICT, None, None);
        assert_eq!(
            (f.kind, f.message.as_str()),
            (Kind::Conflict, "x: the server answered 409 Conflict")
        );
        let f = failure_from(
            "pulling a/b",
            StatusCode::FORBIDDEN,
            body(
                "gated",
                "`a/b` is gated: accept its license first (granary license accept a/b)",
            ),
            None,
        );
        assert_eq!(f.kind, Kind::Unauthorized);
        assert!(
            f.message.ends_with("(granary license accept a/b)"),
            "{}",
            f.message
        );
        let f = failure_from(
            "x",
            StatusCode::TOO_MANY_REQUESTS,
            body("rate_limited", "too many"),
            None,
        );
        assert_eq!(f.kind, Kind::Other);
        assert!(f.message.contains("wait a minute"));
        let f = failure_from(
            "x",
            StatusCode::INTERNAL_SERVER_ERROR,
            body("internal", "oops"),
            Some("r1".into()),
        );
        assert!(f.message.contains("request id r1"));
    }

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(3), Duration::from_millis(1000));
    }
}
