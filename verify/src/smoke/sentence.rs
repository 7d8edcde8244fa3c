//! The sentence-transformers pipeline a revision declares (`modules.json`,
//! `1_Pooling/config.json`, `sentence_bert_config.json`), read so that the
//! encoder smoke inference computes what `SentenceTransformer.encode` computes
//! for one input, and the tokenizer set up as that library sets it up.

use std::path::{Component, Path};

use serde_json::Value;
use tokenizers::{Tokenizer, TruncationParams};

use super::pooling::Pooling;
use crate::outcome::{Result, Stop, first_line};
use crate::run_log::RunLog;

/// How one text becomes one embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Pooling modes, in the order sentence-transformers concatenates them.
    pub pooling: Vec<Pooling>,
    /// Whether the embedding is L2-normalised (a `Normalize` module).
    pub normalize: bool,
    /// Inputs are truncated to this many tokens, special tokens included.
    pub max_tokens: usize,
    /// `sentence_bert_config.json`'s `do_lower_case`: lowercase before tokenising.
    pub lowercase: bool,
    /// Why the output is not what sentence-transformers computes, if it is not.
    pub not_comparable: Option<String>,
}

/// Module types that map to a step here; any other module (Dense, ...) is not applied.
const TRANSFORMER: &str = "sentence_transformers.models.Transformer";
const POOLING: &str = "sentence_transformers.models.Pooling";
const NORMALIZE: &str = "sentence_transformers.models.Normalize";

/// Reads the pipeline; without `modules.json`, mean pooling and normalisation
/// (our default, which sentence-transformers would not apply to a bare encoder).
pub fn read(dir: &Path, max_positions: usize, log: &mut RunLog) -> Result<Pipeline> {
    let max_tokens = max_tokens(dir, max_positions)?;
    let lowercase = read_json(dir, "sentence_bert_config.json")?
        .and_then(|c| c["do_lower_case"].as_bool())
        .unwrap_or(false);
    let Some(modules) = read_json(dir, "modules.json")? else {
        log.note("no modules.json: mean pooling and L2 normalisation by default");
        return Ok(Pipeline {
            pooling: vec![Pooling::Mean],
            normalize: true,
            max_tokens,
            lowercase,
            not_comparable: Some("no modules.json: a default pipeline, not the model's".into()),
        });
    };
    let modules = modules
        .as_array()
        .ok_or_else(|| Stop::failed("modules.json is not a JSON array"))?;
    let mut pipeline = Pipeline {
        pooling: Vec::new(),
        normalize: false,
        max_tokens,
        lowercase,
        not_comparable: None,
    };
    for module in modules {
        match module["type"].as_str().unwrap_or_default() {
            TRANSFORMER => {}
            POOLING => pipeline.pooling = pooling_modes(dir, &module["path"])?,
            NORMALIZE => pipeline.normalize = true,
            other => {
                log.note(format!("modules.json: `{other}` is not applied"));
                pipeline.not_comparable = Some(format!("modules.json's `{other}` is not applied"));
            }
        }
    }
    if pipeline.pooling.is_empty() {
        // Token embeddings without pooling: we still fingerprint their mean.
        pipeline.pooling = vec![Pooling::Mean];
        pipeline.not_comparable = Some("modules.json has no Pooling module".into());
    }
    Ok(pipeline)
}

/// Turns off any padding `tokenizer.json` configures and truncates as the pipeline says.
pub fn prepare(tok: &mut Tokenizer, pipeline: &Pipeline, log: &mut RunLog) -> Result<()> {
    if let Some(padding) = tok.get_padding() {
        log.note(format!(
            "tokenizer.json pads ({:?}); padding turned off, as sentence-transformers does for one input",
            padding.strategy
        ));
    }
    tok.with_padding(None);
    tok.with_truncation(Some(TruncationParams {
        max_length: pipeline.max_tokens,
        ..Default::default()
    }))
    .map_err(|e| Stop::failed(format!("tokenizer.json cannot truncate: {e}")))?;
    Ok(())
}

/// `max_seq_length` from `sentence_bert_config.json`, else the smaller of
/// `tokenizer_config.json`'s `model_max_length` and the position table;
/// never more than the position table holds.
fn max_tokens(dir: &Path, max_positions: usize) -> Result<usize> {
    let declared = match read_json(dir, "sentence_bert_config.json")? {
        Some(c) if !c["max_seq_length"].is_null() => {
            Some(c["max_seq_length"].as_u64().ok_or_else(|| {
                Stop::failed("sentence_bert_config.json's `max_seq_length` is not a whole number")
            })?)
        }
        // transformers writes a huge sentinel (1e30) when the tokenizer sets no maximum.
        _ => read_json(dir, "tokenizer_config.json")?.and_then(|c| c["model_max_length"].as_u64()),
    };
    let max = declared.map_or(max_positions, |n| n.min(max_positions as u64) as usize);
    if max < 2 {
        return Err(Stop::failed(format!(
            "the model's maximum input is {max} tokens, too short for a sentence"
        )));
    }
    Ok(max)
}

/// The modes `<path>/config.json` of the Pooling module switches on.
fn pooling_modes(dir: &Path, path: &Value) -> Result<Vec<Pooling>> {
    let path = path.as_str().unwrap_or_default();
    if !Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(Stop::failed(format!(
            "modules.json gives the Pooling module the path `{path}`, outside the revision"
        )));
    }
    let file = Path::new(path).join("config.json");
    let name = file.display().to_string();
    let config = read_json(dir, &name)?.ok_or_else(|| {
        Stop::failed(format!(
            "modules.json names a Pooling module but `{name}` is missing"
        ))
    })?;
    let named = config["pooling_mode"].as_str();
    let modes: Vec<Pooling> = Pooling::ALL
        .into_iter()
        .filter(|m| named == Some(m.name()) || config[m.config_key()].as_bool() == Some(true))
        .collect();
    if modes.is_empty() {
        return Err(Stop::failed(format!(
            "`{name}` switches on no pooling mode"
        )));
    }
    Ok(modes)
}

/// A JSON file of the revision, or `None` when it is absent.
fn read_json(dir: &Path, name: &str) -> Result<Option<Value>> {
    let path = dir.join(name);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes =
        std::fs::read(&path).map_err(|e| Stop::error(format!("cannot read {name}: {e}")))?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Stop::failed(format!(
            "{name} is not valid JSON: {}",
            first_line(&e.to_string())
        ))
    })
}
