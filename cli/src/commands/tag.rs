//! `granary tag OWNER/NAME REF TAG [--force]`.

use anyhow::Result;
use granary_core::ModelId;
use granary_core::api::{CreateTagRequest, RefInfo};

use crate::cli::TagArgs;
use crate::context::Ctx;
use crate::error::{Kind, kind_of};
use crate::model_ref::{ModelRef, encode_segment, model_base, parse_rev};

pub async fn run(ctx: &Ctx, args: TagArgs) -> Result<()> {
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
    println!("{}", info.revision);
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
