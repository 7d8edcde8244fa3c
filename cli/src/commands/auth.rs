//! `granary login`, `logout` and `whoami`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context as _, Result};
use granary_core::api::WhoAmI;

use crate::cli::LoginArgs;
use crate::client::Client;
use crate::config::Session;
use crate::context::Ctx;

pub async fn login(ctx: &mut Ctx, args: LoginArgs) -> Result<()> {
    let token = match ctx.global.token.clone().filter(|t| !t.trim().is_empty()) {
        Some(t) => t,
        None => read_token(args.stdin)?,
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        crate::fail!(
            Invalid,
            "no token given: paste the token `granary-server user create` printed"
        );
    }
    let session = Session {
        endpoint: ctx.session.endpoint.clone(),
        token: Some(token.clone()),
        token_source: None,
    };
    let who: WhoAmI = Client::new(&session)?
        .get_json(
            "/api/v1/whoami",
            &format!("{} refused the token", session.endpoint),
        )
        .await?;
    ctx.creds.endpoint = Some(session.endpoint.clone());
    ctx.creds.tokens.insert(session.endpoint.clone(), token);
    let path = ctx.creds.save(&ctx.config_dir)?;
    ctx.report.say(format!(
        "logged in to {} as {}; token stored in {}",
        session.endpoint,
        who.name,
        path.display()
    ));
    if ctx.global.json {
        ctx.print_json(&who)?;
    }
    Ok(())
}

/// A prompt without echo on a terminal; the first line of stdin otherwise.
fn read_token(force_stdin: bool) -> Result<String> {
    let stdin = std::io::stdin();
    if force_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the token from stdin")?;
        return Ok(line);
    }
    eprint!("Token: ");
    std::io::stderr().flush()?;
    let echo_off = std::process::Command::new("stty")
        .arg("-echo")
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success());
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if echo_off {
        let _ = std::process::Command::new("stty")
            .arg("echo")
            .stdin(std::process::Stdio::inherit())
            .status();
        eprintln!();
    }
    read.context("cannot read the token")?;
    Ok(line)
}

pub fn logout(ctx: &mut Ctx) -> Result<()> {
    let endpoint = ctx.session.endpoint.clone();
    if ctx.creds.tokens.remove(&endpoint).is_none() {
        ctx.report
            .say(format!("no token was stored for {endpoint}"));
        return Ok(());
    }
    if ctx.creds.endpoint.as_deref() == Some(endpoint.as_str()) {
        ctx.creds.endpoint = None;
    }
    ctx.creds.save(&ctx.config_dir)?;
    ctx.report.say(format!("logged out of {endpoint}"));
    Ok(())
}

pub async fn whoami(ctx: &Ctx) -> Result<()> {
    ctx.client.require_token()?;
    let who: WhoAmI = ctx
        .client
        .get_json(
            "/api/v1/whoami",
            &format!("cannot ask {} who you are", ctx.client.endpoint()),
        )
        .await?;
    if ctx.global.json {
        ctx.print_json(&who)?;
    } else {
        crate::outln!("{}{}", who.name, if who.admin { " (admin)" } else { "" });
    }
    Ok(())
}
