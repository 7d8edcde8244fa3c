//! `granary cache ls | rm | verify | prune`.
//!
//! `ls` groups the cache by the model revisions pulled through it (`pulls`);
//! `rm OWNER/NAME[:REF]` removes those revisions and the blobs no other pulled
//! revision needs; `verify` names the pulled files whose blobs are damaged.
//!
//! `prune` removes partial downloads; `--unlinked` also removes blobs that no
//! pulled directory links to any more (hard-link count 1); `--all` removes the
//! whole cache (pulled directories keep their files: they are hard links).

use std::fs;

use anyhow::{Context as _, Result};
use granary_core::Sha256;

use crate::cache::BlobCache;
use crate::cli::{CacheCommand, CacheRmArgs, PruneArgs};
use crate::context::Ctx;
use crate::progress::human_bytes;
use crate::pulls::{self, PullRecord};

pub fn run(ctx: &Ctx, cmd: CacheCommand) -> Result<()> {
    let cache = BlobCache::new(crate::config::cache_dir()?);
    match cmd {
        CacheCommand::Ls => ls(ctx, &cache),
        CacheCommand::Rm(args) => rm(ctx, &cache, &args),
        CacheCommand::Verify => verify(ctx, &cache),
        CacheCommand::Prune(args) => prune(ctx, &cache, &args),
    }
}

fn ls(ctx: &Ctx, cache: &BlobCache) -> Result<()> {
    let blobs = cache.list()?;
    let records = pulls::load_all(cache.root());
    let partials = cache.partials()?;
    if ctx.global.json {
        let partials: Vec<_> = partials
            .iter()
            .map(|(p, n)| serde_json::json!({"path": p, "bytes": n}))
            .collect();
        let models: Vec<_> = records
            .iter()
            .map(|r| {
                serde_json::json!({"model": r.model, "revision": r.revision, "refs": r.refs,
                    "size": r.size(), "last_used": r.last_used, "dirs": r.dirs,
                    "files": r.files.len()})
            })
            .collect();
        return ctx.print_json(&serde_json::json!({"root": cache.root(), "models": models,
            "blobs": blobs, "partial": partials}));
    }
    if !records.is_empty() {
        crate::outln!(
            "{:<32} {:<12} {:<16} {:>10}  LAST USED (UTC)",
            "MODEL",
            "REVISION",
            "REFS",
            "SIZE"
        );
    }
    for r in &records {
        let refs = if r.refs.is_empty() {
            "-".to_string()
        } else {
            r.refs.join(",")
        };
        crate::outln!(
            "{:<32} {:<12} {:<16} {:>10}  {}",
            r.model,
            &r.revision[..12.min(r.revision.len())],
            refs,
            human_bytes(r.size()),
            &granary_core::time::rfc3339(r.last_used)[..16].replace('T', " ")
        );
    }
    let known: std::collections::HashSet<&str> = records
        .iter()
        .flat_map(|r| r.files.iter().map(|f| f.sha256.as_str()))
        .collect();
    let other: Vec<_> = blobs
        .iter()
        .filter(|b| !known.contains(b.sha256.as_str()))
        .collect();
    if !other.is_empty() {
        crate::outln!(
            "{:<32} {:<12} {:<16} {:>10}",
            "(no pull recorded)",
            "-",
            format!("{} blobs", other.len()),
            human_bytes(other.iter().map(|b| b.size).sum())
        );
    }
    let total: u64 = blobs.iter().map(|b| b.size).sum();
    ctx.report.say(format!(
        "{} blobs, {} in {}; {} partial files",
        blobs.len(),
        human_bytes(total),
        cache.root().display(),
        partials.len()
    ));
    Ok(())
}

