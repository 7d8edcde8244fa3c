//! The keys that sign what the server hands to clients that cannot send their
//! credentials along: the Hub's LFS upload URLs, Xet CAS tokens and xorb URLs.
//! One secret, derived from the session secret (`GRANARY_SESSION_SECRET`) when
//! one is set, so every replica signs alike, else created once in
//! `<data-dir>/hf-signing.key`; each use derives its own key from it.

use hmac::{Hmac, Mac};

use crate::app::App;
use crate::error::{AppError, AppResult};

/// The signing key: derived from the session secret when one is configured (so
/// every replica of a scaled-out registry signs alike), else created on first use
/// in `<data-dir>/hf-signing.key`.
pub fn hf_key(state: &App) -> AppResult<Vec<u8>> {
    if let Some(secret) = &state.config.accounts.session_secret {
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).map_err(AppError::internal)?;
        mac.update(b"granary-hf-lfs-signing-key");
        return Ok(mac.finalize().into_bytes().to_vec());
    }
    let path = state.config.data_dir.join("hf-signing.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => return hex::decode(text.trim()).map_err(AppError::internal),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(AppError::internal(e)),
    }
    let key: [u8; 32] = rand::random();
    // 0600, and whole or not at all: a concurrent request never reads half a key.
    match crate::data_dir::create_secret_file(&path, hex::encode(key).as_bytes()) {
        Ok(()) => Ok(key.to_vec()),
        // Another request created it first: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => hf_key(state),
        Err(e) => Err(AppError::internal(e)),
    }
}

/// The key for one `purpose`, derived from the shared secret.
pub fn derived(state: &App, purpose: &str) -> AppResult<Vec<u8>> {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(&hf_key(state)?).map_err(AppError::internal)?;
    mac.update(purpose.as_bytes());
    Ok(mac.finalize().into_bytes().to_vec())
}
