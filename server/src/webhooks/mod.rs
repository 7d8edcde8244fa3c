//! Webhooks: owners register receivers for one model or for every model of a namespace,
//! and the delivery worker POSTs them the model events the domain emitted
//! (`db/events.rs`). One home for every surface: who may manage a webhook (the model's
//! or namespace's admins), what a receiver URL may be (`target.rs`), how a delivery is
//! signed (`signature.rs`) and sent (`delivery.rs`).

pub mod delivery;
pub mod signature;
pub mod target;

use granary_core::ModelId;
use granary_core::api::{
    CreateWebhookRequest, DeliveryAttempt, DeliveryInfo, DeliveryList, WebhookInfo, WebhookList,
};

use crate::access::{Role, require_role};
use crate::app::App;
use crate::auth::Caller;
use crate::db::events::{self, ModelEvent, Subject};
use crate::db::models::ModelRow;
use crate::db::{users, webhooks};
use crate::error::{AppError, AppResult};

pub use delivery::Dispatcher;

/// Every event type a webhook may ask for.
pub const EVENT_TYPES: &[&str] = &[
    "revision.published",
    "ref.moved",
    "tag.created",
    "tag.deleted",
    "repo.created",
    "repo.deleted",
    "repo.visibility",
    "repo.gate",
    "verification.finished",
    "license.accepted",
    "webhook.ping",
];

/// What a webhook hears: one model, or every model of a namespace.
pub enum Scope {
    Model(ModelRow),
    Namespace(String),
}

impl Scope {
    /// The model's webhooks, for its admins; a model the caller may not read is
    /// "not found", a readable one they do not administer 403.
    pub async fn model(app: &App, caller: &Caller, id: &ModelId) -> AppResult<Self> {
        let model = crate::access::readable_model(app, caller, id).await?;
        require_role(&app.db, caller, &model.owner, Role::Admin).await?;
        Ok(Self::Model(model))
    }

    /// A namespace's webhooks, for its admins (403 for everyone else, as for other
    /// namespace settings).
    pub async fn namespace(app: &App, caller: &Caller, ns: &str) -> AppResult<Self> {
        require_role(&app.db, caller, ns, Role::Admin).await?;
        let owner = users::find_by_name(&app.db, ns)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no user or organisation `{ns}`")))?;
        Ok(Self::Namespace(owner.name))
    }

    fn namespace_name(&self) -> &str {
        match self {
            Self::Model(m) => &m.owner,
            Self::Namespace(ns) => ns,
        }
    }

    fn model_id(&self) -> Option<&str> {
        match self {
            Self::Model(m) => Some(&m.id),
            Self::Namespace(_) => None,
        }
    }

    async fn webhooks(&self, app: &App) -> AppResult<Vec<webhooks::WebhookRow>> {
        Ok(match self {
            Self::Model(m) => webhooks::of_model(&app.db, &m.id).await?,
            Self::Namespace(ns) => webhooks::of_namespace(&app.db, ns).await?,
        })
    }

    /// One of this scope's webhooks; another scope's is "not found".
    async fn webhook(&self, app: &App, id: &str) -> AppResult<webhooks::WebhookRow> {
        webhooks::find(&app.db, id)
            .await?
            .filter(|w| {
                w.namespace == self.namespace_name() && w.model_id.as_deref() == self.model_id()
            })
            .ok_or_else(|| AppError::NotFound(format!("no webhook `{id}` here")))
    }

    fn info(&self, w: &webhooks::WebhookRow, secret: Option<String>) -> WebhookInfo {
        WebhookInfo {
            id: w.id.clone(),
            url: w.url.clone(),
            namespace: w.namespace.clone(),
            model: match self {
                Self::Model(m) => Some(m.full_name()),
                Self::Namespace(_) => None,
            },
            events: w.event_list(),
            created_at: w.created_at,
            secret,
        }
    }
}

