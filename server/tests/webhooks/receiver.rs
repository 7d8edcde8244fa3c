//! A webhook receiver on loopback, scripted to fail or hang, that keeps what it got.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use serde_json::Value;

/// What the receiver does with the next request.
#[derive(Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Never answers (the sender dies waiting).
    Hang,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The status it answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }
}

/// A webhook receiver on loopback: answers from a script, then 200.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(script: Vec<Reply>) -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script = Arc::new(Mutex::new(script));
        let (g, s) = (got.clone(), script.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (got, script) = (g.clone(), s.clone());
                async move {
                    let reply = {
                        let mut script = script.lock().unwrap();
                        if script.is_empty() {
                            Reply::Status(200)
                        } else {
                            script.remove(0)
                        }
                    };
                    let status = match reply {
                        Reply::Status(s) => s,
                        Reply::Hang => 0,
                    };
                    got.lock().unwrap().push(Received {
                        headers,
                        body,
                        status,
                    });
                    if let Reply::Hang = reply {
                        std::future::pending::<()>().await;
                    }
                    AxumStatus::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The requests it answered 2xx.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    /// Waits until `n` requests were answered 2xx.
    pub async fn wait_delivered(&self, n: usize) -> Vec<Received> {
        wait_for(&format!("{n} deliveries at {}", self.url), || {
            let d = self.delivered();
            (d.len() >= n).then_some(d)
        })
        .await
    }
}

/// Polls `f` until it answers, failing after 30 s.
pub async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
