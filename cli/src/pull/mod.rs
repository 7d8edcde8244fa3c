//! `granary pull OWNER/NAME[:REF | @REVISION]`: resolve the revision, fetch
//! the blobs the cache lacks (verified), then link them into the directory.

mod download;
mod place;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use futures::{StreamExt, TryStreamExt};
use granary_core::Sha256;
use granary_core::api::{FileInfo, RevisionInfo};
use tokio::sync::Semaphore;

use crate::cache::BlobCache;
use crate::cli::PullArgs;
use crate::context::Ctx;
use crate::model_ref::{ModelRef, encode_path, encode_segment};
use crate::progress::human_bytes;
use crate::scan::compile_globs;
use download::{Fetcher, Wanted, tuning};

/// The revision, if every path in it is safe to write: a path that could leave the
/// output directory or reach tool configuration (`.git/`) refuses the whole pull
/// before anything is written, whatever the server sent. [`RepoPath`](granary_core::RepoPath)
/// refuses such a path as the answer is read; its refusals are the sentences that begin
/// with "path".
fn safe_revision(v: serde_json::Value, what: &str) -> Result<RevisionInfo> {
    match serde_json::from_value::<RevisionInfo>(v.clone()) {
        Ok(info) => Ok(info),
        Err(e)
            if e.classify() == serde_json::error::Category::Data
                && e.to_string().starts_with("path") =>
        {
            crate::fail!(
                Invalid,
                "{what}: refusing to write a file of this revision, nothing was written: {e}"
            )
        }
        Err(_) => crate::client::from_value(v, what),
    }
}

pub async fn run(ctx: &Ctx, args: PullArgs) -> Result<()> {
    let target = ModelRef::parse(&args.model)?;
    let include = compile_globs(&args.include, "--include")?;
    let exclude = compile_globs(&args.exclude, "--exclude")?;
    let dir = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(target.id.name()));
    let cache = BlobCache::new(crate::config::cache_dir()?);

    let rev = target.rev_or_main();
    let url = format!("{}/revisions/{}", target.api_base(), encode_segment(&rev));
    let what = format!("cannot pull {}", args.model);
    let info = safe_revision(ctx.client.get_json(&url, &what).await?, &what)?;
    // Before a byte is fetched or written: the revision is the one the registry
    // signed and logged (docs/SIGNING.md).
    let verified = match args.no_verify_signature {
        true => None,
        false => Some(
            crate::trust::check_pull(ctx, &target.id, &info, args.trusted_key.as_deref()).await?,
        ),
    };
    let files: Vec<&FileInfo> = info
        .files
        .iter()
        .filter(|f| include.is_empty() || include.iter().any(|g| g.is_match(f.path.as_str())))
        .filter(|f| !exclude.iter().any(|g| g.is_match(f.path.as_str())))
        .collect();
    if files.is_empty() && !info.files.is_empty() {
        crate::fail!(
            NotFound,
            "no file of {}@{} matches --include/--exclude",
            target.id,
            info.id
        );
    }

    // Which blobs the cache already holds (checked: size, and stamp or hash).
    let mut cached: HashMap<Sha256, PathBuf> = HashMap::new();
    let mut wanted: Vec<Wanted> = Vec::new();
    for f in &files {
        if cached.contains_key(&f.sha256) || wanted.iter().any(|w| w.sha256 == f.sha256) {
            continue;
        }
        match tokio::task::block_in_place(|| cache.lookup(&f.sha256, f.size))? {
            Some(path) => {
                cached.insert(f.sha256, path);
            }
            None => wanted.push(Wanted {
                sha256: f.sha256,
                size: f.size,
                url: ctx.client.url(&format!(
                    "{}/files/{}/{}",
                    target.api_base(),
                    info.id,
                    encode_path(f.path.as_str())
                )),
                name: f.path.as_str().to_string(),
            }),
        }
    }
    let to_fetch: u64 = wanted.iter().map(|w| w.size).sum();
    ctx.report.say(format!(
        "pulling {}@{}: {} files; {} blobs ({}) to download, {} cached",
        target.id,
        &info.id.hex()[..12],
        files.len(),
        wanted.len(),
        human_bytes(to_fetch),
        cached.len()
    ));

    // Download what is missing.
    let started = Instant::now();
    let (chunk, delay) = tuning();
    // `jobs` ranges in flight in all; a file has at most 4 chunks in memory at
    // once, and at most 4 files are fetched at once (128 MiB of chunks at most).
    let jobs = args.jobs as usize;
    let permits = Semaphore::new(jobs);
    let fetcher = Fetcher {
        client: &ctx.client,
        cache: &cache,
        permits: &permits,
        jobs: jobs.min(4),
        chunk,
        delay,
    };
    let bar = ctx.report.total("pulling", to_fetch);
    let results: Vec<(Sha256, PathBuf, u64)> = futures::stream::iter(&wanted)
        .map(|w| {
            let (fetcher, bar) = (&fetcher, &bar);
            let file_bar = ctx.report.file(&w.name, w.size);
            async move {
                let (path, n) = fetcher.fetch(w, bar, &file_bar).await?;
                file_bar.finish_and_clear();
                Ok::<_, anyhow::Error>((w.sha256, path, n))
            }
        })
        .buffer_unordered(jobs.clamp(1, 4))
        .try_collect()
        .await?;
    bar.finish_and_clear();
    let mut downloaded = 0;
    for (sha, path, n) in results {
        cached.insert(sha, path);
        downloaded += n;
    }
    if to_fetch > 0 {
        let secs = started.elapsed().as_secs_f64();
        ctx.report.say(format!(
            "downloaded {} in {secs:.1}s ({}/s), every file verified",
            human_bytes(downloaded),
            human_bytes((downloaded as f64 / secs.max(1e-3)) as u64)
        ));
    }

    // Copy or link into the directory.
    let link = args.link || place::links_by_default();
    tokio::task::block_in_place(|| -> Result<()> {
        for f in &files {
            let blob = &cached[&f.sha256];
            place::place(blob, &place::target(&dir, &f.path), link)?;
        }
        Ok(())
    })?;
    let record = crate::pulls::PullRecord {
        model: target.id.to_string(),
        revision: info.id.to_string(),
        refs: match &target.rev {
            Some(granary_core::RevisionRef::Id(_)) => vec![],
            Some(r) => vec![r.to_string()],
            None => vec!["main".into()],
        },
        last_used: granary_core::time::now_ms(),
        dirs: vec![std::path::absolute(&dir).unwrap_or_else(|_| dir.clone())],
        files: files
            .iter()
            .map(|f| crate::pulls::PulledFile {
                path: f.path.to_string(),
                sha256: f.sha256.to_string(),
                size: f.size,
            })
            .collect(),
    };
    if let Err(e) = crate::pulls::record(cache.root(), record) {
        ctx.report.say(format!(
            "warning: cannot record the pull in the cache: {e:#}"
        ));
    }
    ctx.report
        .say(format!("{} files in {}", files.len(), dir.display()));
    if ctx.global.json {
        let files: Vec<_> = files
            .iter()
            .map(|f| serde_json::json!({"path": f.path, "size": f.size, "sha256": f.sha256}))
            .collect();
        return ctx.print_json(&serde_json::json!({
            "model": target.id.to_string(),
            "revision": info.id,
            "dir": dir,
            "files": files,
            "downloaded_bytes": downloaded,
            "signature": verified,
        }));
    }
    crate::outln!("{}", info.id);
    Ok(())
}
