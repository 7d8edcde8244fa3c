//! What every command gets: the global flags, the chosen endpoint and token,
//! an API client and a reporter for stderr.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::Global;
use crate::client::Client;
use crate::config::{self, Credentials, Session};
use crate::progress::Reporter;

pub struct Ctx {
    pub global: Global,
    pub session: Session,
    pub client: Client,
    pub report: Reporter,
    pub config_dir: PathBuf,
    pub creds: Credentials,
}

impl Ctx {
    pub fn new(global: Global) -> Result<Self> {
        let config_dir = config::config_dir()?;
        let creds = Credentials::load(&config_dir)?;
        let session = config::resolve(&global, &creds);
        config::check_endpoint(&session.endpoint, global.endpoint.is_some())?;
        let client = Client::new(&session)?;
        let report = Reporter::new(global.quiet);
        Ok(Self {
            global,
            session,
            client,
            report,
            config_dir,
            creds,
        })
    }

    /// Prints a value as pretty JSON on stdout.
    pub fn print_json(&self, value: &impl serde::Serialize) -> Result<()> {
        crate::outln!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }
}
