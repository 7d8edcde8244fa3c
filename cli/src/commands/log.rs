//! `granary log OWNER/NAME[:BRANCH]`: a branch's revisions, newest first.

use anyhow::Result;
use granary_core::api::Log;

use crate::cli::LogArgs;
use crate::context::Ctx;
use crate::model_ref::{ModelRef, encode_segment};

pub async fn run(ctx: &Ctx, args: LogArgs) -> Result<()> {
    let target = ModelRef::parse(&args.model)?;
    let branch = target.rev_or_main();
    let limit = args.limit.unwrap_or(usize::MAX);
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!(
            "{}/log/{}?limit=100",
            target.api_base(),
            encode_segment(&branch)
        );
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", encode_segment(c)));
        }
        let page: Log = ctx
            .client
            .get_json(
                &url,
                &format!("cannot read the log of {}:{branch}", target.id),
            )
            .await?;
        entries.extend(page.entries);
        cursor = page.next_cursor;
        if cursor.is_none() || entries.len() >= limit {
            break;
        }
    }
    entries.truncate(limit);
    if ctx.global.json {
        return ctx.print_json(&entries);
    }
    for e in &entries {
        let date = granary_core::time::rfc3339(e.created_at);
        crate::outln!(
            "{}  {}  {:<12} {}",
            &e.id.hex()[..12],
            &date[..16].replace('T', " "),
            e.author,
            e.message
        );
    }
    Ok(())
}
