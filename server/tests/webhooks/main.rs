//! Events and webhooks on SQLite and PostgreSQL, with a real HTTP receiver on
//! loopback (the servers under test pass `--webhooks-allow-private`, except where the
//! SSRF guard is the point): every change emits its event in its own transaction,
//! deliveries are signed, retried with backoff and survive a restart, a private
//! model's events stay in its namespace, internal addresses are refused, and only
//! admins manage webhooks.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod delivery;
mod events;
mod receiver;

use std::sync::Arc;
use std::time::Duration;

use access::*;
use common::{Backend, TestApp, client_error};
use delivery::*;
use events::*;
use granary_core::api::{DeliveryList, WebhookInfo};
use granary_server::db::webhooks as db_webhooks;
use granary_server::webhooks::Dispatcher;
use receiver::{Received, Receiver, Reply, wait_for};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    deliveries_are_signed_with_the_secret,
    a_failing_receiver_gets_the_event_on_the_third_try,
    a_delivery_in_flight_when_the_server_dies_is_sent_after_restart,
    private_model_events_stay_in_their_namespace,
    internal_addresses_are_refused_by_default,
    every_change_emits_its_event_in_its_transaction,
    only_admins_manage_webhooks,
);

/// A server whose webhooks may reach loopback, with retries 50 ms apart.
async fn start(backend: Backend) -> TestApp {
    TestApp::start_with(backend, |c| {
        c.webhooks.allow_private = true;
        c.webhooks.retry_base_ms = 50;
        c.webhooks.timeout_secs = 1;
    })
    .await
}

/// Runs a delivery worker on `t` until the handle is dropped or aborted.
fn deliver(app: &Arc<granary_server::App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(Dispatcher::new(app.clone()).run(std::future::pending()))
}

async fn add_webhook(t: &TestApp, token: &str, path: &str, body: Value) -> WebhookInfo {
    let res = t.post_json(token, &format!("{path}/webhooks"), &body).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

async fn deliveries(t: &TestApp, token: &str, path: &str, id: &str) -> DeliveryList {
    let res = t
        .client
        .get(t.api(&format!("{path}/webhooks/{id}/deliveries")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

fn files() -> Vec<(&'static str, Vec<u8>)> {
    vec![("README.md", common::README.as_bytes().to_vec())]
}

async fn put_tag(
    t: &TestApp,
    token: &str,
    model: &str,
    tag: &str,
    rev: &str,
    force: bool,
) -> StatusCode {
    t.client
        .put(t.api(&format!("/models/{model}/tags/{tag}")))
        .bearer_auth(token)
        .json(&json!({"revision": rev, "force": force}))
        .send()
        .await
        .unwrap()
        .status()
}

/// Waits until the webhook's newest delivery is in `state`.
async fn wait_for_state(
    t: &TestApp,
    token: &str,
    path: &str,
    id: &str,
    state: &str,
) -> DeliveryList {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let list = deliveries(t, token, path, id).await;
        if list.deliveries.first().is_some_and(|d| d.state == state) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery became {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
