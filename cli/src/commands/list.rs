//! `granary ls [OWNER]` and `granary search TEXT`: model listings, every page,
//! under a header row; `ls` sorts and limits them.

use anyhow::Result;
use granary_core::api::{ModelList, ModelSummary};

use crate::cli::{LsArgs, SortKey};
use crate::context::Ctx;
use crate::model_ref::encode_segment;
use crate::progress::{human_bytes, human_count};

pub async fn ls(ctx: &Ctx, args: LsArgs) -> Result<()> {
    let mut query = Vec::new();
    if let Some(o) = &args.owner {
        query.push(("owner", o.as_str()));
    }
    let mut models = fetch_all(ctx, &query).await?;
    match args.sort {
        SortKey::Name => models.sort_by(|a, b| a.id.cmp(&b.id)),
        SortKey::Updated => models.sort_by_key(|m| std::cmp::Reverse(m.updated_at)),
        SortKey::Size => models.sort_by_key(|m| std::cmp::Reverse(m.total_size)),
        SortKey::Params => models.sort_by_key(|m| std::cmp::Reverse(m.parameter_total)),
        SortKey::Downloads => models.sort_by_key(|m| std::cmp::Reverse(m.downloads)),
    }
    models.truncate(args.limit.unwrap_or(usize::MAX));
    show(ctx, &models)
}

pub async fn search(ctx: &Ctx, text: &str, license: Option<&str>) -> Result<()> {
    let mut query = vec![("q", text)];
    if let Some(l) = license {
        query.push(("license", l));
    }
    let models = fetch_all(ctx, &query).await?;
    show(ctx, &models)
}

/// Follows `next_cursor` to the last page.
async fn fetch_all(ctx: &Ctx, query: &[(&str, &str)]) -> Result<Vec<ModelSummary>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = String::from("/api/v1/models?limit=100");
        for (k, v) in query {
            url.push_str(&format!("&{k}={}", encode_segment(v)));
        }
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", encode_segment(c)));
        }
        let page: ModelList = ctx.client.get_json(&url, "cannot list models").await?;
        out.extend(page.models);
        match page.next_cursor {
            Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
            _ => return Ok(out),
        }
    }
}

fn show(ctx: &Ctx, models: &[ModelSummary]) -> Result<()> {
    if ctx.global.json {
        return ctx.print_json(&models);
    }
    if !models.is_empty() {
        crate::outln!(
            "{:<40} {:<14} {:>10} {:>8}         {}",
            "MODEL",
            "LICENSE",
            "SIZE",
            "PARAMS",
            "HEAD"
        );
    }
    for m in models {
        crate::outln!(
            "{:<40} {:<14} {:>10} {:>8} params  {}",
            m.id,
            m.license.as_deref().unwrap_or("-"),
            human_bytes(m.total_size),
            human_count(m.parameter_total),
            m.head
                .map(|h| h.hex()[..12].to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
    if models.is_empty() {
        ctx.report.say("no models");
    }
    Ok(())
}
