//! `granary token create | ls | revoke`: the caller's API tokens.

use anyhow::Result;
use granary_core::Role;
use granary_core::api::{CreateTokenRequest, NewToken, TokenList};
use serde_json::Value;

use crate::cli::{TokenCommand, TokenCreateArgs};
use crate::context::Ctx;
use crate::model_ref::encode_segment;

pub async fn run(ctx: &Ctx, cmd: TokenCommand) -> Result<()> {
    ctx.client.require_token()?;
    match cmd {
        TokenCommand::Create(args) => create(ctx, args).await,
        TokenCommand::Ls => ls(ctx).await,
        TokenCommand::Revoke(args) => {
            let url = format!("/api/v1/tokens/{}", encode_segment(&args.id));
            ctx.client
                .delete(&url, &format!("cannot revoke token {}", args.id))
                .await?;
            ctx.report.say(format!("revoked token {}", args.id));
            Ok(())
        }
    }
}

async fn create(ctx: &Ctx, args: TokenCreateArgs) -> Result<()> {
    let Some(scope) = Role::parse(&args.scope) else {
        crate::fail!(
            Invalid,
            "scope `{}` is not one of read, write, admin",
            args.scope
        );
    };
    let body = CreateTokenRequest {
        name: args.name,
        scope,
        owner: args.owner,
        expires_days: args.expires_days,
        expires_at: None,
    };
    let what = "cannot create a token";
    let answer: Value = ctx.client.post_json("/api/v1/tokens", &body, what).await?;
    if ctx.global.json {
        return ctx.print_json(&answer);
    }
    let made: NewToken = crate::client::from_value(answer, what)?;
    let expires = made.expires_at.map_or("never".into(), date);
    ctx.report.say(format!(
        "created token {} `{}`: scope {}, namespace {}, expires {expires}; it is shown only now",
        made.id,
        made.name,
        made.scope.as_str(),
        made.owner.as_deref().unwrap_or("any"),
    ));
    crate::outln!("{}", made.token);
    Ok(())
}

async fn ls(ctx: &Ctx) -> Result<()> {
    let list: TokenList = ctx
        .client
        .get_json("/api/v1/tokens", "cannot list your tokens")
        .await?;
    if ctx.global.json {
        // Through a `Value`, so the keys print in order as they always have.
        return ctx.print_json(&serde_json::to_value(&list.tokens)?);
    }
    crate::outln!(
        "{:<24} {:<16} {:<6} {:<16} {:<17} {:<17} {:<17} STATE",
        "ID",
        "NAME",
        "SCOPE",
        "NAMESPACE",
        "CREATED",
        "LAST USED",
        "EXPIRES"
    );
    let now = granary_core::time::now_ms();
    for t in &list.tokens {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "live"
        };
        crate::outln!(
            "{:<24} {:<16} {:<6} {:<16} {:<17} {:<17} {:<17} {state}",
            t.id,
            t.name,
            t.scope.as_str(),
            t.owner_limit.as_deref().unwrap_or("any"),
            date(t.created_at),
            t.last_used_at.map_or("-".into(), date),
            t.expires_at.map_or("never".into(), date),
        );
    }
    Ok(())
}

/// `2026-11-28 13:07` (UTC).
fn date(ms: i64) -> String {
    granary_core::time::rfc3339(ms)[..16].replace('T', " ")
}
