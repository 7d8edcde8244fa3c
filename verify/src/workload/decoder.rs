//! pp / tg for decoders, through the same forward step as the smoke inference.

use candle_core::Tensor;
use granary_core::api::Workload;

use super::{Part, choose, decoder_ladder, measure, token_ids};
use crate::outcome::{Result, Stop};
use crate::smoke::Smoke;
use crate::smoke::decode::{Logits, Step};

/// Runs the largest decoder workload that fits `positions` and the time left,
/// estimating each token at `secs_per_token` (the smoke decode's rate: prompt
/// tokens are cheaper, so this errs towards the smaller workload).
/// `step` must start a fresh sequence whenever it is called at position 0.
pub fn run_decoder(
    smoke: &mut Smoke,
    step: &mut Step,
    vocab: usize,
    positions: usize,
    secs_per_token: f64,
) -> Result<Option<Workload>> {
    let left = smoke
        .deadline
        .saturating_duration_since(std::time::Instant::now())
        .as_secs_f64();
    let Some((spec, reduced)) = choose(&decoder_ladder(), positions, secs_per_token, left) else {
        smoke.log.note(format!(
            "no workload run: even the smallest does not fit {positions} positions and {left:.0} s"
        ));
        return Ok(None);
    };
    if let Some(why) = &reduced {
        smoke
            .log
            .note(format!("smaller declared workload {}: {why}", spec.name()));
    }
    let device = smoke.device.clone();
    let ids = token_ids(spec.positions(), vocab);
    let input = |ids: &[u32]| Tensor::new(ids, &device)?.unsqueeze(0);
    let mut once = |part: Part| -> Result<()> {
        let mut run = || -> candle_core::Result<()> {
            match part {
                Part::Prompt { tokens } => {
                    step(&input(&ids[..tokens])?, 0, Logits::Last)?;
                }
                Part::Generate { tokens } => {
                    for (pos, id) in ids[..tokens].iter().enumerate() {
                        step(&input(&[*id])?, pos, Logits::Last)?;
                    }
                }
                Part::Encode { .. } => unreachable!("decoder workloads have no encode part"),
            }
            device.synchronize()
        };
        run().map_err(Stop::forward)
    };
    measure(smoke, &spec, reduced, &mut once).map(Some)
}
