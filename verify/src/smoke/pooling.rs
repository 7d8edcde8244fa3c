//! sentence-transformers' pooling of token states into one vector, over the
//! real tokens only: positions whose attention mask is 0 never count.

use candle_core::{D, DType, Result, Tensor};

/// A pooling mode of sentence-transformers' `Pooling` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Cls,
    Max,
    Mean,
    MeanSqrtLen,
    WeightedMean,
    LastToken,
}

impl Pooling {
    /// Every mode, in the order sentence-transformers concatenates them.
    pub const ALL: [Pooling; 6] = [
        Pooling::Cls,
        Pooling::Max,
        Pooling::Mean,
        Pooling::MeanSqrtLen,
        Pooling::WeightedMean,
        Pooling::LastToken,
    ];

    /// The name sentence-transformers gives it (`pooling_mode`), also used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Cls => "cls",
            Pooling::Max => "max",
            Pooling::Mean => "mean",
            Pooling::MeanSqrtLen => "mean_sqrt_len_tokens",
            Pooling::WeightedMean => "weightedmean",
            Pooling::LastToken => "lasttoken",
        }
    }

    /// Its switch in `1_Pooling/config.json`.
    pub fn config_key(self) -> &'static str {
        match self {
            Pooling::Cls => "pooling_mode_cls_token",
            Pooling::Max => "pooling_mode_max_tokens",
            Pooling::Mean => "pooling_mode_mean_tokens",
            Pooling::MeanSqrtLen => "pooling_mode_mean_sqrt_len_tokens",
            Pooling::WeightedMean => "pooling_mode_weightedmean_tokens",
            Pooling::LastToken => "pooling_mode_lasttoken",
        }
    }
}

/// Pools `states` (batch, tokens, hidden) under `mask` (batch, tokens; 1 for a
/// real token, 0 for padding, right-padded) into (batch, hidden × modes).
pub fn pool(states: &Tensor, mask: &Tensor, modes: &[Pooling]) -> Result<Tensor> {
    let mask = mask.to_dtype(states.dtype())?;
    let expanded = mask.unsqueeze(D::Minus1)?.broadcast_as(states.shape())?;
    let masked_sum = (states * &expanded)?.sum(1)?;
    // sentence-transformers clamps the count at 1e-9 so an empty input divides safely.
    let count = mask.sum_keepdim(1)?.clamp(1e-9, f64::INFINITY)?;
    let mut parts = Vec::with_capacity(modes.len());
    for mode in modes {
        parts.push(match mode {
            Pooling::Cls => states.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Max => {
                // Padding set far below any state, as sentence-transformers sets it to -1e9.
                let floor = ((expanded.ones_like()? - &expanded)? * -1e9)?;
                (states + floor)?.max(1)?
            }
            Pooling::Mean => masked_sum.broadcast_div(&count)?,
            Pooling::MeanSqrtLen => masked_sum.broadcast_div(&count.sqrt()?)?,
            Pooling::WeightedMean => {
                // Token i weighs i + 1.
                let tokens = states.dim(1)?;
                let positions = Tensor::arange(1u32, tokens as u32 + 1, states.device())?
                    .to_dtype(states.dtype())?
                    .unsqueeze(0)?;
                let weights = mask.broadcast_mul(&positions)?;
                let weighted = states
                    .broadcast_mul(&weights.unsqueeze(D::Minus1)?)?
                    .sum(1)?;
                weighted.broadcast_div(&weights.sum_keepdim(1)?.clamp(1e-9, f64::INFINITY)?)?
            }
            Pooling::LastToken => {
                let last = (mask.sum(1)? - 1.0)?.to_dtype(DType::U32)?;
                let index = last.unsqueeze(1)?.unsqueeze(2)?.broadcast_as((
                    states.dim(0)?,
                    1,
                    states.dim(2)?,
                ))?;
                states
                    .contiguous()?
                    .gather(&index.contiguous()?, 1)?
                    .squeeze(1)?
            }
        });
    }
    Tensor::cat(&parts, D::Minus1)
}

/// Divides each row by its L2 norm, as sentence-transformers' `Normalize` does.
pub fn l2_normalize(v: &Tensor) -> Result<Tensor> {
    let norm = v
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::INFINITY)?;
    v.broadcast_div(&norm)
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    /// Three tokens of two dimensions, the last one padding with states that
    /// would change every mode if it counted.
    fn states_and_mask() -> (Tensor, Tensor) {
        let states =
            Tensor::new(&[[[1f32, -2.0], [3.0, 4.0], [100.0, 100.0]]], &Device::Cpu).unwrap();
        let mask = Tensor::new(&[[1u32, 1, 0]], &Device::Cpu).unwrap();
        (states, mask)
    }

    fn pooled(mode: Pooling) -> Vec<f32> {
        let (states, mask) = states_and_mask();
        pool(&states, &mask, &[mode])
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn each_mode_pools_only_the_real_tokens() {
        assert_eq!(pooled(Pooling::Cls), [1.0, -2.0]);
        assert_eq!(pooled(Pooling::Max), [3.0, 4.0]);
        assert_eq!(pooled(Pooling::Mean), [2.0, 1.0]);
        let root2 = 2f32.sqrt();
        let sqrt_len = pooled(Pooling::MeanSqrtLen);
        assert!(
            (sqrt_len[0] - 4.0 / root2).abs() < 1e-6 && (sqrt_len[1] - 2.0 / root2).abs() < 1e-6
        );
        // Weights 1 and 2: (1·1 + 2·3) / 3 and (1·-2 + 2·4) / 3.
        let weighted = pooled(Pooling::WeightedMean);
        assert!((weighted[0] - 7.0 / 3.0).abs() < 1e-6 && (weighted[1] - 2.0).abs() < 1e-6);
        assert_eq!(pooled(Pooling::LastToken), [3.0, 4.0]);
    }

    #[test]
    fn modes_concatenate_in_order() {
        let (states, mask) = states_and_mask();
        let v = pool(&states, &mask, &[Pooling::Cls, Pooling::Mean]).unwrap();
        assert_eq!(
            v.squeeze(0).unwrap().to_vec1::<f32>().unwrap(),
            [1.0, -2.0, 2.0, 1.0]
        );
    }

    #[test]
    fn normalising_gives_unit_length() {
        let v = Tensor::new(&[[3f32, 4.0]], &Device::Cpu).unwrap();
        let n = l2_normalize(&v)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(n, [0.6, 0.8]);
    }
}