/// Registers a webhook; the answer carries its secret, the only time it is shown.
pub async fn create(
    app: &App,
    caller: &Caller,
    scope: &Scope,
    req: &CreateWebhookRequest,
) -> AppResult<WebhookInfo> {
    let user = caller.require_user()?;
    let url = target::parse(req.url.trim()).map_err(AppError::Invalid)?;
    target::resolve(&url, app.config.webhooks.allow_private)
        .await
        .map_err(AppError::Invalid)?;
    for kind in &req.events {
        if !EVENT_TYPES.contains(&kind.as_str()) {
            return Err(AppError::Invalid(format!(
                "unknown event type `{kind}`: one of {}",
                EVENT_TYPES.join(", ")
            )));
        }
    }
    let secret = match &req.secret {
        Some(s) if s.len() < 16 || s.len() > 256 => {
            return Err(AppError::Invalid(
                "a webhook secret must be 16 to 256 bytes (leave it out to have one generated)"
                    .into(),
            ));
        }
        Some(s) => s.clone(),
        None => signature::new_secret(),
    };
    let row = webhooks::create(
        &app.db,
        &webhooks::NewWebhook {
            namespace: scope.namespace_name(),
            model_id: scope.model_id(),
            url: url.as_str(),
            secret: &secret,
            events: &req.events,
            created_by: &user.id,
        },
        granary_core::time::now_ms(),
    )
    .await?;
    tracing::info!(webhook = %row.id, namespace = %row.namespace, url = %row.url, "webhook registered");
    Ok(scope.info(&row, Some(secret)))
}

pub async fn list(app: &App, scope: &Scope) -> AppResult<WebhookList> {
    let rows = scope.webhooks(app).await?;
    Ok(WebhookList {
        webhooks: rows.iter().map(|w| scope.info(w, None)).collect(),
    })
}

pub async fn delete(app: &App, scope: &Scope, id: &str) -> AppResult<()> {
    let w = scope.webhook(app, id).await?;
    webhooks::delete(&app.db, &w.id).await?;
    tracing::info!(webhook = %w.id, "webhook deleted");
    Ok(())
}

/// Queues a `webhook.ping` event for this webhook alone; answers the event id.
pub async fn ping(app: &App, caller: &Caller, scope: &Scope, id: &str) -> AppResult<String> {
    let w = scope.webhook(app, id).await?;
    let now = granary_core::time::now_ms();
    let (owner, name, model_id) = match scope {
        Scope::Model(m) => (m.owner.as_str(), m.name.as_str(), m.id.as_str()),
        Scope::Namespace(ns) => (ns.as_str(), "", ""),
    };
    let event = ModelEvent {
        kind: "webhook.ping",
        model: Subject {
            model_id,
            owner,
            name,
        },
        actor: caller.user.as_ref().map(|u| u.name.as_str()),
        ip: None,
        detail: None,
        data: serde_json::json!({"webhook": w.id}),
    };
    let (mut tx, _guard) = app.db.begin_write().await?;
    let event_id = events::emit_to(&mut tx, &event, &w.id, now).await?;
    tx.commit().await?;
    Ok(event_id)
}

/// A webhook's deliveries, newest first, each with its attempts.
pub async fn deliveries(app: &App, scope: &Scope, id: &str, limit: u32) -> AppResult<DeliveryList> {
    let w = scope.webhook(app, id).await?;
    let rows = webhooks::deliveries(&app.db, &w.id, limit).await?;
    let ids: Vec<String> = rows.iter().map(|d| d.id.clone()).collect();
    let attempts = webhooks::attempts(&app.db, &ids).await?;
    let deliveries = rows
        .into_iter()
        .map(|d| DeliveryInfo {
            attempts: attempts
                .iter()
                .filter(|a| a.delivery_id == d.id)
                .map(|a| DeliveryAttempt {
                    at: a.at,
                    status: a.status.and_then(|s| u16::try_from(s).ok()),
                    error: a.error.clone(),
                    duration_ms: a.duration_ms,
                })
                .collect(),
            next_attempt_at: (d.state == webhooks::PENDING).then_some(d.next_attempt_at),
            event_id: d.event_id,
            event_type: d.event,
            state: d.state,
            created_at: d.created_at,
        })
        .collect();
    Ok(DeliveryList { deliveries })
}
