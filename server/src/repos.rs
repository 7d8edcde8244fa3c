//! The life of a model as a whole: creating it, changing its visibility and
//! gate, deleting it. One home for every surface (native API, Hub API, web
//! pages), so each is checked with the same role and records the same event
//! (`db/events.rs`) in its transaction; the surfaces only parse their protocol and render the result.

use granary_core::ModelId;
use serde_json::json;

use crate::access::{Role, require_role};
use crate::app::App;
use crate::auth::Caller;
use crate::client::ClientIp;
use crate::db::events::{self, ModelEvent};
use crate::db::models::{self, ModelRow};
use crate::db::{Tx, gates};
use crate::error::{AppError, AppResult};

/// Who acts, and from where (for the record of events).
pub struct Actor<'a> {
    pub caller: &'a Caller,
    pub ip: &'a ClientIp,
}

impl Actor<'_> {
    /// Records a model event inside the change's transaction.
    async fn emit(
        &self,
        tx: &mut Tx,
        model: &ModelRow,
        kind: &str,
        detail: Option<&str>,
        data: serde_json::Value,
        now: i64,
    ) -> sqlx::Result<()> {
        let event = ModelEvent {
            kind,
            model: model.into(),
            actor: self.caller.name(),
            ip: self.ip.0.as_deref(),
            detail,
            data,
        };
        events::emit(tx, &event, now).await.map(|_| ())
    }
}

/// What creating a model found.
pub enum Created {
    New(ModelRow),
    /// It existed already (the caller holds `write` on its namespace, so may know).
    Exists(ModelRow),
}

/// Creates an empty model; needs `write` on the namespace.
pub async fn create(
    app: &App,
    actor: &Actor<'_>,
    id: &ModelId,
    private: bool,
    gated: bool,
) -> AppResult<Created> {
    require_role(&app.db, actor.caller, id.owner(), Role::Write).await?;
    let now = granary_core::time::now_ms();
    let (mut tx, _guard) = app.db.begin_write().await?;
    let created = models::create(&mut tx, id, private, gated, now).await?;
    let model = models::find_in(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::model_not_found(&id.to_string()))?;
    if created {
        let detail = format!("private={private} gated={gated}");
        let data = json!({"private": private, "gated": gated});
        actor
            .emit(&mut tx, &model, "repo.created", Some(&detail), data, now)
            .await?;
    }
    tx.commit().await?;
    Ok(if created {
        Created::New(model)
    } else {
        Created::Exists(model)
    })
}

/// Deletes a model with its revisions, refs, jobs, acceptances and webhooks (blobs stay
/// for the garbage collector); needs `admin` on the namespace. A model the caller cannot
/// read is "not found". The namespace's webhooks hear `repo.deleted`; the model's own
/// go with it.
pub async fn delete(app: &App, actor: &Actor<'_>, id: &ModelId) -> AppResult<ModelRow> {
    let model = crate::access::readable_model(app, actor.caller, id).await?;
    require_role(&app.db, actor.caller, &model.owner, Role::Admin).await?;
    let now = granary_core::time::now_ms();
    let (mut tx, _guard) = app.db.begin_write().await?;
    gates::delete_model(&mut tx, &model.id).await?;
    actor
        .emit(&mut tx, &model, "repo.deleted", None, json!({}), now)
        .await?;
    tx.commit().await?;
    tracing::info!(model = %model.full_name(), "model deleted");
    Ok(model)
}

/// Changes a model's visibility and gate (either may be left as it is); needs
/// `admin` on the namespace. Answers the model as it now is.
pub async fn update_settings(
    app: &App,
    actor: &Actor<'_>,
    id: &ModelId,
    private: Option<bool>,
    gated: Option<bool>,
) -> AppResult<ModelRow> {
    let model = crate::access::readable_model(app, actor.caller, id).await?;
    require_role(&app.db, actor.caller, &model.owner, Role::Admin).await?;
    let now = granary_core::time::now_ms();
    let (mut tx, _guard) = app.db.begin_write().await?;
    // Only what changes is written (and recorded).
    if let Some(p) = private.filter(|p| *p != model.private) {
        gates::set_private(&mut tx, &model.id, p, now).await?;
        let detail = if p { "private" } else { "public" };
        let data = json!({"private": p});
        actor
            .emit(&mut tx, &model, "repo.visibility", Some(detail), data, now)
            .await?;
    }
    if let Some(g) = gated.filter(|g| *g != model.gated) {
        gates::set_gated(&mut tx, &model.id, g, now).await?;
        let detail = if g { "gated" } else { "ungated" };
        let data = json!({"gated": g});
        actor
            .emit(&mut tx, &model, "repo.gate", Some(detail), data, now)
            .await?;
    }
    let model = models::find_in(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::model_not_found(&id.to_string()))?;
    tx.commit().await?;
    Ok(model)
}

/// Records that the signed-in caller accepted a readable model's license at its head
/// revision; answers the time.
pub async fn accept_license(app: &App, actor: &Actor<'_>, model: &ModelRow) -> AppResult<i64> {
    let user = actor.caller.require_user()?;
    let now = granary_core::time::now_ms();
    let revision = model.head_revision.as_deref();
    let (mut tx, _guard) = app.db.begin_write().await?;
    gates::accept(&mut tx, &model.id, &user.id, revision, now).await?;
    let data = json!({"user": user.name, "revision": revision});
    actor
        .emit(&mut tx, model, "license.accepted", None, data, now)
        .await?;
    tx.commit().await?;
    Ok(now)
}
