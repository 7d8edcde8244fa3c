//! `granary`: the command line of a Granary registry. Push a directory as a
//! revision, pull a revision into a directory (verified, cached, resumable),
//! and inspect models, refs and the local cache. docs/CLI.md is the manual.

mod cache;
mod check;
mod cli;
mod client;
mod commands;
mod config;
mod context;
mod error;
mod examples;
mod hashing;
mod model_ref;
mod output;
mod progress;
mod pull;
mod pulls;
mod push;
mod scan;
mod trust;

/// Transfers allocate and free MiB-sized buffers all the time; jemalloc reuses their pages.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use crate::cli::{Cli, Command};
use crate::context::Ctx;

fn main() {
    let parsed = examples::command()
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                error::Kind::Invalid.exit_code()
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(err) = runtime.block_on(run(cli)) {
        eprintln!("error: {}", error::render(&err));
        std::process::exit(error::kind_of(&err).exit_code());
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions(args) = &cli.command {
        let mut script = Vec::new();
        let mut command = examples::command();
        clap_complete::generate(args.shell, &mut command, "granary", &mut script);
        crate::out!("{}", String::from_utf8_lossy(&script));
        return Ok(());
    }
    let mut ctx = Ctx::new(cli.global)?;
    match cli.command {
        Command::Login(args) => commands::auth::login(&mut ctx, args).await,
        Command::Logout => commands::auth::logout(&mut ctx),
        Command::Whoami => commands::auth::whoami(&ctx).await,
        Command::Push(args) => push::run(&ctx, args).await,
        Command::Pull(args) => pull::run(&ctx, args).await,
        Command::Info(args) => commands::info::run(&ctx, args).await,
        Command::Ls(args) => commands::list::ls(&ctx, args).await,
        Command::Log(args) => commands::log::run(&ctx, args).await,
        Command::Tag(cmd) => commands::tag::run(&ctx, cmd).await,
        Command::Branch(cmd) => commands::branch::run(&ctx, cmd).await,
        Command::Search(args) => {
            commands::list::search(&ctx, &args.text, args.license.as_deref()).await
        }
        Command::Cache(cmd) => commands::cache::run(&ctx, cmd),
        Command::Repo(cmd) => commands::repo::run(&ctx, cmd).await,
        Command::Token(cmd) => commands::token::run(&ctx, cmd).await,
        Command::Org(cmd) => commands::org::run(&ctx, cmd).await,
        Command::License(cmd) => commands::repo::license(&ctx, cmd).await,
        Command::Webhook(cmd) => commands::webhook::run(&ctx, cmd).await,
        Command::Key => commands::signing::key(&ctx).await,
        Command::Signature(args) => commands::signing::signature(&ctx, args).await,
        Command::VerifyAttestation(args) => commands::signing::verify_attestation(&ctx, args).await,
        // Answered above, before the context (and its endpoint) is built.
        Command::Completions(_) => Ok(()),
    }
}
