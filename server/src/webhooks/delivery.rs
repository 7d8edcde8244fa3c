//! The delivery worker: claims a due delivery from the outbox (`webhook_deliveries`),
//! POSTs the event to its webhook, records the attempt, and either marks it delivered
//! (any 2xx) or schedules the next try with exponential backoff (`--webhook-retry-base-ms`
//! doubled per failure, up to `--webhook-max-attempts`). Its whole state is in the
//! database: a process killed mid-delivery leaves a lease that runs out, and whichever
//! worker comes next sends the event again (receivers drop duplicates by event id).

use std::sync::Arc;
use std::time::{Duration, Instant};

use granary_core::api::EventPayload;

use super::signature;
use super::target;
use crate::app::App;
use crate::db::events::{self, EventRow};
use crate::db::webhooks::{self, Attempt, DeliveryRow, Next, WebhookRow};

/// Header names of a delivery.
pub const SIGNATURE_HEADER: &str = "x-granary-signature";
pub const EVENT_HEADER: &str = "x-granary-event";
pub const DELIVERY_HEADER: &str = "x-granary-delivery";

/// How many deliveries one process sends at once.
pub const CONCURRENCY: usize = 4;

/// Sends webhook deliveries until told to stop.
pub struct Dispatcher {
    app: Arc<App>,
    name: String,
}

impl Dispatcher {
    pub fn new(app: Arc<App>) -> Self {
        let name = format!("{}-{}", hostname(), crate::db::new_id());
        Self { app, name }
    }

    /// Delivers until `shutdown` resolves, [`CONCURRENCY`] at a time, polling the outbox
    /// when it is empty. A slow receiver holds one of them, never the others' deliveries.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let this = Arc::new(self);
        tracing::info!(worker = %this.name, "webhook delivery started");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // Dropping the set (this future aborted) aborts the loops with it, as a kill would.
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY {
            loops.spawn(this.clone().deliver_until(stopped.clone()));
        }
        shutdown.await;
        let _ = stop.send(true);
        while loops.join_next().await.is_some() {}
        tracing::info!(worker = %this.name, "webhook delivery stopped");
    }

    async fn deliver_until(self: Arc<Self>, mut stopped: tokio::sync::watch::Receiver<bool>) {
        let config = &self.app.config.webhooks;
        let idle = Duration::from_millis(config.retry_base_ms.clamp(10, 1000));
        while !*stopped.borrow() {
            let wait = match self.deliver_next().await {
                Ok(true) => continue,
                Ok(false) => idle,
                Err(e) => {
                    tracing::error!(error = %e, "webhook delivery failed to reach the database");
                    idle * 5
                }
            };
            tokio::select! {
                _ = stopped.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Claims and attempts one due delivery; false when none was due.
    pub async fn deliver_next(&self) -> anyhow::Result<bool> {
        let config = &self.app.config.webhooks;
        let now = granary_core::time::now_ms();
        let lease_ms = (config.timeout_secs as i64 * 1000) * 3;
        let Some(delivery) = webhooks::claim(&self.app.db, &self.name, now, lease_ms).await? else {
            return Ok(false);
        };
        let webhook = webhooks::find(&self.app.db, &delivery.webhook_id).await?;
        let event = events::find(&self.app.db, &delivery.event_id).await?;
        let (Some(webhook), Some(event)) = (webhook, event) else {
            // Deleted while queued: nothing left to send.
            let attempt = Attempt {
                status: None,
                error: Some("the webhook or its event no longer exists"),
                at: now,
                duration_ms: 0,
            };
            webhooks::record_attempt(&self.app.db, &delivery, &self.name, &attempt, Next::GiveUp)
                .await?;
            return Ok(true);
        };
        let started = Instant::now();
        let result = self.post(&webhook, &event).await;
        let at = granary_core::time::now_ms();
        let duration_ms = started.elapsed().as_millis() as i64;
        let (status, error) = match &result {
            Ok(s) if (200..300).contains(s) => (Some(*s), None),
            Ok(s) => (Some(*s), Some(format!("the receiver answered {s}"))),
            Err(e) => (None, Some(e.clone())),
        };
        let next = if error.is_none() {
            Next::Delivered
        } else if delivery.attempts + 1 >= config.max_attempts {
            Next::GiveUp
        } else {
            Next::RetryAt(at + backoff_ms(config.retry_base_ms, delivery.attempts))
        };
        log_attempt(&delivery, &webhook, status, error.as_deref(), &next);
        let attempt = Attempt {
            status,
            error: error.as_deref(),
            at,
            duration_ms,
        };
        webhooks::record_attempt(&self.app.db, &delivery, &self.name, &attempt, next).await?;
        Ok(true)
    }

    /// POSTs the event to the webhook's checked address; the receiver's status or why none.
    async fn post(&self, webhook: &WebhookRow, event: &EventRow) -> Result<u16, String> {
        let config = &self.app.config.webhooks;
        let url = target::parse(&webhook.url)?;
        let target = target::resolve(&url, config.allow_private).await?;
        let body = serde_json::to_vec(&payload(event)).map_err(|e| e.to_string())?;
        let unix = granary_core::time::now_ms() / 1000;
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("granary-webhooks/", env!("CARGO_PKG_VERSION")));
        // Connect to the address that was checked, not to whatever the name resolves to next.
        if let Some(domain) = &target.domain {
            client = client.resolve(domain, target.addrs[0]);
        }
        let client = client.build().map_err(|e| e.to_string())?;
        let res = client
            .post(target.url)
            .header("content-type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature::sign(&webhook.secret, unix, &body),
            )
            .header(EVENT_HEADER, &event.event)
            .header(DELIVERY_HEADER, &event.id)
            .body(body)
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        Ok(res.status().as_u16())
    }
}

/// The body of a delivery.
pub fn payload(event: &EventRow) -> EventPayload {
    EventPayload {
        id: event.id.clone(),
        event_type: event.event.clone(),
        created_at: event.at,
        model: event.subject.clone(),
        namespace: event.namespace.clone(),
        actor: event.actor.clone(),
        data: event
            .data
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(serde_json::Value::Null),
    }
}

/// The wait before retry `n + 1` after `n` earlier attempts: base, 2·base, 4·base, … (≤ 1 day).
pub fn backoff_ms(base_ms: u64, attempts: i64) -> i64 {
    let factor = 1u64 << attempts.clamp(0, 20);
    (base_ms.saturating_mul(factor)).min(86_400_000) as i64
}

fn log_attempt(
    d: &DeliveryRow,
    w: &WebhookRow,
    status: Option<u16>,
    error: Option<&str>,
    next: &Next,
) {
    match (error, next) {
        (None, _) => {
            tracing::info!(webhook = %w.id, event = %d.event_id, status, "webhook delivered")
        }
        (Some(e), Next::GiveUp) => {
            tracing::warn!(webhook = %w.id, event = %d.event_id, error = e, "webhook delivery failed; no more retries")
        }
        (Some(e), _) => {
            tracing::info!(webhook = %w.id, event = %d.event_id, error = e, "webhook delivery failed; will retry")
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "granary".into())
}
