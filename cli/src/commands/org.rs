//! `granary org create | add-member | remove-member | members`.

use anyhow::Result;
use granary_core::Role;
use granary_core::api::{CreateOrgRequest, MemberList, SetMemberRequest};
use serde_json::Value;

use crate::cli::OrgCommand;
use crate::context::Ctx;
use crate::model_ref::encode_segment;

pub async fn run(ctx: &Ctx, cmd: OrgCommand) -> Result<()> {
    ctx.client.require_token()?;
    match cmd {
        OrgCommand::Create(args) => {
            let body = CreateOrgRequest {
                name: args.org.clone(),
            };
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
            crate::outln!("{}", args.org);
            Ok(())
        }
        OrgCommand::AddMember(args) => {
            let url = member_url(&args.org, &args.user);
            let what = format!("cannot add {} to {}", args.user, args.org);
            let Some(role) = Role::parse(&args.role) else {
                crate::fail!(
                    Invalid,
                    "role `{}` is not one of read, write, admin",
                    args.role
                );
            };
            let set: Value = ctx
                .client
                .put_json(&url, &SetMemberRequest { role }, &what)
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
            let what = format!("cannot list the members of {}", args.org);
            let list: MemberList = ctx.client.get_json(&url, &what).await?;
            if ctx.global.json {
                // Through a `Value`, so the keys print in order as they always have.
                return ctx.print_json(&serde_json::to_value(&list.members)?);
            }
            for m in &list.members {
                crate::outln!("{:<24} {}", m.name, m.role.as_str());
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
