//! One verification from start to report: header checks, budget, loading,
//! finiteness, smoke inference, evaluations, and the figures around them.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device};
use granary_core::api::VerificationStatus;

use crate::outcome::{Result, Stop};
use crate::run_log::RunLog;
use crate::smoke::{self, Embedding, Encoder, Family, Smoke};
use crate::{
    CANDLE_VERSION, VERIFIER_VERSION, VerificationReport, VerifyInput, checks, device, load, memory,
};

pub fn verify(input: &VerifyInput) -> VerificationReport {
    let mut log = RunLog::new();
    let device = device::best();
    let mut report = VerificationReport {
        device: device::describe(&device),
        candle_version: CANDLE_VERSION.to_string(),
        verifier_version: VERIFIER_VERSION.to_string(),
        fingerprint: serde_json::Value::Null,
        ..Default::default()
    };
    let peak_reset = memory::reset_peak();
    log.note(format!(
        "verifying {} on {}",
        input.dir.display(),
        report.device
    ));
    if let Some(rss) = memory::rss_bytes() {
        log.note(format!("resident memory at start: {} MB", rss / 1_000_000));
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run(input, &device, &mut report, &mut log)
    }));
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(Stop::error(format!("the verifier panicked: {what}")))
        }
    };
    report.peak_memory_bytes = memory::peak_rss_bytes();
    if let Some(peak) = report.peak_memory_bytes {
        let scope = if peak_reset {
            "during the run"
        } else {
            "of the process"
        };
        log.note(format!(
            "peak resident memory {scope}: {} MB",
            peak / 1_000_000
        ));
    }
    match outcome {
        Ok(None) => {
            report.status = VerificationStatus::Passed;
            log.note("passed");
        }
        Ok(Some(reason)) => {
            log.note(format!("degraded: {reason}"));
            report.status = VerificationStatus::Degraded;
            report.reason = Some(reason);
        }
        Err(Stop::Failed(reason)) => {
            log.note(format!("failed: {reason}"));
            report.status = VerificationStatus::Failed;
            report.reason = Some(reason);
        }
        Err(Stop::Error(reason)) => {
            log.note(format!("error: {reason}"));
            report.status = VerificationStatus::Error;
            report.reason = Some(reason);
        }
    }
    report.log = log.render();
    report
}

/// The floats' dtype while running: F32 on the CPU; on CUDA, F16 or BF16 when
/// every float tensor is stored so, else F32.
fn run_dtype(device: &Device, files: &[checks::CheckedFile]) -> DType {
    let floats: Vec<&str> = files
        .iter()
        .flat_map(|f| f.elements.keys())
        .map(String::as_str)
        .filter(|d| checks::is_float(d))
        .collect();
    if device.is_cuda() && !floats.is_empty() {
        for (name, dtype) in [("F16", DType::F16), ("BF16", DType::BF16)] {
            if floats.iter().all(|d| *d == name) {
                return dtype;
            }
        }
    }
    DType::F32
}

/// The stored float dtypes (`BF16`, `F16+F32`) when they are not all `run`.
fn converted_from(files: &[checks::CheckedFile], run: &str) -> Option<String> {
    let stored: std::collections::BTreeSet<&str> = files
        .iter()
        .flat_map(|f| f.elements.keys())
        .map(String::as_str)
        .filter(|d| checks::is_float(d))
        .collect();
    (stored.iter().any(|d| *d != run)).then(|| stored.into_iter().collect::<Vec<_>>().join("+"))
}

/// Ok(None) when the revision passes, Ok(Some(reason)) when it runs but an
/// evaluation calls it degraded.
fn run(
    input: &VerifyInput,
    device: &Device,
    report: &mut VerificationReport,
    log: &mut RunLog,
) -> Result<Option<String>> {
    if !input.dir.is_dir() {
        return Err(Stop::error(format!(
            "{} is not a directory",
            input.dir.display()
        )));
    }
    let mut files = Vec::new();
    for (name, path) in checks::find_safetensors(&input.dir)? {
        files.push(checks::check_header(&name, &path)?);
        log.note(format!("header of `{name}` is well formed"));
    }
    for file in &files {
        for (dtype, n) in &file.elements {
            *report.parameters.entry(dtype.clone()).or_insert(0) += n;
        }
    }
    let (family, config) = smoke::read_config(&input.dir)?;
    report.architecture = family.name().to_string();
    log.note(format!(
        "config.json: {} smoke inference",
        report.architecture
    ));

    let dtype = run_dtype(device, &files);
    report.dtype = format!("{dtype:?}").to_uppercase();
    report.converted_from = converted_from(&files, &report.dtype);
    if let Some(from) = &report.converted_from {
        log.note(format!(
            "floats stored as {from} run as {}: {}",
            report.dtype,
            if device.is_cuda() {
                "the tensors mix float dtypes"
            } else {
                "the CPU computes in F32"
            }
        ));
    }
    let needed = checks::loaded_bytes(&files, dtype.size_in_bytes() as u64);
    checks::check_budget(needed, input.memory_budget_bytes)?;
    log.note(format!(
        "tensors need {needed} bytes as {}, within the budget",
        report.dtype
    ));

    let t = Instant::now();
    let loaded = load::load_all(&files, device, dtype, log)?;
    let load_ms = smoke::ms_since(t);
    report.load_ms = Some(load_ms);
    log.note(format!(
        "loaded {} tensors in {load_ms:.1} ms",
        loaded.tensors.len()
    ));

    let mut smoke = Smoke {
        dir: &input.dir,
        device,
        dtype,
        deadline: Instant::now() + input.time_budget,
        time_budget: input.time_budget,
        log,
    };
    let result = smoke::run(&mut smoke, family, &config, loaded.tensors)?;
    report.architecture = result.architecture;
    report.latency_ms = result.latency_ms;
    report.tokens_per_s = result.tokens_per_s;
    report.items_per_s = result.items_per_s;
    report.gflops = result.gflops;
    report.fingerprint = result.fingerprint;
    report.evaluations = result.evaluated.evaluations;
    report.workload = result.workload;
    Ok(result.evaluated.degraded)
}

/// Embeds `texts` through the encoder smoke inference's own path, in F32 on
/// the best device, with no budgets.
pub fn embed_texts(dir: &Path, texts: &[&str]) -> Result<Vec<Embedding>> {
    let mut log = RunLog::new();
    let mut files = Vec::new();
    for (name, path) in checks::find_safetensors(dir)? {
        files.push(checks::check_header(&name, &path)?);
    }
    let (family, config) = smoke::read_config(dir)?;
    if family != Family::Bert {
        return Err(Stop::failed(format!(
            "config.json describes a {} model, not an encoder",
            family.name()
        )));
    }
    let device = device::best();
    let loaded = load::load_all(&files, &device, DType::F32, &mut log)?;
    let encoder = Encoder::load(dir, &device, DType::F32, &config, loaded.tensors, &mut log)?;
    texts.iter().map(|text| encoder.embed(text)).collect()
}
