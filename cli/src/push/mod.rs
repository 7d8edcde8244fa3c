//! `granary push DIR OWNER/NAME`: hash the files and, as each is hashed,
//! upload its blob if the server lacks it; then commit DIR's files laid over
//! the parent's (`plan`) on top of the branch's head, tag if asked. A push
//! that changes nothing commits nothing.

mod plan;
mod upload;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use futures::StreamExt;
use granary_core::api::{BlobRef, CommitFile, CommitRequest, Refs, RevisionInfo};
use granary_core::{ModelId, RevisionRef, Sha256};
use plan::{Plan, Removal};

use crate::cli::PushArgs;
use crate::context::Ctx;
use crate::error::{Failure, Kind, kind_of};
use crate::hashing::{HashCache, hash_all};
use crate::model_ref::{ModelRef, encode_segment, model_base, parse_rev};
use crate::progress::human_bytes;
use tokio::sync::mpsc;
use upload::{PendingBlob, upload_all};

pub async fn run(ctx: &Ctx, args: PushArgs) -> Result<()> {
    let id = ModelRef::parse_bare(&args.model)?;
    granary_core::names::validate_ref_name(&args.branch)
        .map_err(|e| Failure::new(Kind::Invalid, e))?;
    if let Some(tag) = &args.tag {
        granary_core::names::validate_ref_name(tag).map_err(|e| Failure::new(Kind::Invalid, e))?;
    }
    ctx.client.require_token()?;
    let files = crate::scan::scan(&args.dir)?;
    if files.is_empty() {
        crate::fail!(Invalid, "{} holds no files to push", args.dir.display());
    }
    let delete = crate::scan::compile_globs(&args.delete, "--delete")?;
    let removal = match (args.sync, delete.is_empty()) {
        (true, _) => Removal::All,
        (false, false) => Removal::Matching(&delete),
        (false, true) => Removal::Keep,
    };

    // The checks the server runs, here first: no byte is sent for a push it would refuse.
    crate::check::contents(&files).await?;

    // The revision this one builds on: the branch's head (or the --parent given).
    let parent = match &args.parent {
        Some(rev) => Some(resolve_revision(ctx, &id, &parse_rev(rev, false)?).await?),
        None => branch_head(ctx, &id, &args.branch).await?,
    };
    let parent = match parent {
        Some(rev) => Some(revision_json(ctx, &id, &rev).await?),
        None => None,
    };
    let license = crate::check::LicenseArgs {
        license: args.license.as_deref(),
        license_name: args.license_name.as_deref(),
    };
    let parent_files = parent.as_ref().map_or(&[][..], |(p, _)| &p.files);
    crate::check::license(&license, &files, parent_files)?;

    // 1. Hash on every core, skipping files the hash cache knows; as each
    //    file is hashed, 2. upload its blob unless the registry has it.
    let started = Instant::now();
    let total: u64 = files.iter().map(|f| f.size).sum();
    let files = Arc::new(files);
    let cache = Arc::new(HashCache::load(&crate::config::cache_dir()?));
    let hash_bar = ctx.report.total("hashing", total);
    let (tx, mut rx) = mpsc::unbounded_channel::<PendingBlob>();
    let hashing = {
        let (files, cache, bar) = (files.clone(), cache.clone(), hash_bar.clone());
        tokio::task::spawn_blocking(move || {
            hash_all(&files, &cache, &bar, |i, sha256| {
                let f = &files[i];
                // A closed channel: the uploads failed; their error is reported.
                let _ = tx.send(PendingBlob {
                    blob: BlobRef {
                        sha256,
                        size: f.size,
                    },
                    file: f.abs.clone(),
                });
            })
        })
    };
    let mut seen = HashSet::new();
    let hashed = futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .filter(move |b: &PendingBlob| std::future::ready(seen.insert(b.blob.sha256)));
    let bar = ctx.report.total("uploading", total);
    let sent = upload_all(&ctx.client, hashed, args.jobs as usize, &ctx.report, &bar).await?;
    bar.finish_and_clear();
    let (digests, read) = hashing.await.context("the hashing thread failed")??;
    hash_bar.finish_and_clear();
    if let Err(e) = cache.save() {
        ctx.report
            .say(format!("warning: cannot save the hash cache: {e}"));
    }
    let blobs = digests.iter().collect::<HashSet<_>>().len();
    let secs = started.elapsed().as_secs_f64();
    ctx.report.say(format!(
        "hashed {} files, {} ({} read); uploaded {} of {blobs} blobs, {} in {secs:.1}s ({}/s); the registry had the rest",
        files.len(),
        human_bytes(total),
        human_bytes(read),
        sent.blobs,
        human_bytes(sent.bytes),
        human_bytes((sent.bytes as f64 / secs.max(1e-3)) as u64)
    ));

    // 3. DIR's files over the parent's; nothing changed, nothing to commit.
    let local = files
        .iter()
        .zip(&digests)
        .map(|(f, d)| CommitFile {
            path: f.path.clone(),
            size: f.size,
            sha256: *d,
        })
        .collect();
    let plan = Plan::new(
        local,
        parent.as_ref().map_or(&[][..], |(p, _)| &p.files),
        &removal,
    );
    for line in plan.summary() {
        ctx.report.say(line);
    }
    // A --parent the branch has moved past is not "nothing to commit": the commit
    // below is refused as a conflict, as any push built on a stale parent.
    let at_head = match &args.parent {
        None => true,
        Some(_) => branch_head(ctx, &id, &args.branch).await? == parent.as_ref().map(|(p, _)| p.id),
    };
    if let Some((head, answer)) = &parent
        && at_head
        && plan.is_unchanged()
        && !changes_license(&args, head)
    {
        let rev = head.id.to_string();
        ctx.report.say(format!(
            "nothing to commit: {id}@{} already holds these files at {rev}",
            args.branch
        ));
        return finish(ctx, &id, &args, &rev, answer).await;
    }

    // 4. Commit on top of the parent.
    let changed = plan.added.len() + plan.replaced.len() + plan.removed.len();
    let commit = CommitRequest {
        branch: args.branch.clone(),
        parent: parent.as_ref().map(|(p, _)| p.id),
        message: args
            .message
            .clone()
            .unwrap_or_else(|| format!("Upload {changed} files with granary push")),
        license: args.license.clone(),
        license_name: args.license_name.clone(),
        files: plan.files,
        private: args.private.then_some(true),
    };
    let what = format!("cannot commit to {id}@{}", args.branch);
    let url = format!("{}/commits", model_base(&id));
    let answer: serde_json::Value = match ctx.client.post_json(&url, &commit, &what).await {
        Ok(v) => v,
        Err(e) if kind_of(&e) == Kind::Conflict => {
            let server = crate::error::render(&e);
            let server = server
                .strip_prefix(&format!("{what}: "))
                .unwrap_or(&server)
                .to_string();
            crate::fail!(
                Conflict,
                "{what}: the branch moved since you pulled: pull and push again (server: {server})"
            )
        }
        Err(e) => return Err(e),
    };
    let info: RevisionInfo = crate::client::from_value(answer.clone(), &what)?;
    let rev = info.id.to_string();
    ctx.report
        .say(format!("committed {id}@{}: {rev}", args.branch));
    finish(ctx, &id, &args, &rev, &answer).await
}

