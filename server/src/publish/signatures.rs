//! Signing and logging revisions: what a commit does inside its transaction
//! (`sign_and_log_in`), and the same for revisions older than signing, at
//! start-up (`start`, `sign_unsigned`). The key is `signing.rs`'s, the log
//! `transparency.rs`'s.

use anyhow::Context as _;
use granary_core::{Manifest, ModelId};

use crate::app::App;
use crate::db::signing as q;
use crate::db::{Db, Tx};
use crate::signing::RegistryKey;

/// Signs a new revision and appends it to the log, inside its commit's transaction.
pub async fn sign_and_log_in(
    tx: &mut Tx,
    db: &Db,
    key: &RegistryKey,
    model_id: &str,
    model: &ModelId,
    revision: &str,
    manifest: &Manifest,
) -> sqlx::Result<()> {
    let bundle = key.sign_manifest(model, revision, manifest);
    let now = granary_core::time::now_ms();
    q::insert_in(tx, model_id, revision, &key.id, &bundle, now).await?;
    crate::transparency::append_in(tx, db, model_id, model, revision, &bundle).await
}

/// What `serve` does before its first request: registers the key
/// (`signing::register`) and signs and logs the revisions older than signing.
pub async fn start(app: &App) -> anyhow::Result<()> {
    crate::signing::register(&app.db, &app.signing_key, app.config.signing.rotate).await?;
    let signed = sign_unsigned(&app.db, &app.signing_key).await?;
    if signed > 0 {
        tracing::info!(
            revisions = signed,
            "signed the revisions older than signing"
        );
    }
    Ok(())
}

/// Signs and logs every revision that has no signature yet (those committed
/// before signing existed); how many.
pub async fn sign_unsigned(db: &Db, key: &RegistryKey) -> anyhow::Result<u64> {
    let mut signed = 0;
    loop {
        let batch = q::unsigned(db, 200).await?;
        if batch.is_empty() {
            return Ok(signed);
        }
        let (mut tx, _guard) = db.begin_write().await?;
        for (model_id, name, revision, manifest) in batch {
            let model: ModelId = name
                .parse()
                .with_context(|| format!("stored model name `{name}`"))?;
            let manifest: Manifest = serde_json::from_str(&manifest)
                .with_context(|| format!("the manifest of {name}@{revision}"))?;
            sign_and_log_in(&mut tx, db, key, &model_id, &model, &revision, &manifest).await?;
            signed += 1;
        }
        tx.commit().await?;
    }
}
