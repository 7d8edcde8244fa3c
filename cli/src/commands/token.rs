//! `granary token create | ls | revoke`: the caller's API tokens.

use anyhow::Result;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cli::{TokenCommand, TokenCreateArgs};
use crate::context::Ctx;
use crate::model_ref::encode_segment;

/// A token as `GET /api/v1/tokens` lists it (times in ms since the epoch).
#[derive(Debug, Deserialize, serde::Serialize)]
struct TokenRow {
    id: String,
    name: String,
    scope: String,
    owner_limit: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct TokenList {
    tokens: Vec<TokenRow>,
}

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
    let body = json!({"name": args.name, "scope": args.scope, "owner": args.owner, "expires_days": args.expires_days});
    let made: Value = ctx
        .client
        .post_json("/api/v1/tokens", &body, "cannot create a token")
        .await?;
    if ctx.global.json {
        return ctx.print_json(&made);
    }
    let s = |k: &str| {
        made.get(k)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string()
    };
    let expires = made
        .get("expires_at")
        .and_then(Value::as_i64)
        .map_or("never".into(), date);
    ctx.report.say(format!(
        "created token {} `{}`: scope {}, namespace {}, expires {expires}; it is shown only now",
        s("id"),
        s("name"),
        s("scope"),
        made.get("owner").and_then(Value::as_str).unwrap_or("any"),
    ));
    println!("{}", s("token"));
    Ok(())
}

async fn ls(ctx: &Ctx) -> Result<()> {
    let list: TokenList = ctx
        .client
        .get_json("/api/v1/tokens", "cannot list your tokens")
        .await?;
    if ctx.global.json {
        return ctx.print_json(&list.tokens);
    }
    println!(
        "{:<24} {:<16} {:<6} {:<16} {:<17} {:<17} {:<17} STATE",
        "ID", "NAME", "SCOPE", "NAMESPACE", "CREATED", "LAST USED", "EXPIRES"
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
        println!(
            "{:<24} {:<16} {:<6} {:<16} {:<17} {:<17} {:<17} {state}",
            t.id,
            t.name,
            t.scope,
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
