//! The life of a model as a whole: creating it, changing its visibility and
//! gate, deleting it. One home for every surface (native API, Hub API, web
//! pages), so each is checked with the same role and written to the audit log
//! alike; the surfaces only parse their protocol and render the result.

use granary_core::ModelId;

use crate::access::{Role, require_role};
use crate::app::App;
use crate::auth::Caller;
use crate::client::ClientIp;
use crate::db::audit::{self, Event};
use crate::db::gates;
use crate::db::models::{self, ModelRow};
use crate::error::{AppError, AppResult};

/// Who acts, and from where (for the audit log).
pub struct Actor<'a> {
    pub caller: &'a Caller,
    pub ip: &'a ClientIp,
}

impl Actor<'_> {
    /// Records a security event; a failure to record is logged, never fatal.
    pub async fn audit(&self, app: &App, event: &str, subject: &str, detail: Option<&str>) {
        let actor = self.caller.user.as_ref().map(|u| u.name.as_str());
        let e = Event {
            actor,
            event,
            subject: Some(subject),
            detail,
            ip: self.ip.0.as_deref(),
        };
        if let Err(err) = audit::record(&app.db, &e, granary_core::time::now_ms()).await {
            tracing::error!(error = %err, event, "could not write the audit log");
        }
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
    let (mut tx, guard) = app.db.begin_write().await?;
    let created = models::create(&mut tx, id, private, gated, now).await?;
    tx.commit().await?;
    drop(guard);
    let model = models::find(&app.db, id)
        .await?
        .ok_or_else(|| AppError::model_not_found(&id.to_string()))?;
    if !created {
        return Ok(Created::Exists(model));
    }
    let detail = format!("private={private} gated={gated}");
    actor
        .audit(app, "repo.created", &id.to_string(), Some(&detail))
        .await;
    Ok(Created::New(model))
}

/// Deletes a model with its revisions, refs, jobs and acceptances (blobs stay for the
/// garbage collector); needs `admin` on the namespace. A model the caller cannot
/// read is "not found".
pub async fn delete(app: &App, actor: &Actor<'_>, id: &ModelId) -> AppResult<ModelRow> {
    let model = crate::routes::readable_model(app, actor.caller, id).await?;
    require_role(&app.db, actor.caller, &model.owner, Role::Admin).await?;
    gates::delete_model(&app.db, &model.id).await?;
    actor
        .audit(app, "repo.deleted", &model.full_name(), None)
        .await;
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
    let model = crate::routes::readable_model(app, actor.caller, id).await?;
    require_role(&app.db, actor.caller, &model.owner, Role::Admin).await?;
    let now = granary_core::time::now_ms();
    // Only what changes is written (and audited).
    if let Some(p) = private.filter(|p| *p != (model.private != 0)) {
        gates::set_private(&app.db, &model.id, p, now).await?;
        let detail = if p { "private" } else { "public" };
        actor
            .audit(app, "repo.visibility", &model.full_name(), Some(detail))
            .await;
    }
    if let Some(g) = gated.filter(|g| *g != (model.gated != 0)) {
        gates::set_gated(&app.db, &model.id, g, now).await?;
        let detail = if g { "gated" } else { "ungated" };
        actor
            .audit(app, "repo.gate", &model.full_name(), Some(detail))
            .await;
    }
    models::find(&app.db, id)
        .await?
        .ok_or_else(|| AppError::model_not_found(&id.to_string()))
}
