//! What went wrong, in words a person can act on, and the exit code each kind
//! of failure maps to. Commands return `anyhow::Result`; a [`Failure`] anywhere
//! in the chain chooses the exit code, anything else exits with 1.

use std::fmt;

/// The kinds of failure the CLI tells apart, one exit code each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: anything not listed below (a server error, a local I/O error).
    Other,
    /// 2: the command line or the input files are wrong.
    Invalid,
    /// 3: the model, revision, ref or file does not exist (or is private).
    NotFound,
    /// 4: no token, a wrong token, or not allowed.
    Unauthorized,
    /// 5: a ref moved meanwhile, or a tag already names another revision.
    Conflict,
    /// 6: the server could not be reached, even after retrying.
    Network,
    /// 7: bytes did not match their SHA-256.
    Integrity,
    /// 8: a revision's signature is missing, malformed, does not verify with the
    /// trusted key, or does not cover exactly the revision's files.
    Signature,
    /// 9: the signature is for another revision.
    WrongRevision,
    /// 10: the registry signs with another key than the one trusted for it.
    KeyChanged,
    /// 11: the revision is not in the registry's transparency log.
    NotInLog,
    /// 12: the log's head is not an extension of the one seen before (history rewritten).
    LogInconsistent,
}

impl Kind {
    /// The process exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Other => 1,
            Kind::Invalid => 2,
            Kind::NotFound => 3,
            Kind::Unauthorized => 4,
            Kind::Conflict => 5,
            Kind::Network => 6,
            Kind::Integrity => 7,
            Kind::Signature => 8,
            Kind::WrongRevision => 9,
            Kind::KeyChanged => 10,
            Kind::NotInLog => 11,
            Kind::LogInconsistent => 12,
        }
    }
}

/// The exit codes, as `--help` and docs/CLI.md show them.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  other failure (server error, local I/O error)
  2  invalid input or usage
  3  not found (model, revision, ref or file)
  4  unauthorized or forbidden (log in, or check the token)
  5  conflict (the branch moved since you pulled: pull and push again)
  6  network failure (after retrying with backoff)
  7  integrity failure (a SHA-256 did not match)
  8  the revision's signature is bad (tampered, or not covering its files)
  9  the signature is for another revision
 10  the registry's signing key is not the one trusted for it
 11  the revision is not in the registry's transparency log
 12  the log's history was rewritten (its head is not consistent with the last one seen)";

/// A failure with a kind and a sentence.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Returns early with a [`Failure`] of the given kind.
#[macro_export]
macro_rules! fail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::Failure::new($crate::error::Kind::$kind, format!($($arg)*)).into())
    };
}

/// The kind of an error chain: the first [`Failure`] found, else `Other`.
pub fn kind_of(err: &anyhow::Error) -> Kind {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>().map(|f| f.kind))
        .unwrap_or(Kind::Other)
}

/// One line for stderr: the outermost message, then each cause not already said.
pub fn render(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_in_the_chain_decides() {
        let e: anyhow::Error = Failure::new(Kind::Conflict, "moved").into();
        let e = e.context("pushing alice/x");
        assert_eq!(kind_of(&e), Kind::Conflict);
        assert_eq!(kind_of(&e).exit_code(), 5);
        assert_eq!(render(&e), "pushing alice/x: moved");
        assert_eq!(kind_of(&anyhow::anyhow!("x")), Kind::Other);
    }
}
