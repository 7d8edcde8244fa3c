//! `granary branch create | ls | rm`: branches made and removed outside a push
//! (a push moves its branch itself).

use anyhow::Result;
use granary_core::api::{CreateBranchRequest, RefInfo};

use crate::cli::BranchCommand;
use crate::context::Ctx;
use crate::error::{Failure, Kind};
use crate::model_ref::{ModelRef, encode_segment, model_base, parse_rev};

pub async fn run(ctx: &Ctx, cmd: BranchCommand) -> Result<()> {
    match cmd {
        BranchCommand::Create(args) => {
            let id = ModelRef::parse_bare(&args.model)?;
            granary_core::names::validate_ref_name(&args.branch)
                .map_err(|e| Failure::new(Kind::Invalid, e))?;
            let from = parse_rev(&args.from, false)?.to_string();
            ctx.client.require_token()?;
            let url = format!(
                "{}/branches/{}",
                model_base(&id),
                encode_segment(&args.branch)
            );
            let what = format!("cannot create branch {} of {id}", args.branch);
            let body = CreateBranchRequest { revision: from };
            let answer: serde_json::Value = ctx.client.put_json(&url, &body, &what).await?;
            if ctx.global.json {
                return ctx.print_json(&answer);
            }
            let info: RefInfo = crate::client::from_value(answer, &what)?;
            ctx.report.say(format!(
                "created branch {} of {id} at {}",
                args.branch, args.from
            ));
            crate::outln!("{}", info.revision);
            Ok(())
        }
        BranchCommand::Ls(args) => {
            let id = ModelRef::parse_bare(&args.model)?;
            let refs = crate::commands::tag::refs(ctx, &id).await?;
            crate::commands::tag::show_refs(ctx, &refs.branches, "branches")
        }
        BranchCommand::Rm(args) => {
            let id = ModelRef::parse_bare(&args.model)?;
            ctx.client.require_token()?;
            let url = format!(
                "{}/branches/{}",
                model_base(&id),
                encode_segment(&args.name)
            );
            let what = format!("cannot remove branch {} of {id}", args.name);
            ctx.client.delete(&url, &what).await?;
            ctx.report
                .say(format!("removed branch {} of {id}", args.name));
            Ok(())
        }
    }
}
