//! `granary cache ls | verify | prune`.
//!
//! `prune` removes partial downloads; `--unlinked` also removes blobs that no
//! pulled directory links to any more (hard-link count 1); `--all` removes the
//! whole cache (pulled directories keep their files: they are hard links).

use std::fs;

use anyhow::{Context as _, Result};
use granary_core::Sha256;

use crate::cache::BlobCache;
use crate::cli::{CacheCommand, PruneArgs};
use crate::context::Ctx;
use crate::progress::human_bytes;

pub fn run(ctx: &Ctx, cmd: CacheCommand) -> Result<()> {
    let cache = BlobCache::new(crate::config::cache_dir()?);
    match cmd {
        CacheCommand::Ls => ls(ctx, &cache),
        CacheCommand::Verify => verify(ctx, &cache),
        CacheCommand::Prune(args) => prune(ctx, &cache, &args),
    }
}

fn ls(ctx: &Ctx, cache: &BlobCache) -> Result<()> {
    let blobs = cache.list()?;
    let partials = cache.partials()?;
    if ctx.global.json {
        let partials: Vec<_> = partials
            .iter()
            .map(|(p, n)| serde_json::json!({"path": p, "bytes": n}))
            .collect();
        return ctx.print_json(
            &serde_json::json!({"root": cache.root(), "blobs": blobs, "partial": partials}),
        );
    }
    for b in &blobs {
        crate::outln!(
            "{}  {:>10}  {} link(s)",
            b.sha256,
            human_bytes(b.size),
            b.links.saturating_sub(1)
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
    for b in &bad {
        eprintln!(
            "removed {b}: its bytes no longer match their SHA-256 (a pull will fetch it again)"
        );
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
