//! `granary-server`: run the registry and administer it.

use anyhow::Context as _;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use granary_server::config::{Config, ServeConfig};
use granary_server::{App, db};
use std::io::Write as _;

/// Transfers allocate and free MiB-sized buffers all the time; jemalloc reuses their pages.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "granary-server",
    version,
    about = "The Granary open-weights model registry"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the registry (embedded default: SQLite + local files under ./granary-data).
    Serve {
        #[command(flatten)]
        config: Config,
        #[command(flatten)]
        serve: ServeConfig,
    },
    /// Run only the verification worker (for GPU machines): needs the database and storage URLs.
    Worker {
        #[command(flatten)]
        config: Config,
    },
    /// Queue the verification of a revision again: OWNER/NAME, OWNER/NAME:REF or OWNER/NAME@REVISION.
    Verify {
        target: String,
        #[command(flatten)]
        config: Config,
    },
    /// Remove expired upload sessions, orphaned staged bytes and unreferenced blobs.
    Gc {
        /// Report what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only what is older than this many minutes is removed.
        #[arg(long, env = "GRANARY_GC_GRACE_MINUTES", default_value_t = 24 * 60)]
        grace_minutes: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: Config,
    },
    /// Check the database against the object store; exit non-zero when problems remain.
    Fsck {
        /// Delete the rows of damaged blobs (so they can be uploaded again) and old garbage.
        #[arg(long)]
        repair: bool,
        /// Also hash every blob's bytes.
        #[arg(long)]
        deep: bool,
        /// Garbage younger than this many minutes is left alone by --repair.
        #[arg(long, env = "GRANARY_GC_GRACE_MINUTES", default_value_t = 24 * 60)]
        grace_minutes: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: Config,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create the user if absent and print a new API token alone on the last line.
    Create {
        name: String,
        /// Make the user a server administrator.
        #[arg(long)]
        admin: bool,
        /// Read a web sign-in password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        config: Config,
    },
    /// List the users (name, and whether each is a server administrator).
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: Config,
    },
    /// Set a user's web sign-in password, read from standard input (first line).
    Passwd {
        name: String,
        #[command(flatten)]
        config: Config,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GRANARY_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match parse_command_line().command {
        Command::Serve { config, serve } => run_serve(config, serve).await,
        Command::Worker { config } => {
            let app = std::sync::Arc::new(App::open(config).await?);
            granary_server::verification::Worker::new(app)
                .run(shutdown_signal())
                .await;
            Ok(())
        }
        Command::Verify { target, config } => {
            let app = App::open(config).await?;
            let (model, job) =
                granary_server::routes::verification::requeue_target(&app, &target).await?;
            println!("queued verification job {job} for {model}");
            Ok(())
        }
        Command::Gc {
            dry_run,
            grace_minutes,
            json,
            config,
        } => {
            let app = App::open(config).await?;
            let opts = granary_server::maintenance::gc::GcOptions {
                grace_ms: minutes_ms(grace_minutes),
                dry_run,
            };
            let report = granary_server::maintenance::gc::collect(&app, opts).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for e in &report.errors {
                    eprintln!("error: {e}");
                }
                println!("{}", report.summary());
            }
            anyhow::ensure!(
                report.errors.is_empty(),
                "{} objects could not be removed",
                report.errors.len()
            );
            Ok(())
        }
        Command::Fsck {
            repair,
            deep,
            grace_minutes,
            json,
            config,
        } => {
            let app = App::open(config).await?;
            let opts = granary_server::maintenance::fsck::FsckOptions {
                repair,
                deep,
                grace_ms: minutes_ms(grace_minutes),
            };
            let report = granary_server::maintenance::fsck::check(&app, opts).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for p in &report.problems {
                    println!("problem: {} {}: {}", p.kind, p.subject, p.detail);
                }
                for r in &report.repaired {
                    println!("repaired: {r}");
                }
                println!(
                    "checked {} blobs, {} xorbs and {} revisions: {} problems; {} unreferenced objects ({} bytes), {} removed",
                    report.blobs_checked,
                    report.xorbs_checked,
                    report.revisions_checked,
                    report.problems.len(),
                    report.garbage_objects,
                    report.garbage_bytes,
                    report.garbage_removed
                );
            }
            if !report.is_clean() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::User {
            command: command @ (UserCommand::List { .. } | UserCommand::Passwd { .. }),
        } => run_user_admin(command).await,
        Command::User {
            command:
                UserCommand::Create {
                    name,
                    admin,
                    password_stdin,
                    config,
                },
        } => {
            granary_core::names::validate_owner(&name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let app = open_for_admin(config).await?;
            let now = granary_core::time::now_ms();
            let user = db::users::ensure(&app.db, &name, admin, now).await?;
            anyhow::ensure!(
                user.kind == "user",
                "`{name}` is an organisation, not a user"
            );
            if password_stdin {
                set_password_from_stdin(&app, &user).await?;
            }
            let token = db::users::create_token(&app.db, &user.id, "cli", "admin", now).await?;
            println!(
                "created a token for user `{}`{}:",
                user.name,
                if user.is_admin { " (admin)" } else { "" }
            );
            println!("{token}");
            Ok(())
        }
    }
}

