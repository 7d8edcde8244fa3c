//! `granary tag add | ls | rm`: the tags that name revisions.

use anyhow::Result;
use granary_core::ModelId;
use granary_core::api::{CreateTagRequest, RefInfo, Refs};

use crate::cli::{TagArgs, TagCommand};
use crate::context::Ctx;
use crate::error::{Kind, kind_of};
use crate::model_ref::{ModelRef, encode_segment, model_base, parse_rev};

pub async fn run(ctx: &Ctx, cmd: TagCommand) -> Result<()> {
    match cmd {
        TagCommand::Add(args) => add(ctx, args).await,
        TagCommand::Ls(args) => {
            let id = ModelRef::parse_bare(&args.model)?;
            let refs = refs(ctx, &id).await?;
            show_refs(ctx, &refs.tags, "tags")
        }
        TagCommand::Rm(args) => {
            let id = ModelRef::parse_bare(&args.model)?;
            ctx.client.require_token()?;
            let url = format!("{}/tags/{}", model_base(&id), encode_segment(&args.name));
            let what = format!("cannot remove tag {} of {id}", args.name);
            ctx.client.delete(&url, &what).await?;
            ctx.report.say(format!("removed tag {} of {id}", args.name));
            Ok(())
        }
    }
}

async fn add(ctx: &Ctx, args: TagArgs) -> Result<()> {
    let id = ModelRef::parse_bare(&args.model)?;
    let rev = parse_rev(&args.rev, false)?;
    let what = format!("cannot tag {id}@{rev} as {}", args.tag);
    let answer = create(ctx, &id, &rev.to_string(), &args.tag, args.force).await?;
    if ctx.global.json {
        return ctx.print_json(&answer);
    }
    let info: RefInfo = crate::client::from_value(answer, &what)?;
    ctx.report
        .say(format!("tagged {id}@{} as {}", args.rev, args.tag));
    crate::outln!("{}", info.revision);
    Ok(())
}

/// The branches and tags of a model.
pub async fn refs(ctx: &Ctx, id: &ModelId) -> Result<Refs> {
    let url = format!("{}/refs", model_base(id));
    ctx.client
        .get_json(&url, &format!("cannot read the refs of {id}"))
        .await
}

/// A table of refs (name, revision, updated), a header row first; `--json`: the array.
pub fn show_refs(ctx: &Ctx, refs: &[RefInfo], kind: &str) -> Result<()> {
    if ctx.global.json {
        return ctx.print_json(&refs);
    }
    if refs.is_empty() {
        ctx.report.say(format!("no {kind}"));
        return Ok(());
    }
    let width = refs.iter().map(|r| r.name.len()).max().unwrap_or(0).max(4);
    crate::outln!("{:<width$}  {:<64}  UPDATED (UTC)", "NAME", "REVISION");
    for r in refs {
        crate::outln!(
            "{:<width$}  {}  {}",
            r.name,
            r.revision,
            &granary_core::time::rfc3339(r.updated_at)[..16].replace('T', " ")
        );
    }
    Ok(())
}

/// Creates (or with `force`, moves) a tag; answers the `RefInfo` JSON as the server sent it.
pub async fn create(
    ctx: &Ctx,
    id: &ModelId,
    rev: &str,
    tag: &str,
    force: bool,
) -> Result<serde_json::Value> {
    granary_core::names::validate_ref_name(tag)
        .map_err(|e| crate::error::Failure::new(Kind::Invalid, e))?;
    ctx.client.require_token()?;
    let url = format!("{}/tags/{}", model_base(id), encode_segment(tag));
    let body = CreateTagRequest {
        revision: rev.to_string(),
        force,
    };
    let what = format!("cannot tag {id}@{rev} as {tag}");
    match ctx.client.put_json(&url, &body, &what).await {
        Err(e) if kind_of(&e) == Kind::Conflict && !force => crate::fail!(
            Conflict,
            "{}; pass --force to move tag {tag}",
            crate::error::render(&e)
        ),
        other => other,
    }
}