/// 5. Tags `rev` if asked, and prints it (with `--json`, its RevisionInfo).
async fn finish(
    ctx: &Ctx,
    id: &ModelId,
    args: &PushArgs,
    rev: &str,
    answer: &serde_json::Value,
) -> Result<()> {
    if let Some(tag) = &args.tag {
        crate::commands::tag::create(ctx, id, rev, tag, false).await?;
        ctx.report.say(format!("tagged {rev} as {tag}"));
    }
    if ctx.global.json {
        ctx.print_json(answer)?;
    } else {
        crate::outln!("{rev}");
    }
    Ok(())
}

/// Whether `--license` / `--license-name` ask for another license than the parent's.
fn changes_license(args: &PushArgs, parent: &RevisionInfo) -> bool {
    let id = args
        .license
        .as_deref()
        .is_some_and(|l| !l.trim().eq_ignore_ascii_case(&parent.license.id));
    let name = args
        .license_name
        .as_deref()
        .is_some_and(|n| Some(n.trim()) != parent.license.name.as_deref());
    id || name
}

/// A revision, typed and as the server sent it (for `--json`).
async fn revision_json(
    ctx: &Ctx,
    id: &ModelId,
    rev: &Sha256,
) -> Result<(RevisionInfo, serde_json::Value)> {
    let url = format!("{}/revisions/{rev}", model_base(id));
    let what = format!("cannot read revision {rev} of {id}");
    let answer: serde_json::Value = ctx.client.get_json(&url, &what).await?;
    Ok((crate::client::from_value(answer.clone(), &what)?, answer))
}

/// The revision a branch points at; `None` when the model or the branch does not exist.
pub async fn branch_head(ctx: &Ctx, id: &ModelId, branch: &str) -> Result<Option<Sha256>> {
    let url = format!("{}/refs", model_base(id));
    match ctx
        .client
        .get_json::<Refs>(&url, &format!("cannot read the refs of {id}"))
        .await
    {
        Ok(refs) => Ok(refs
            .branches
            .into_iter()
            .find(|b| b.name == branch)
            .map(|b| b.revision)),
        Err(e) if kind_of(&e) == Kind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The full id of a revision named by a ref, an id or a prefix.
pub async fn resolve_revision(ctx: &Ctx, id: &ModelId, rev: &RevisionRef) -> Result<Sha256> {
    if let RevisionRef::Id(full) = rev {
        return Ok(*full);
    }
    let url = format!(
        "{}/revisions/{}",
        model_base(id),
        encode_segment(&rev.to_string())
    );
    let info: granary_core::api::RevisionInfo = ctx
        .client
        .get_json(&url, &format!("cannot find revision `{rev}` of {id}"))
        .await?;
    Ok(info.id)
}
