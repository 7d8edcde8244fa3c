//! Turning the fixed sentence or prompt into token ids: with the revision's
//! `tokenizer.json` when it has one, else with fixed ids.

use std::path::Path;

use tokenizers::Tokenizer;

use crate::outcome::{Result, Stop, first_line};
use crate::run_log::RunLog;

/// The revision's tokenizer, if it ships `tokenizer.json`.
pub fn tokenizer(dir: &Path, log: &mut RunLog) -> Result<Option<Tokenizer>> {
    let path = dir.join("tokenizer.json");
    if !path.exists() {
        log.note("no tokenizer.json: using fixed token ids");
        return Ok(None);
    }
    let tok = Tokenizer::from_file(&path).map_err(|e| {
        Stop::failed(format!(
            "tokenizer.json cannot be read: {}",
            first_line(&e.to_string())
        ))
    })?;
    log.note("tokenizer.json loaded");
    Ok(Some(tok))
}

/// Encodes `text`, or falls back to `fixed` (each id taken modulo the vocabulary).
pub fn encode(
    tok: Option<&Tokenizer>,
    text: &str,
    fixed: &[u32],
    vocab: usize,
) -> Result<Vec<u32>> {
    let ids = match tok {
        Some(tok) => tok
            .encode(text, true)
            .map_err(|e| Stop::failed(format!("tokenizer.json cannot encode the prompt: {e}")))?
            .get_ids()
            .to_vec(),
        None => fixed.iter().map(|id| id % vocab as u32).collect(),
    };
    if ids.is_empty() {
        return Err(Stop::failed(
            "the tokenizer turns the prompt into no tokens",
        ));
    }
    if let Some(id) = ids.iter().find(|&&id| id as usize >= vocab) {
        return Err(Stop::failed(format!(
            "tokenizer.json gives token id {id}, outside the model's vocabulary of {vocab}"
        )));
    }
    Ok(ids)
}

/// The text of `ids`, or an empty string without a tokenizer.
pub fn decode(tok: Option<&Tokenizer>, ids: &[u32]) -> String {
    tok.and_then(|t| t.decode(ids, true).ok())
        .unwrap_or_default()
}