fn verify(ctx: &Ctx, cache: &BlobCache) -> Result<()> {
    let blobs = cache.list()?;
    let bar = ctx
        .report
        .total("verifying", blobs.iter().map(|b| b.size).sum());
    let mut bad = Vec::new();
    for b in &blobs {
        let sha: Sha256 = b.sha256.parse().expect("listed blobs have hex names");
        let file =
            fs::File::open(&b.path).with_context(|| format!("cannot read {}", b.path.display()))?;
        let (actual, _) = granary_core::digest::hash_reader(file)?;
        bar.inc(b.size);
        if actual != sha {
            cache.remove(&sha);
            bad.push(b.sha256.clone());
        }
    }
    bar.finish_and_clear();
    let records = pulls::load_all(cache.root());
    for b in &bad {
        eprintln!(
            "removed {b}: its bytes no longer match their SHA-256 (a pull will fetch it again)"
        );
        for r in &records {
            for f in r.files.iter().filter(|f| &f.sha256 == b) {
                for d in &r.dirs {
                    eprintln!(
                        "  damaged: {} of {}@{} in {}",
                        f.path,
                        r.model,
                        &r.revision[..12.min(r.revision.len())],
                        d.display()
                    );
                }
            }
        }
    }
    if !bad.is_empty() {
        crate::fail!(
            Integrity,
            "{} of {} cached blobs were damaged and have been removed",
            bad.len(),
            blobs.len()
        );
    }
    ctx.report.say(format!("{} blobs verified", blobs.len()));
    Ok(())
}

fn rm(ctx: &Ctx, cache: &BlobCache, args: &CacheRmArgs) -> Result<()> {
    let target = crate::model_ref::ModelRef::parse(&args.model)?;
    let model = target.id.to_string();
    let records = pulls::load_all(cache.root());
    let matches = |r: &PullRecord| {
        r.model.eq_ignore_ascii_case(&model)
            && match &target.rev {
                None => true,
                Some(granary_core::RevisionRef::Id(id)) => r.revision == id.to_string(),
                Some(rev) => {
                    let rev = rev.to_string();
                    r.refs.contains(&rev) || r.revision.starts_with(&rev)
                }
            }
    };
    let (gone, kept): (Vec<_>, Vec<_>) = records.into_iter().partition(|r| matches(r));
    if gone.is_empty() {
        crate::fail!(NotFound, "the cache holds no pull of {}", args.model);
    }
    let needed: std::collections::HashSet<&str> = kept
        .iter()
        .flat_map(|r| r.files.iter().map(|f| f.sha256.as_str()))
        .collect();
    let mut freed = 0;
    let mut removed = std::collections::HashSet::new();
    for r in &gone {
        for f in &r.files {
            if needed.contains(f.sha256.as_str()) || !removed.insert(f.sha256.clone()) {
                continue;
            }
            if let Ok(sha) = f.sha256.parse::<Sha256>()
                && cache.blob_path(&sha).exists()
            {
                cache.remove(&sha);
                freed += f.size;
            }
        }
        pulls::forget(cache.root(), r)?;
    }
    ctx.report.say(format!(
        "removed {} revision(s) of {model} from the cache, {} freed (blobs other pulls need are kept; pulled directories keep their files)",
        gone.len(),
        human_bytes(freed)
    ));
    Ok(())
}

fn prune(ctx: &Ctx, cache: &BlobCache, args: &PruneArgs) -> Result<()> {
    if args.all {
        if cache.root().exists() {
            make_writable(cache.root());
            fs::remove_dir_all(cache.root())
                .with_context(|| format!("cannot remove {}", cache.root().display()))?;
        }
        ctx.report
            .say(format!("removed {}", cache.root().display()));
        return Ok(());
    }
    let mut freed = 0;
    for (path, bytes) in cache.partials()? {
        fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        freed += bytes;
    }
    let mut removed = 0;
    if args.unlinked {
        for b in cache.list()?.into_iter().filter(|b| b.links <= 1) {
            cache.remove(&b.sha256.parse().expect("listed blobs have hex names"));
            freed += b.size;
            removed += 1;
        }
    }
    ctx.report.say(format!(
        "freed {} ({removed} blobs removed, partial downloads cleared)",
        human_bytes(freed)
    ));
    Ok(())
}

/// Cached blobs are read-only; directories are not, so removal works, but
/// some platforms refuse to unlink read-only files.
fn make_writable(root: &std::path::Path) {
    #[cfg(not(unix))]
    for entry in walkdir::WalkDir::new(root).into_iter().flatten() {
        if let Ok(meta) = entry.metadata() {
            let mut p = meta.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            p.set_readonly(false);
            let _ = fs::set_permissions(entry.path(), p);
        }
    }
    let _ = root;
}
