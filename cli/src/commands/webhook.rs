//! `granary webhook add | ls | rm | test | deliveries`: webhooks of one model
//! (`OWNER/NAME`) or of every model of a namespace (`OWNER`).

use anyhow::Result;
use granary_core::api::{CreateWebhookRequest, DeliveryList, PingQueued, WebhookInfo, WebhookList};
use serde_json::{Value, json};

use crate::cli::{WebhookAddArgs, WebhookCommand, WebhookIdArgs};
use crate::context::Ctx;
use crate::model_ref::{ModelRef, encode_segment, model_base};

pub async fn run(ctx: &Ctx, cmd: WebhookCommand) -> Result<()> {
    ctx.client.require_token()?;
    match cmd {
        WebhookCommand::Add(args) => add(ctx, args).await,
        WebhookCommand::Ls(args) => ls(ctx, &args.target).await,
        WebhookCommand::Rm(args) => {
            let url = format!("{}/{}", base(&args.target)?, encode_segment(&args.id));
            ctx.client
                .delete(&url, &format!("cannot remove webhook {}", args.id))
                .await?;
            ctx.report.say(format!("removed webhook {}", args.id));
            Ok(())
        }
        WebhookCommand::Test(args) => test(ctx, args).await,
        WebhookCommand::Deliveries(args) => deliveries(ctx, args).await,
    }
}

/// `…/webhooks` of a model (`OWNER/NAME`) or a namespace (`OWNER`).
fn base(target: &str) -> Result<String> {
    Ok(if target.contains('/') {
        format!("{}/webhooks", model_base(&ModelRef::parse_bare(target)?))
    } else {
        format!("/api/v1/namespaces/{}/webhooks", encode_segment(target))
    })
}

async fn add(ctx: &Ctx, args: WebhookAddArgs) -> Result<()> {
    let body = CreateWebhookRequest {
        url: args.url,
        secret: args.secret,
        events: args.events,
    };
    let made: WebhookInfo = ctx
        .client
        .post_json(
            &base(&args.target)?,
            &body,
            &format!("cannot add a webhook to {}", args.target),
        )
        .await?;
    if ctx.global.json {
        return ctx.print_json(&made);
    }
    ctx.report.say(format!(
        "added webhook {} for {} -> {} ({}); its secret is shown only now",
        made.id,
        args.target,
        made.url,
        events(&made.events)
    ));
    crate::outln!("{}", made.secret.as_deref().unwrap_or("-"));
    Ok(())
}

async fn ls(ctx: &Ctx, target: &str) -> Result<()> {
    let list: WebhookList = ctx
        .client
        .get_json(
            &base(target)?,
            &format!("cannot list the webhooks of {target}"),
        )
        .await?;
    if ctx.global.json {
        return ctx.print_json(&list.webhooks);
    }
    crate::outln!("{:<32} {:<17} {:<40} EVENTS", "ID", "CREATED", "URL");
    for w in &list.webhooks {
        crate::outln!(
            "{:<32} {:<17} {:<40} {}",
            w.id,
            date(w.created_at),
            w.url,
            events(&w.events)
        );
    }
    Ok(())
}

async fn test(ctx: &Ctx, args: WebhookIdArgs) -> Result<()> {
    let url = format!("{}/{}/test", base(&args.target)?, encode_segment(&args.id));
    let what = format!("cannot test webhook {}", args.id);
    let answer: Value = ctx.client.post_json(&url, &json!({}), &what).await?;
    if ctx.global.json {
        return ctx.print_json(&answer);
    }
    let sent: PingQueued = crate::client::from_value(answer, &what)?;
    ctx.report.say(format!(
        "queued a webhook.ping event {} for webhook {} (see `granary webhook deliveries`)",
        sent.event_id, args.id
    ));
    Ok(())
}

async fn deliveries(ctx: &Ctx, args: WebhookIdArgs) -> Result<()> {
    let url = format!(
        "{}/{}/deliveries",
        base(&args.target)?,
        encode_segment(&args.id)
    );
    let list: DeliveryList = ctx
        .client
        .get_json(
            &url,
            &format!("cannot list the deliveries of webhook {}", args.id),
        )
        .await?;
    if ctx.global.json {
        return ctx.print_json(&list.deliveries);
    }
    crate::outln!(
        "{:<32} {:<22} {:<9} {:<8} LAST",
        "EVENT",
        "TYPE",
        "STATE",
        "ATTEMPTS"
    );
    for d in &list.deliveries {
        let last = d
            .attempts
            .last()
            .map_or("-".to_string(), |a| match (&a.status, &a.error) {
                (Some(s), None) => format!("{s} at {}", date(a.at)),
                (_, Some(e)) => format!("{e} at {}", date(a.at)),
                (None, None) => date(a.at),
            });
        crate::outln!(
            "{:<32} {:<22} {:<9} {:<8} {last}",
            d.event_id,
            d.event_type,
            d.state,
            d.attempts.len()
        );
    }
    Ok(())
}

fn events(kinds: &[String]) -> String {
    if kinds.is_empty() {
        "all events".into()
    } else {
        kinds.join(",")
    }
}

/// `2026-11-28 13:07` (UTC).
fn date(ms: i64) -> String {
    granary_core::time::rfc3339(ms)[..16].replace('T', " ")
}
