//! `granary repo create | settings | delete` and `granary license accept`:
//! a model's existence, visibility and gate, and accepting a gated model's
//! license.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context as _, Result};
use granary_core::api::{CreateRepoRequest, RepoSettings, UpdateSettingsRequest};
use serde_json::{Value, json};

use crate::cli::{LicenseCommand, RepoCommand, RepoCreateArgs, RepoDeleteArgs, RepoSettingsArgs};
use crate::context::Ctx;
use crate::model_ref::{ModelRef, model_base};

pub async fn run(ctx: &Ctx, cmd: RepoCommand) -> Result<()> {
    ctx.client.require_token()?;
    match cmd {
        RepoCommand::Create(args) => create(ctx, args).await,
        RepoCommand::Settings(args) => settings(ctx, args).await,
        RepoCommand::Delete(args) => delete(ctx, args).await,
    }
}

async fn create(ctx: &Ctx, args: RepoCreateArgs) -> Result<()> {
    let id = ModelRef::parse_bare(&args.model)?;
    let body = CreateRepoRequest {
        id: id.to_string(),
        private: args.private,
        gated: args.gated,
    };
    let what = format!("cannot create {id}");
    let answer: Value = ctx.client.post_json("/api/v1/repos", &body, &what).await?;
    let made: RepoSettings = crate::client::from_value(answer.clone(), &what)?;
    ctx.report
        .say(format!("created {id} ({})", describe(&made)));
    show(ctx, &answer, &made)
}

async fn settings(ctx: &Ctx, args: RepoSettingsArgs) -> Result<()> {
    let id = ModelRef::parse_bare(&args.model)?;
    let pick = |yes: bool, no: bool| {
        if yes {
            Some(true)
        } else if no {
            Some(false)
        } else {
            None
        }
    };
    let body = UpdateSettingsRequest {
        private: pick(args.private, args.public),
        gated: pick(args.gated, args.ungated),
    };
    let url = format!("{}/settings", model_base(&id));
    let what = format!("cannot change the settings of {id}");
    let answer: Value = ctx.client.patch_json(&url, &body, &what).await?;
    let now: RepoSettings = crate::client::from_value(answer.clone(), &what)?;
    ctx.report.say(format!("{id} is {}", describe(&now)));
    show(ctx, &answer, &now)
}

async fn delete(ctx: &Ctx, args: RepoDeleteArgs) -> Result<()> {
    let id = ModelRef::parse_bare(&args.model)?;
    if !args.yes {
        confirm(&id.to_string())?;
    }
    ctx.client
        .delete(&model_base(&id), &format!("cannot delete {id}"))
        .await?;
    ctx.report
        .say(format!("deleted {id} and all its revisions"));
    if ctx.global.json {
        return ctx.print_json(&json!({"id": id.to_string(), "deleted": true}));
    }
    Ok(())
}

/// Asks for the model's name on a terminal; refuses when stdin is not one.
fn confirm(id: &str) -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        crate::fail!(
            Invalid,
            "refusing to delete {id} without --yes: stdin is not a terminal to confirm on"
        );
    }
    eprint!("This deletes {id} and every revision of it, for everyone. Type {id} to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the confirmation")?;
    if line.trim() != id {
        crate::fail!(Invalid, "not confirmed: {id} was not deleted");
    }
    Ok(())
}

pub async fn license(ctx: &Ctx, cmd: LicenseCommand) -> Result<()> {
    let LicenseCommand::Accept(args) = cmd;
    ctx.client.require_token()?;
    let id = ModelRef::parse_bare(&args.model)?;
    let url = format!("{}/license/accept", model_base(&id));
    let what = format!("cannot accept the license of {id}");
    let accepted: Value = ctx.client.post_json(&url, &json!({}), &what).await?;
    ctx.report.say(format!(
        "accepted the license of {id}: `granary pull {id}` may download it now"
    ));
    if ctx.global.json {
        return ctx.print_json(&accepted);
    }
    Ok(())
}

/// `private, gated` / `public, not gated`.
fn describe(settings: &RepoSettings) -> String {
    let visibility = if settings.private {
        "private"
    } else {
        "public"
    };
    let gate = if settings.gated { "gated" } else { "not gated" };
    format!("{visibility}, {gate}")
}

/// `--json`: the server's answer as it came; else the model id on stdout.
fn show(ctx: &Ctx, answer: &Value, settings: &RepoSettings) -> Result<()> {
    if ctx.global.json {
        return ctx.print_json(answer);
    }
    crate::outln!("{}", settings.id);
    Ok(())
}
