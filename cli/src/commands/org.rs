//! `granary org create | add-member | remove-member | members`.

use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::OrgCommand;
use crate::context::Ctx;
use crate::model_ref::encode_segment;

pub async fn run(ctx: &Ctx, cmd: OrgCommand) -> Result<()> {
    ctx.client.require_token()?;
    match cmd {
        OrgCommand::Create(args) => {
            let body = json!({"name": args.org});
            let made: Value = ctx
                .client
                .post_json(
                    "/api/v1/orgs",
                    &body,
                    &format!("cannot create organisation {}", args.org),
                )
                .await?;
            ctx.report.say(format!(
                "created organisation {}; you are its admin",
                args.org
            ));
            if ctx.global.json {
                return ctx.print_json(&made);
            }
            println!("{}", args.org);
            Ok(())
        }
        OrgCommand::AddMember(args) => {
            let url = member_url(&args.org, &args.user);
            let what = format!("cannot add {} to {}", args.user, args.org);
            let set: Value = ctx
                .client
                .put_json(&url, &json!({"role": args.role}), &what)
                .await?;
            ctx.report.say(format!(
                "{} is a member of {} with the {} role",
                args.user, args.org, args.role
            ));
            if ctx.global.json {
                return ctx.print_json(&set);
            }
            Ok(())
        }
        OrgCommand::RemoveMember(args) => {
            let what = format!("cannot remove {} from {}", args.user, args.org);
            ctx.client
                .delete(&member_url(&args.org, &args.user), &what)
                .await?;
            ctx.report.say(format!(
                "{} is no longer a member of {}",
                args.user, args.org
            ));
            Ok(())
        }
        OrgCommand::Members(args) => {
            let url = format!("/api/v1/orgs/{}/members", encode_segment(&args.org));
            let list: Value = ctx
                .client
                .get_json(&url, &format!("cannot list the members of {}", args.org))
                .await?;
            let members = list
                .get("members")
                .cloned()
                .unwrap_or(Value::Array(Vec::new()));
            if ctx.global.json {
                return ctx.print_json(&members);
            }
            for m in members.as_array().into_iter().flatten() {
                let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                println!("{:<24} {}", s("name"), s("role"));
            }
            Ok(())
        }
    }
}

fn member_url(org: &str, user: &str) -> String {
    format!(
        "/api/v1/orgs/{}/members/{}",
        encode_segment(org),
        encode_segment(user)
    )
}
