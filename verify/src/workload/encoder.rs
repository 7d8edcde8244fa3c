//! Batch 1 and batch 32 at 128 tokens for encoders.

use std::time::Instant;

use granary_core::api::Workload;

use super::{Part, choose, encoder_ladder, measure};
use crate::outcome::Result;
use crate::smoke::{Encoder, Smoke};

/// Runs the largest encoder workload that fits the model's positions and the
/// time left, estimating the cost per token from one batch-1 pass at the
/// smallest workload's length.
pub fn run_encoder(smoke: &mut Smoke, encoder: &Encoder) -> Result<Option<Workload>> {
    let ladder = encoder_ladder();
    let positions = encoder.max_positions();
    let probe_tokens = ladder.iter().map(|s| s.positions()).min().unwrap_or(1);
    if probe_tokens > positions {
        smoke.log.note(format!(
            "no workload run: even the smallest needs {probe_tokens} positions; the model has {positions}"
        ));
        return Ok(None);
    }
    let t = Instant::now();
    encoder.forward_synthetic(1, probe_tokens)?;
    let secs_per_token = t.elapsed().as_secs_f64() / probe_tokens as f64;
    let left = smoke
        .deadline
        .saturating_duration_since(Instant::now())
        .as_secs_f64();
    let Some((spec, reduced)) = choose(&ladder, positions, secs_per_token, left) else {
        smoke
            .log
            .note(format!("no workload run: none fits the {left:.0} s left"));
        return Ok(None);
    };
    if let Some(why) = &reduced {
        smoke
            .log
            .note(format!("smaller declared workload {}: {why}", spec.name()));
    }
    let mut once = |part: Part| match part {
        Part::Encode { batch, tokens } => encoder.forward_synthetic(batch, tokens),
        _ => unreachable!("encoder workloads only encode"),
    };
    measure(smoke, &spec, reduced, &mut once).map(Some)
}
