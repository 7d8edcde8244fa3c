//! The generic probe for architectures we do not know: every 2-D float
//! weight times a fixed pseudo-random input; outputs must be finite, their
//! sums make the fingerprint, and the multiplications give GFLOP/s.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use candle_core::{DType, Tensor};
use serde_json::json;

use super::{Smoke, SmokeResult};
use crate::load::check_output;
use crate::outcome::{Result, Stop};

/// Columns of the probe input.
const COLUMNS: usize = 8;

pub fn run(smoke: &mut Smoke, tensors: HashMap<String, Tensor>) -> Result<SmokeResult> {
    let mut names: Vec<_> = tensors.keys().cloned().collect();
    names.sort();
    let mut checksums = BTreeMap::new();
    let (mut flops, mut seconds) = (0f64, 0f64);
    for name in names {
        let w = &tensors[&name];
        let Ok((rows, cols)) = w.dims2() else {
            continue;
        };
        if !w.dtype().is_float() {
            continue;
        }
        smoke.check_time(&format!("probing `{name}`"))?;
        let x = probe_input(cols, smoke).map_err(Stop::forward)?;
        let t = Instant::now();
        let y = w
            .matmul(&x)
            .and_then(|y| y.to_dtype(DType::F32))
            .map_err(Stop::forward)?;
        let sum = y
            .sum_all()
            .and_then(|s| s.to_scalar::<f32>())
            .map_err(Stop::forward)?;
        seconds += t.elapsed().as_secs_f64();
        flops += 2.0 * (rows * cols * COLUMNS) as f64;
        check_output(&format!("`{name}` × probe"), &y)?;
        checksums.insert(name, format!("{sum:.4e}"));
    }
    if checksums.is_empty() {
        return Err(Stop::failed(
            "the revision has no 2-D float tensor for the generic probe",
        ));
    }
    let gflops = flops / seconds.max(1e-9) / 1e9;
    smoke.log.note(format!(
        "probed {} 2-D tensors: {gflops:.2} GFLOP/s",
        checksums.len()
    ));
    Ok(SmokeResult {
        architecture: "generic".into(),
        latency_ms: Some(seconds * 1e3),
        gflops: Some(gflops),
        fingerprint: json!({"checksums": checksums}),
        ..Default::default()
    })
}

/// `[cols, COLUMNS]` values in [-1, 1) from a fixed linear congruential sequence.
fn probe_input(cols: usize, smoke: &Smoke) -> candle_core::Result<Tensor> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let values: Vec<f32> = (0..cols * COLUMNS)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(values, (cols, COLUMNS), smoke.device)?.to_dtype(smoke.dtype)
}
