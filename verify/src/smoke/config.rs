//! Sanity limits on `config.json` numbers, checked before any model code sees
//! them, so a hostile config cannot ask for absurd allocations or divide by zero.

use crate::outcome::{Result, Stop};

/// The first of `keys` present in the config, as a number in `1..=max`.
pub fn dim(config: &serde_json::Value, keys: &[&str], max: u64) -> Result<usize> {
    let (key, value) = keys
        .iter()
        .find_map(|k| config.get(*k).map(|v| (*k, v)))
        .ok_or_else(|| Stop::failed(format!("config.json has no `{}`", keys[0])))?;
    match value.as_u64() {
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        _ => Err(Stop::failed(format!(
            "config.json gives `{key}` = {value}, not a whole number from 1 to {max}"
        ))),
    }
}

/// Checks that `a` is a multiple of `b`, as head counts must be.
pub fn divides(a: (&str, usize), b: (&str, usize)) -> Result<()> {
    if !a.1.is_multiple_of(b.1) {
        return Err(Stop::failed(format!(
            "config.json gives `{}` = {}, not a multiple of `{}` = {}",
            a.0, a.1, b.0, b.1
        )));
    }
    Ok(())
}

/// Deserialises the config into a candle-transformers config type.
pub fn parse<T: serde::de::DeserializeOwned>(config: &serde_json::Value, what: &str) -> Result<T> {
    serde_json::from_value(config.clone())
        .map_err(|e| Stop::failed(format!("config.json does not describe a {what} model: {e}")))
}

/// Limits generous enough for every published model.
pub const MAX_HIDDEN: u64 = 1 << 16;
pub const MAX_LAYERS: u64 = 1024;
pub const MAX_HEADS: u64 = 1024;
pub const MAX_VOCAB: u64 = 1 << 22;
pub const MAX_POSITIONS: u64 = 1 << 24;
/// Rotary tables are built for this many positions at most: the smoke
/// inference never needs more, and a config cannot make us allocate more.
pub const ROPE_POSITIONS: usize = 512;
