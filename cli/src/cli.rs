//! The command line: every command, flag and environment variable of `granary`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::EXIT_CODES_HELP;

/// The default registry when neither `--endpoint`, `GRANARY_ENDPOINT` nor a login names one.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";

#[derive(Debug, Parser)]
#[command(
    name = "granary",
    version,
    about = "Push, pull and inspect open-weights models in a Granary registry.",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// The heading the flags of every command are listed under, apart from a command's own.
const GLOBAL: &str = "Global options";

/// Flags every command accepts.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Registry URL [default: the endpoint of `granary login`, else http://127.0.0.1:8080]
    #[arg(
        long,
        global = true,
        env = "GRANARY_ENDPOINT",
        value_name = "URL",
        help_heading = GLOBAL
    )]
    pub endpoint: Option<String>,
    /// API token (else GRANARY_TOKEN, else the one stored by `granary login`)
    #[arg(
        long,
        global = true,
        env = "GRANARY_TOKEN",
        value_name = "T",
        hide_env_values = true,
        help_heading = GLOBAL
    )]
    pub token: Option<String>,
    /// Print data as JSON on stdout
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// Print nothing on stderr but errors (no progress bars)
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a token with the registry and store it for later commands
    Login(LoginArgs),
    /// Forget the token stored for the endpoint
    Logout,
    /// Show who the token belongs to
    Whoami,
    /// Upload a directory as a new revision of OWNER/NAME
    Push(PushArgs),
    /// Download a revision of OWNER/NAME into a directory, verified and cached
    Pull(PullArgs),
    /// Show a revision: files, sizes, digests, license, parameters, verification
    Info(InfoArgs),
    /// List models, all or one owner's
    Ls(LsArgs),
    /// Show the history of a branch, newest first
    Log(LogArgs),
    /// Add, list and remove the tags that name revisions
    #[command(subcommand)]
    Tag(TagCommand),
    /// Create, list and remove branches
    #[command(subcommand)]
    Branch(BranchCommand),
    /// Search models by name
    Search(SearchArgs),
    /// Inspect, verify or prune the local blob cache
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Create a model, change its visibility or gate, or delete it
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Create, list and revoke API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create organisations and manage their members
    #[command(subcommand)]
    Org(OrgCommand),
    /// Accept the license of a gated model
    #[command(subcommand)]
    License(LicenseCommand),
    /// Register, list, test and remove webhooks of a model or a namespace
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Show the registry's signing key (the one `pull` trusts for this endpoint)
    Key,
    /// Save a revision's signature (OMS bundle), for `model_signing verify`
    Signature(SignatureArgs),
    /// Check the signed attestation of a revision's latest verification run
    VerifyAttestation(InfoArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct SignatureArgs {
    /// OWNER/NAME, OWNER/NAME:REF or OWNER/NAME@REVISION
    pub model: String,
    /// Where to write the bundle
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Read the token from stdin even when it is a terminal
    #[arg(long)]
    pub stdin: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The directory to upload (`.git/` and what `.granaryignore` lists are skipped)
    pub dir: PathBuf,
    /// The model, OWNER/NAME (created by its first push)
    pub model: String,
    /// The branch to move
    #[arg(long, short, default_value = "main")]
    pub branch: String,
    /// Also tag the new revision
    #[arg(long, short)]
    pub tag: Option<String>,
    /// The revision message
    #[arg(long, short)]
    pub message: Option<String>,
    /// SPDX license id (else README.md's front matter `license:` decides)
    #[arg(long, value_name = "SPDX")]
    pub license: Option<String>,
    /// With `--license other`: the license's name
    #[arg(long)]
    pub license_name: Option<String>,
    /// Commit only if the branch still points at REV (default: its head now)
    #[arg(long, value_name = "REV")]
    pub parent: Option<String>,
    /// Create the model private (first push only; later pushes keep its visibility)
    #[arg(long)]
    pub private: bool,
    /// Blobs uploaded at once (each sends its parts one after another, in order)
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Remove the parent's files that DIR lacks and that match GLOB (repeatable;
    /// without it or --sync they are kept)
    #[arg(long, value_name = "GLOB")]
    pub delete: Vec<String>,
    /// Make the revision exactly DIR: remove every file of the parent that DIR lacks
    #[arg(long, conflicts_with = "delete")]
    pub sync: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// OWNER/NAME, OWNER/NAME:REF (branch or tag) or OWNER/NAME@REVISION (id or 12+ hex prefix)
    pub model: String,
    /// Where to put the files [default: ./NAME]
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Only files matching this glob (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip files matching this glob (repeatable; wins over --include)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Range requests in flight at once
    #[arg(long, short = 'j', default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Trust this public key (PEM) for the endpoint's signatures, and pin it
    #[arg(long, value_name = "FILE")]
    pub trusted_key: Option<PathBuf>,
    /// Do not check the revision's signature and log entry (not recommended)
    #[arg(long)]
    pub no_verify_signature: bool,
    /// Hard-link the files to the cache even when running as root (root can write
    /// through the read-only mode into every linked copy; by default root gets copies)
    #[arg(long)]
    pub link: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// OWNER/NAME, OWNER/NAME:REF or OWNER/NAME@REVISION
    pub model: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only this owner's models
    pub owner: Option<String>,
    /// Show at most this many models
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,
    /// Order of the listing
    #[arg(long, value_enum, default_value_t = SortKey::Name)]
    pub sort: SortKey,
}

/// How `granary ls` orders models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    /// By OWNER/NAME
    Name,
    /// Most recently updated first
    Updated,
    /// Largest first
    Size,
    /// Most parameters first
    Params,
    /// Most downloaded first
    Downloads,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// OWNER/NAME or OWNER/NAME:BRANCH (default branch `main`)
    pub model: String,
    /// Show at most this many entries
    #[arg(long, short = 'n')]
    pub limit: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum TagCommand {
    /// Name a revision with a tag
    Add(TagArgs),
    /// List the tags and the revisions they name
    Ls(ModelArg),
    /// Remove a tag (the revision stays)
    Rm(RefNameArgs),
}

#[derive(Debug, Subcommand)]
pub enum BranchCommand {
    /// Create a branch at a revision
    Create(BranchCreateArgs),
    /// List the branches and the revisions they point at
    Ls(ModelArg),
    /// Remove a branch (not the default one; its revisions stay)
    Rm(RefNameArgs),
}

#[derive(Debug, Args)]
pub struct ModelArg {
    /// OWNER/NAME
    pub model: String,
}

#[derive(Debug, Args)]
pub struct RefNameArgs {
    /// OWNER/NAME
    pub model: String,
    /// The tag's or branch's name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct BranchCreateArgs {
    /// OWNER/NAME
    pub model: String,
    /// The new branch's name
    pub branch: String,
    /// Where it starts: a branch, tag, full id or 12+ hex prefix
    #[arg(long, value_name = "REV", default_value = "main")]
    pub from: String,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// OWNER/NAME
    pub model: String,
    /// The revision to tag: a branch, tag, full id or 12+ hex prefix
    pub rev: String,
    /// The tag's name
    pub tag: String,
    /// Move the tag if it already names another revision
    #[arg(long, short)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text to find in model names
    pub text: String,
    /// Only models under this license id
    #[arg(long)]
    pub license: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List the cache by model and revision (size, last use), and partial downloads
    Ls,
    /// Remove a model's pulled revisions (all, or those of one ref or revision) from the cache
    Rm(CacheRmArgs),
    /// Rehash every cached blob; remove (and report) those that do not match
    Verify,
    /// Remove partial downloads; with a flag, more
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct CacheRmArgs {
    /// OWNER/NAME, OWNER/NAME:REF or OWNER/NAME@REVISION (a prefix will do)
    pub model: String,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Also remove blobs no pulled directory links to (hard-link count 1)
    #[arg(long)]
    pub unlinked: bool,
    /// Remove the whole cache (pulled directories keep their files)
    #[arg(long, conflicts_with = "unlinked")]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create an empty model (to push into later)
    Create(RepoCreateArgs),
    /// Change a model's visibility or gate
    Settings(RepoSettingsArgs),
    /// Delete a model with all its revisions
    Delete(RepoDeleteArgs),
}

#[derive(Debug, Args)]
pub struct RepoCreateArgs {
    /// OWNER/NAME
    pub model: String,
    /// Only the owner (and its organisation's members) may see it
    #[arg(long)]
    pub private: bool,
    /// Downloads need the license accepted first (`granary license accept`)
    #[arg(long)]
    pub gated: bool,
}

#[derive(Debug, Args)]
pub struct RepoSettingsArgs {
    /// OWNER/NAME
    pub model: String,
    /// Make it private
    #[arg(long, conflicts_with = "public")]
    pub private: bool,
    /// Make it public
    #[arg(long)]
    pub public: bool,
    /// Gate its downloads behind license acceptance
    #[arg(long, conflicts_with = "ungated")]
    pub gated: bool,
    /// Lift the gate
    #[arg(long)]
    pub ungated: bool,
}

#[derive(Debug, Args)]
pub struct RepoDeleteArgs {
    /// OWNER/NAME
    pub model: String,
    /// Do not ask (needed when stdin is not a terminal)
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints it alone on the last line of stdout (shown once)
    Create(TokenCreateArgs),
    /// List your tokens (never their secrets)
    Ls,
    /// Revoke a token at once
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// What the token may do: read, write or admin (never more than the token creating it)
    #[arg(long, default_value = "write", value_parser = ["read", "write", "admin"])]
    pub scope: String,
    /// Limit the token to one namespace (a user or an organisation)
    #[arg(long, value_name = "NS")]
    pub owner: Option<String>,
    /// Expire after this many days [default: never]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub expires_days: Option<u32>,
    /// A name to recognise it by in `granary token ls`
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id (from `granary token ls`)
    pub id: String,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation; you become its first admin
    Create(OrgCreateArgs),
    /// Add a member, or change a member's role
    AddMember(OrgMemberArgs),
    /// Remove a member
    RemoveMember(OrgRemoveArgs),
    /// List the members and their roles
    Members(OrgCreateArgs),
}

#[derive(Debug, Args)]
pub struct OrgCreateArgs {
    /// The organisation's name
    pub org: String,
}

#[derive(Debug, Args)]
pub struct OrgMemberArgs {
    pub org: String,
    pub user: String,
    /// read: see private models; write: push; admin: manage members and settings
    #[arg(long, value_parser = ["read", "write", "admin"])]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct OrgRemoveArgs {
    pub org: String,
    pub user: String,
}

#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Accept a gated model's license, so you may download its files
    Accept(LicenseAcceptArgs),
}

#[derive(Debug, Args)]
pub struct LicenseAcceptArgs {
    /// OWNER/NAME
    pub model: String,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Register a webhook; prints its secret (shown once)
    Add(WebhookAddArgs),
    /// List the webhooks (never their secrets)
    Ls(WebhookTargetArgs),
    /// Remove a webhook
    Rm(WebhookIdArgs),
    /// Send a `webhook.ping` event to a webhook
    Test(WebhookIdArgs),
    /// List a webhook's deliveries and their attempts
    Deliveries(WebhookIdArgs),
}

#[derive(Debug, Args)]
pub struct WebhookTargetArgs {
    /// OWNER/NAME for one model's events, or a namespace (user or organisation) for all its models'
    pub target: String,
}

#[derive(Debug, Args)]
pub struct WebhookAddArgs {
    /// OWNER/NAME for one model's events, or a namespace (user or organisation) for all its models'
    pub target: String,
    /// Where to POST the events (http:// or https://, a public address)
    pub url: String,
    /// Only these event types (repeat the flag); default: every type
    #[arg(long = "event", value_name = "TYPE")]
    pub events: Vec<String>,
    /// The signing secret (16 to 256 bytes); default: one generated by the registry
    #[arg(long)]
    pub secret: Option<String>,
}

#[derive(Debug, Args)]
pub struct WebhookIdArgs {
    /// OWNER/NAME or a namespace, as given to `granary webhook add`
    pub target: String,
    /// The webhook's id (from `granary webhook ls`)
    pub id: String,
}