/// Opens the registry for an administration command, saying on stderr which
/// database it opened (without its password).
async fn open_for_admin(config: Config) -> anyhow::Result<App> {
    let url = config.database_url();
    let shown = match url::Url::parse(&url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url,
    };
    eprintln!("database: {shown}");
    App::open(config).await
}

/// `user list` and `user passwd`.
async fn run_user_admin(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::List { json, config } => {
            let app = open_for_admin(config).await?;
            let users = db::users::list(&app.db).await?;
            if json {
                let rows: Vec<_> = users
                    .iter()
                    .map(|u| serde_json::json!({"name": u.name, "admin": u.is_admin}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for u in &users {
                    println!("{}{}", u.name, if u.is_admin { " (admin)" } else { "" });
                }
            }
            Ok(())
        }
        UserCommand::Passwd { name, config } => {
            let app = open_for_admin(config).await?;
            let user = db::users::find_by_name(&app.db, &name)
                .await?
                .filter(|u| u.kind == "user")
                .ok_or_else(|| anyhow::anyhow!("no user `{name}` in this database"))?;
            set_password_from_stdin(&app, &user).await
        }
        // `main` runs `user create` itself.
        UserCommand::Create { .. } => anyhow::bail!("`user create` is not an admin listing"),
    }
}

/// The settings an administration command's `--help` lists: where the data is.
/// The rest of `Config` (limits, web, verification) is still accepted, as flags
/// and as `GRANARY_*` variables, but listed only by `serve --help`.
const ADMIN_SETTINGS: &[&str] = &["data_dir", "database_url", "storage_url"];

/// Parses the command line, with the administration commands' help listing only
/// their own flags and where the data is.
fn parse_command_line() -> Cli {
    let config_ids: Vec<String> = <Config as clap::Args>::augment_args(clap::Command::new("c"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| !ADMIN_SETTINGS.contains(&id.as_str()))
        .collect();
    let hide = |mut cmd: clap::Command| {
        for id in &config_ids {
            if cmd.get_arguments().any(|a| a.get_id() == id.as_str()) {
                cmd = cmd.mut_arg(id, |a| a.hide(true));
            }
        }
        cmd.after_help(
            "The registry's other settings (see `granary-server serve --help`) are accepted too.",
        )
    };
    let mut cmd = Cli::command();
    for name in ["verify", "gc", "fsck"] {
        cmd = cmd.mut_subcommand(name, hide);
    }
    cmd = cmd.mut_subcommand("user", |mut user| {
        for name in ["create", "list", "passwd"] {
            user = user.mut_subcommand(name, hide);
        }
        user
    });
    let matches = cmd.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

async fn run_serve(config: Config, serve: ServeConfig) -> anyhow::Result<()> {
    let app = std::sync::Arc::new(App::open(config).await?);
    let worker = if serve.no_worker {
        None
    } else {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let w = granary_server::verification::Worker::new(app.clone());
        let handle = tokio::spawn(w.run(async move {
            let _ = rx.await;
        }));
        Some((tx, handle))
    };
    // Webhook deliveries: every replica sends them (leases keep two from sending one at once).
    let (webhooks_stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let webhooks = tokio::spawn(granary_server::webhooks::Dispatcher::new(app.clone()).run(
        async move {
            let _ = stop_rx.await;
        },
    ));
    let gc = (serve.gc_interval_minutes > 0).then(|| {
        let every = std::time::Duration::from_secs(serve.gc_interval_minutes * 60);
        tokio::spawn(granary_server::maintenance::gc::run_periodically(
            app.clone(),
            every,
            minutes_ms(serve.gc_grace_minutes),
        ))
    });
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .with_context(|| format!("cannot listen on {}", serve.listen))?;
    let addr = listener.local_addr()?;
    println!("granary listening on http://{addr}");
    std::io::stdout().flush()?;
    tracing::info!(%addr, "serving");
    granary_server::serve(app, listener, shutdown_signal()).await?;
    if let Some((tx, handle)) = worker {
        let _ = tx.send(());
        let _ = handle.await;
    }
    let _ = webhooks_stop.send(());
    let _ = webhooks.await;
    if let Some(gc) = gc {
        gc.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

fn minutes_ms(minutes: u64) -> i64 {
    i64::try_from(minutes.saturating_mul(60_000)).unwrap_or(i64::MAX)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Sets a user's password to the first line of stdin, if it is an acceptable one.
async fn set_password_from_stdin(app: &App, user: &db::users::UserRow) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    granary_server::passwords::check_new(password).map_err(|e| anyhow::anyhow!(e))?;
    db::users::set_password(
        &app.db,
        &user.id,
        &granary_server::passwords::hash(password)?,
    )
    .await?;
    println!("password set for `{}`", user.name);
    Ok(())
}
